"""The trader service: runs trading sessions (replay feed, paper broker, journal) under leases."""
