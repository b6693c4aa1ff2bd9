"""`/sweeps`: a parameter grid run as child backtests over the workers, ranked at the end."""

from __future__ import annotations

from pydantic import ValidationError

from gateway.deps import SessionDep
from gateway.job_routes import JobDocs, add_children_route, job_router
from gateway.policies import require_registered_models
from gateway.routes.backtests import validate_backtest
from gateway.schemas import SweepCreate
from velocitas.domain.events import JobKind
from velocitas.engine.spec import BacktestSpec
from velocitas.errors import InvalidRequest
from velocitas.research.sweeps import SweepSpec, expand
from velocitas.strategies import registry


def validate_sweep(session: SessionDep, request: SweepCreate) -> SweepSpec:
    """The sweep as stored, after checking every run of the grid would be accepted alone."""
    # Only the objective fields the client set: SweepSpec maps the deprecated ones and refuses
    # a field given under both names.
    unset = {"objective", "direction", "rank_by", "descending"} - request.model_fields_set
    try:
        spec = SweepSpec.model_validate(request.model_dump(mode="json", exclude=unset))
    except ValidationError as exc:
        raise InvalidRequest(exc.errors()[0]["msg"], field="grid") from exc
    validate_backtest(session, request.base)
    if request.leg >= len(request.base.legs):
        raise InvalidRequest(f"the base has {len(request.base.legs)} leg(s)", field="leg")
    for index, (params, child) in enumerate(expand(spec)):
        try:
            run = BacktestSpec.model_validate(child)
            leg = run.legs[request.leg]
            registry.build(leg.strategy.name, leg.strategy.params)
            require_registered_models(session, run)
        except ValidationError as exc:
            raise InvalidRequest(
                f"run {index} ({params}): {exc.errors()[0]['msg']}", field="grid"
            ) from exc
        except InvalidRequest as exc:
            raise InvalidRequest(f"run {index} ({params}): {exc}", field="grid") from exc
    return spec


router = job_router(
    JobKind.SWEEP,
    "/sweeps",
    noun="sweep",
    request_model=SweepCreate,
    prepare=validate_sweep,
    docs=JobDocs(
        create="Validate every run of the grid, queue the sweep; its runs fan out over the "
        "workers.",
        list="The caller's sweeps, newest first.",
        read="Status and progress (finished runs / runs); once succeeded, the ranking.",
        delete="Cancel the sweep and every run not finished yet.",
    ),
)
add_children_route(
    router,
    JobKind.SWEEP,
    JobKind.BACKTEST,
    suffix="runs",
    name="list_sweep_runs",
    doc="The sweep's runs: backtest jobs, each readable at `/backtests/{id}`.",
)
