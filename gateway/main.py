"""The gateway's composition root: it only wires routers, handlers, middleware and lifespan."""

from __future__ import annotations

from fastapi import FastAPI

from gateway.routes import (
    backtests,
    bars,
    events,
    health,
    history,
    news,
    predict,
    sentiment,
    sweeps,
    walk_forwards,
)
from velocitas import __version__
from velocitas.access_log import redact_server_logs
from velocitas.strategies.policy import register_policy_strategy
from velocitas.web_errors import install_error_handlers


def create_app() -> FastAPI:
    app = FastAPI(title="Velocitas gateway", version=__version__)
    register_policy_strategy()  # so specs naming a registered policy validate like any strategy
    install_error_handlers(app)
    redact_server_logs()  # uvicorn logs URLs with their query: mask key-like values
    app.include_router(health.router)
    app.include_router(backtests.router)
    app.include_router(sweeps.router)
    app.include_router(walk_forwards.router)
    app.include_router(events.router)
    app.include_router(history.router)
    app.include_router(bars.router)
    app.include_router(predict.router)
    app.include_router(sentiment.router)
    app.include_router(news.router)
    return app


app = create_app()
