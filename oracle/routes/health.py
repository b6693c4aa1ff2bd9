"""Liveness and readiness: which model is served, and the last reload problem if any."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from oracle.deps import HolderDep
from oracle.responses import json_response

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    responses={503: {"description": "No model is loaded yet (or every candidate was refused)."}},
)
def read_health(holder: HolderDep) -> Response:
    model = holder.current
    body: dict[str, Any] = {
        "status": "ok" if model else "unavailable",
        "model_version": model.version if model else None,
        "sha256": model.sha256 if model else None,
        "feature_spec_hash": model.feature_spec_hash if model else None,
        "loaded_at": model.loaded_at.isoformat() if model else None,
        "pinned": holder.settings.oracle_model_version is not None,
        "last_error": holder.last_error,
    }
    return json_response(body, status_code=200 if model else 503)
