"""Liveness (`/health`: the process answers, with the model it serves and the last reload
problem) and readiness (`/ready`: the database and its schema answer and a model is loaded)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from oracle.deps import HolderDep
from oracle.responses import json_response
from velocitas.readiness import OK, Readiness, check_readiness

router = APIRouter(tags=["health"])


@router.get("/health")
def read_health(holder: HolderDep) -> Response:
    model = holder.current
    body: dict[str, Any] = {
        "status": "ok",
        "model_version": model.version if model else None,
        "sha256": model.sha256 if model else None,
        "feature_spec_hash": model.feature_spec_hash if model else None,
        "loaded_at": model.loaded_at.isoformat() if model else None,
        "pinned": holder.settings.oracle_model_version is not None,
        "last_error": holder.last_error,
    }
    return json_response(body)


@router.get(
    "/ready",
    responses={503: {"description": "A check failed: `checks` names it and says why."}},
)
def read_readiness(holder: HolderDep) -> Response:
    checks = check_readiness(holder.settings).checks
    checks["model"] = OK if holder.current else "none loaded yet (`/health` says why)"
    readiness = Readiness(checks)
    return json_response(readiness.body(), status_code=readiness.status_code)
