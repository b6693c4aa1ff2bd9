"""Liveness (`/health`: the process answers) and readiness (`/ready`: the database, its schema
and Redis answer; see `velocitas.readiness`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway.deps import SettingsDep
from velocitas.readiness import check_readiness

router = APIRouter(tags=["health"])


@router.get("/health")
def read_health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={503: {"description": "A check failed: `checks` names it and says why."}},
)
def read_readiness(settings: SettingsDep) -> JSONResponse:
    readiness = check_readiness(settings, redis_used=True)
    return JSONResponse(readiness.body(), status_code=readiness.status_code)
