"""What every CLI test shares: real-shaped market data, and a registry left as found."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest
from backtesting.test import EURUSD, GOOG

from velocitas.ingest import import_table
from velocitas.strategies import registry
from velocitas.strategies.policy import PolicyStrategy


@pytest.fixture(autouse=True)
def policy_unregistered() -> Iterator[None]:
    """The CLI registers the `policy` strategy in its process; the registry is global."""
    yield
    registry.unregister(PolicyStrategy.name)
    PolicyStrategy.resolver = None


def _table(frame: object) -> pa.Table:
    rows = frame.reset_index()  # type: ignore[attr-defined]
    rows.columns = ["opened_at", "open", "high", "low", "close", "volume"]
    return pa.table(
        {
            "opened_at": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in rows["opened_at"]],
            **{c: [repr(float(v)) for v in rows[c]] for c in rows.columns[1:]},
        }
    )


@pytest.fixture
def goog(database_url: str) -> str:
    """backtesting.py's GOOG: 2,148 daily bars, 2004-08-19 to 2013-03-01, stored as `GOOG` 1d."""
    import_table(_table(GOOG), symbol="GOOG", timeframe="1d")
    return database_url


@pytest.fixture
def eurusd(database_url: str) -> str:
    """backtesting.py's EURUSD: 5,000 hourly bars from 2017-04-19, stored as `EURUSD` 1h."""
    import_table(_table(EURUSD), symbol="EURUSD", timeframe="1h")
    return database_url
