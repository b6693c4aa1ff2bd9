"""The analyst's metrics: how long retrieval from pgvector takes.

`velocitas_analyst_retrieval_seconds` times the vector search alone (the query against
PostgreSQL, connecting included), not embedding the query or scoring the articles found.
"""

from __future__ import annotations

from prometheus_client import Histogram

from velocitas.telemetry import LATENCY_BUCKETS

__all__ = ["RETRIEVAL"]

RETRIEVAL = Histogram(
    "velocitas_analyst_retrieval_seconds",
    "Time of one point-in-time vector search in PostgreSQL (pgvector).",
    buckets=LATENCY_BUCKETS,
)
