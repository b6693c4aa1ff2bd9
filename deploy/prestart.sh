#!/bin/sh
# Run once before the services start: wait for PostgreSQL, then migrate to the newest schema.
set -eu
tries=0
until velocitas db upgrade; do
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then echo "database not reachable after $tries attempts" >&2; exit 1; fi
  sleep 2
done
