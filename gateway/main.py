"""The gateway's composition root: it only wires routers, handlers, middleware and lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from gateway.proxy import ProxyRoutes, Relayed
from gateway.routes import (
    alerts,
    backtests,
    bars,
    catalog,
    events,
    health,
    history,
    models,
    news,
    predict,
    regimes,
    sentiment,
    sessions,
    sweeps,
    tournaments,
    walk_forwards,
    web,
)
from gateway.settings import GatewaySettings, get_gateway_settings
from gateway.telemetry import JobBacklog
from gateway.upstream import Upstream
from velocitas import __version__
from velocitas.access_log import redact_server_logs
from velocitas.http_limits import BodyLimit
from velocitas.http_metrics import HttpMetrics
from velocitas.key_guard import PUBLIC_PATHS, KeyChecker, KeyGuard
from velocitas.request_id import RequestId
from velocitas.strategies.policy import register_policy_strategy
from velocitas.structured_logs import configure_logging
from velocitas.web_errors import install_error_handlers


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway app; `settings` (tests) replace the environment's for every route."""
    chosen = settings or get_gateway_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = chosen.upstream_max_connections
        app.state.oracle = Upstream(
            "oracle", chosen.oracle_url, timeout=chosen.oracle_timeout_s, max_connections=pool
        )
        app.state.analyst = Upstream(
            "analyst", chosen.analyst_url, timeout=chosen.analyst_timeout_s, max_connections=pool
        )
        try:
            yield
        finally:
            await app.state.oracle.aclose()
            await app.state.analyst.aclose()

    app = FastAPI(title="Velocitas gateway", version=__version__, lifespan=lifespan)
    if settings is not None:
        app.dependency_overrides[get_gateway_settings] = lambda: settings
    register_policy_strategy()  # so specs naming a registered policy validate like any strategy
    install_error_handlers(app)
    redact_server_logs()  # uvicorn logs URLs with their query: mask key-like values
    configure_logging("gateway", chosen)  # JSON lines with the request and job ids (LOG_FORMAT)
    # Added last, runs first: the key is checked before the body's size, and both before the
    # application reads a byte of the body; then the routes the gateway only relays are
    # forwarded without FastAPI's routing (gateway.proxy).
    app.add_middleware(
        ProxyRoutes, routes={("POST", "/predict"): Relayed("oracle")}, state=app.state
    )
    app.add_middleware(
        BodyLimit,
        limit=chosen.max_body_bytes,
        setting="MAX_BODY_BYTES",
        routes={
            ("POST", "/bars"): (chosen.max_upload_bytes, "MAX_UPLOAD_BYTES"),
            ("POST", "/predict"): (chosen.oracle_max_body_bytes, "ORACLE_MAX_BODY_BYTES"),
        },
    )
    app.state.key_checker = KeyChecker()
    # The web app's page and shipped files answer without a key (gateway.routes.web).
    app.add_middleware(
        KeyGuard, checker=app.state.key_checker, public=PUBLIC_PATHS | web.public_paths()
    )
    app.add_middleware(RequestId)  # outermost: every answer, a refusal too, names its request
    app.include_router(health.router)
    app.include_router(backtests.router)
    app.include_router(sweeps.router)
    app.include_router(walk_forwards.router)
    app.include_router(tournaments.router)
    app.include_router(events.router)
    app.include_router(history.router)
    app.include_router(bars.router)
    app.include_router(predict.router)
    app.include_router(sentiment.router)
    app.include_router(news.router)
    app.include_router(alerts.router)
    app.include_router(regimes.router)
    app.include_router(sessions.router)
    app.include_router(catalog.router)
    app.include_router(models.router)
    app.include_router(web.router)
    app.mount(web.PREFIX, web.ASSETS, name="web")
    # Outermost: every answer is counted, the key guard's too, and `/metrics` needs no key
    # (velocitas.http_metrics); the backlog is read from PostgreSQL and Redis at each scrape.
    app.add_middleware(
        HttpMetrics, templates=lambda: app.openapi()["paths"], collectors=[JobBacklog()]
    )
    return app


app = create_app()
