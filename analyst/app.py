"""The analyst service: a composition root wiring routes, error handlers and the model.

Run: `uvicorn analyst.app:create_app --factory`. Every route but `/health` takes the
gateway's API keys (`Authorization: Bearer <key>`); a request body is capped at
`ANALYST_MAX_BODY_BYTES`. The embedding model loads once, in a background thread started with
the app (so `/health` answers at once and the first request does not pay the load), or is
passed in by tests; a request that comes before it has loaded waits for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from analyst.lazy_embeddings import LazyEmbeddings
from analyst.routes import health, news, sentiment
from analyst.sentiment import SentimentAnalyst, default_analyst
from analyst.settings import get_analyst_settings
from velocitas.access_log import redact_server_logs
from velocitas.http_limits import BodyLimit
from velocitas.http_metrics import HttpMetrics
from velocitas.key_guard import KeyChecker, KeyGuard
from velocitas.request_id import RequestId
from velocitas.structured_logs import configure_logging
from velocitas.web_errors import install_error_handlers


def create_app(analyst: SentimentAnalyst | None = None) -> FastAPI:
    factory = _once(lambda: analyst or default_analyst())
    settings = analyst.settings if analyst else get_analyst_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=_warm_up, args=(factory,), daemon=True, name="warm-up").start()
        yield

    app = FastAPI(title="Velocitas analyst", version="0.1.0", lifespan=lifespan)
    app.state.analyst_factory = factory
    install_error_handlers(app, root="query")
    redact_server_logs()  # uvicorn logs URLs with their query: mask key-like values
    configure_logging("analyst", settings)  # JSON lines with the request id (LOG_FORMAT)
    app.include_router(health.router)
    # The same API keys as the gateway's (the gateway forwards its caller's), checked before
    # the body is read.
    app.add_middleware(
        BodyLimit, limit=settings.analyst_max_body_bytes, setting="ANALYST_MAX_BODY_BYTES"
    )
    app.add_middleware(KeyGuard, checker=KeyChecker(settings))
    app.add_middleware(RequestId)  # the gateway's X-Request-ID, kept
    app.include_router(news.router)
    app.include_router(sentiment.router)
    # Outermost: every answer is counted, and `/metrics` needs no key (velocitas.http_metrics).
    app.add_middleware(HttpMetrics, templates=lambda: app.openapi()["paths"])
    return app


def _warm_up(factory: Callable[[], SentimentAnalyst]) -> None:
    try:
        embeddings = factory().embeddings
        if isinstance(embeddings, LazyEmbeddings):
            embeddings.load()  # commands load on demand; a service loads before requests come
    except Exception:  # the first request that needs the model reports the error itself
        logging.getLogger(__name__).warning("the analyst could not load its model", exc_info=True)


def _once(factory: Callable[[], SentimentAnalyst]) -> Callable[[], SentimentAnalyst]:
    lock = threading.Lock()
    built: list[SentimentAnalyst] = []

    def get() -> SentimentAnalyst:
        with lock:
            if not built:
                built.append(factory())
            return built[0]

    return get
