"""The oracle's composition root: settings, the model holder and its registry watcher, routes.

Every route but `/health` takes the gateway's API keys (`Authorization: Bearer <key>`).
Run it with `uvicorn oracle.app:create_app --factory` (see docs/oracle.md)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from oracle.holder import ModelHolder, watch_registry
from oracle.routes import health, models, predict
from oracle.settings import OracleSettings, get_oracle_settings
from velocitas import __version__
from velocitas.access_log import redact_server_logs
from velocitas.http_limits import BodyLimit
from velocitas.http_metrics import HttpMetrics
from velocitas.key_guard import KeyChecker, KeyGuard
from velocitas.request_id import RequestId
from velocitas.structured_logs import configure_logging
from velocitas.web_errors import install_error_handlers


def create_app(settings: OracleSettings | None = None) -> FastAPI:
    settings = settings or get_oracle_settings()
    holder = ModelHolder(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(holder.refresh)
        watcher = None
        if settings.oracle_model_version is None:
            watcher = asyncio.create_task(watch_registry(holder), name="oracle-registry-watch")
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

    app = FastAPI(
        title="Velocitas oracle",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.holder = holder
    install_error_handlers(app)
    redact_server_logs()  # uvicorn logs URLs with their query: mask key-like values
    configure_logging("oracle", settings)  # JSON lines with the request id (LOG_FORMAT)
    # The same API keys as the gateway's (the gateway forwards its caller's), checked before
    # the body is read; the body's cap is the oracle's own.
    app.add_middleware(
        BodyLimit, limit=settings.oracle_max_body_bytes, setting="ORACLE_MAX_BODY_BYTES"
    )
    app.add_middleware(KeyGuard, checker=KeyChecker(settings))
    app.add_middleware(RequestId)  # the gateway's X-Request-ID, kept
    app.include_router(health.router)
    app.include_router(models.router)
    app.include_router(predict.router)
    # Outermost: every answer is counted, and `/metrics` needs no key (velocitas.http_metrics).
    app.add_middleware(HttpMetrics, templates=lambda: app.openapi()["paths"])
    return app
