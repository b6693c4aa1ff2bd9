"""`/walk-forwards`: in-sample optimisation, out-of-sample evaluation, stitched equity."""

from __future__ import annotations

from gateway.deps import SessionDep
from gateway.job_routes import JobDocs, add_children_route, add_equity_route, job_router
from gateway.policies import require_registered_models
from gateway.routes.backtests import validate_backtest
from gateway.schemas import WalkForwardCreate
from velocitas.domain.events import JobKind
from velocitas.errors import InvalidRequest
from velocitas.research.walk_forward_spec import WalkForwardSpec, validate


def validate_walk_forward(session: SessionDep, request: WalkForwardCreate) -> WalkForwardSpec:
    """The walk-forward as stored, after checking its base, grid and windows."""
    spec = WalkForwardSpec.model_validate(request.model_dump())
    validate_backtest(session, request.base)
    validate(spec)
    _require_grid_models(session, request)
    return spec


def _require_grid_models(session: SessionDep, request: WalkForwardCreate) -> None:
    """A policy's `model` varied by the grid: every version named must be registered too."""
    leg = request.base.legs[0]
    for version in request.grid.get("model", []):
        params = {**leg.strategy.params, "model": version}
        strategy = leg.strategy.model_copy(update={"params": params})
        base = request.base.model_copy(
            update={"legs": [leg.model_copy(update={"strategy": strategy})]}
        )
        try:
            require_registered_models(session, base)
        except InvalidRequest as exc:
            raise InvalidRequest(str(exc), field="grid.model") from exc


router = job_router(
    JobKind.WALK_FORWARD,
    "/walk-forwards",
    noun="walk_forward",
    request_model=WalkForwardCreate,
    prepare=validate_walk_forward,
    docs=JobDocs(
        create="Validate the base, the grid and the windows, queue the walk-forward.",
        list="The caller's walk-forwards, newest first.",
        read="Status and progress (folds done); once succeeded, folds, parameters and metrics.",
        delete="Cancel a queued or running walk-forward (a running one stops at its next fold).",
    ),
)
add_equity_route(
    router,
    JobKind.WALK_FORWARD,
    name="list_walk_forward_equity",
    doc="The stitched out-of-sample equity curve, one point per bar; page with `after`.",
)
add_children_route(
    router,
    JobKind.WALK_FORWARD,
    JobKind.FOLD,
    suffix="folds",
    name="list_walk_forward_folds",
    doc="The walk-forward's folds, one job each (its in-sample sweep, run on any worker): their\n"
    "status while it runs, and each one's chosen parameters once done.",
)
