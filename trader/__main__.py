"""`python -m trader`: run a trader until SIGTERM or Ctrl-C (settings: trader.settings)."""

from __future__ import annotations

import logging
import signal

from sqlalchemy.orm import sessionmaker

from trader.service import Trader, load_runner
from trader.settings import get_trader_settings
from trader.telemetry import serve_metrics
from velocitas.db.engine import get_engine
from velocitas.sessions.publisher import NullPublisher
from velocitas.structured_logs import configure_logging


def main() -> None:
    settings = get_trader_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    configure_logging("trader", settings)
    if settings.trader_metrics_port is not None:
        serve_metrics(settings.trader_metrics_port, settings.trader_metrics_host)
    sessions = sessionmaker(get_engine(settings), expire_on_commit=False)
    # The Redis publisher (velocitas.sessions.publisher) replaces NullPublisher once it lands.
    trader = Trader(settings, sessions, load_runner(settings.trader_runner), NullPublisher())
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: trader.stop())
    trader.run()


if __name__ == "__main__":
    main()
