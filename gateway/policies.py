"""Model references in a spec, checked at submit: a `policy` strategy (alone or as an
ensemble member) must name a registered model trained on the run's timeframe, or the job
would only fail inside the worker after the 202."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy.orm import Session

from velocitas.db.models.lab import Model
from velocitas.engine.spec import BacktestSpec
from velocitas.errors import InvalidRequest

__all__ = ["require_registered_models"]


def require_registered_models(session: Session, spec: BacktestSpec, *, prefix: str = "") -> None:
    """`InvalidRequest` naming the field (`legs[0].strategy.params.model`, under `prefix`) of
    the first model version that is not registered, or was trained on other bars."""
    for index, leg in enumerate(spec.legs):
        where = f"{prefix}legs[{index}].strategy"
        for field, version in _model_refs(leg.strategy.name, leg.strategy.params, where):
            model = session.get(Model, version) if isinstance(version, str) else None
            if model is None:
                raise InvalidRequest(f"no registered model with version {version!r}", field=field)
            if model.timeframe != spec.timeframe:
                raise InvalidRequest(
                    f"model {version!r} was trained on {model.timeframe} bars, not "
                    f"{spec.timeframe}",
                    field=field,
                )


def _model_refs(name: Any, params: Mapping[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    if name == "policy":
        yield f"{where}.params.model", params.get("model")
    elif name == "ensemble":
        for index, member in enumerate(params.get("members") or []):
            if isinstance(member, Mapping):
                member_params = member.get("params") or {}
                yield from _model_refs(
                    member.get("name"), member_params, f"{where}.params.members[{index}]"
                )
