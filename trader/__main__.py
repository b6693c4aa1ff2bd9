"""`python -m trader`: run a trader until SIGTERM or Ctrl-C (settings: trader.settings)."""

from __future__ import annotations

import logging
import signal
import threading

from sqlalchemy.orm import sessionmaker

from trader.run import share_polls
from trader.service import SessionRunner, Trader, load_runner
from trader.settings import TraderSettings, get_trader_settings
from trader.telemetry import serve_metrics
from velocitas import embedded
from velocitas.db.engine import get_engine
from velocitas.sessions.publisher import RedisPublisher, SessionPublisher
from velocitas.structured_logs import configure_logging

log = logging.getLogger("trader")


def main() -> None:
    settings = get_trader_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    configure_logging("trader", settings)
    if settings.trader_metrics_port is not None:
        serve_metrics(settings.trader_metrics_port, settings.trader_metrics_host)
    runner = _runner(settings)
    if runner is None:
        _idle()
        return
    sessions = sessionmaker(get_engine(settings), expire_on_commit=False)
    share_polls(sessions)
    trader = Trader(settings, sessions, runner, _publisher(settings))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: trader.stop())
    trader.run()


def _runner(settings: TraderSettings) -> SessionRunner | None:
    try:
        return load_runner(settings.trader_runner)
    except ModuleNotFoundError as exc:
        # A build without the session engine (trader.run) claims nothing rather than crash-loop
        # under `velocitas up`: the sessions wait, running, for a trader that can run them.
        log.error("no session runner %s (%s): claiming no session", settings.trader_runner, exc)
        return None


def _publisher(settings: TraderSettings) -> SessionPublisher:
    """Redis pub/sub for the WebSocket fan-out (best effort: the journal is the record)."""
    return RedisPublisher(embedded.redis_url(settings))


def _idle() -> None:
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    while not stopped.wait(3600):
        pass


if __name__ == "__main__":
    main()
