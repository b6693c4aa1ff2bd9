"""Liveness (`/health`: the process answers, before the model has loaded) and readiness
(`/ready`: the database and its schema answer; see `velocitas.readiness`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from analyst.deps import AnalystDep
from velocitas.readiness import check_readiness

router = APIRouter(tags=["health"])


@router.get("/health")
def read_health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={503: {"description": "A check failed: `checks` names it and says why."}},
)
def read_readiness(analyst: AnalystDep) -> JSONResponse:
    readiness = check_readiness(analyst.settings)
    return JSONResponse(readiness.body(), status_code=readiness.status_code)
