"""A trader's metrics (one process: its threads share the default registry), served on
`http://TRADER_METRICS_HOST:TRADER_METRICS_PORT/metrics`. The journal's append latency,
`velocitas_session_journal_append_seconds`, is `velocitas.telemetry`'s (every appender's)."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, start_http_server

from velocitas.telemetry import scrape_registry

__all__ = [
    "BARS",
    "LEASES_LOST",
    "LEASE_TAKEOVERS",
    "SESSIONS_RUNNING",
    "SLOTS",
    "serve_metrics",
]

log = logging.getLogger(__name__)

SESSIONS_RUNNING = Gauge(
    "velocitas_trader_sessions_running", "Sessions this trader holds a lease on and runs now."
)
SLOTS = Gauge("velocitas_trader_slots", "Sessions this trader may run at once (TRADER_SLOTS).")
BARS = Counter(
    "velocitas_trader_bars_total",
    "Bars the sessions this trader runs have replayed (from each session's bars_done at every "
    "heartbeat): rate() is the bars per second.",
)
LEASE_TAKEOVERS = Counter(
    "velocitas_trader_lease_takeovers_total",
    "Sessions claimed from another trader whose lease had expired (it died or stalled).",
)
LEASES_LOST = Counter(
    "velocitas_trader_leases_lost_total",
    "Leases found held by another trader at a renewal or an append: the session was stopped.",
)


def serve_metrics(port: int, host: str) -> None:
    start_http_server(port, addr=host, registry=scrape_registry())
    log.info("metrics on http://%s:%d/metrics", host, port)
