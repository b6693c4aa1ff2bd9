"""`velocitas lab ...`: train, list, promote and evaluate reinforcement-learning policies."""

from __future__ import annotations

from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from velocitas.errors import InvalidRequest, VelocitasError
from velocitas_cli.backtest import fail_naming_option
from velocitas_cli.backtest_spec import ExecutionOptions, execution_options, execution_spec
from velocitas_cli.output import JsonOption, console, emit_json, fail, table

app = typer.Typer(
    help="Reinforcement-learning lab: train PPO policies, manage the model registry.",
    no_args_is_help=True,
)

REPORT_METRICS = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "trade_count",
    "exposure",
    "fees_paid",
)


def _net_arch(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidRequest(
            f"{text!r} is not a comma-separated list of widths", field="net-arch"
        ) from None
    if not widths or min(widths) < 1:
        raise InvalidRequest("give at least one positive layer width", field="net-arch")
    return widths


@app.command()
@execution_options
def train(
    symbol: str = typer.Option(..., help="Symbol whose bars to train on."),
    timeframe: str = typer.Option(..., help="Bar timeframe, e.g. 1h."),
    train_window: str = typer.Option(..., "--train", help="Training window START:END."),
    validate_window: str = typer.Option(..., "--validate", help="Validation window START:END."),
    timesteps: int = typer.Option(50_000, min=1, help="PPO environment steps."),
    seed: int = typer.Option(0, help="Seed of everything random (same seed, same weights)."),
    reward: str = typer.Option("pnl", help="pnl | log_return | differential_sharpe."),
    action_mode: str = typer.Option("discrete", help="discrete (hold/buy/sell) | box."),
    episode_bars: int = typer.Option(2048, min=2, help="Bars per training episode."),
    net_arch: str = typer.Option("64,64", help="Hidden layer widths of actor and critic."),
    n_steps: int = typer.Option(512, min=2, help="PPO rollout length."),
    batch_size: int = typer.Option(64, min=2, help="PPO minibatch size."),
    eval_every: int | None = typer.Option(None, help="Validate every N steps (default n_steps)."),
    sentiment: bool = typer.Option(False, help="Fill the sentiment feature from the analyst."),
    json: bool = JsonOption,
    *,
    execution: ExecutionOptions,
) -> None:
    """Train PPO on a symbol's bars, keep the best validated checkpoint, register it.

    The execution options (--cash, --fee, --slippage, stops, sizing, --allow-short, ...) are
    those of `velocitas backtest run`: the environment trades through the same engine rules."""
    from lab.env import EnvConfig
    from lab.pipeline import Window, train_and_register
    from lab.training import PPOConfig, TrainConfig

    try:
        if reward not in ("pnl", "log_return", "differential_sharpe"):
            raise InvalidRequest(f"unknown reward {reward!r}", field="reward")
        if action_mode not in ("discrete", "box"):
            raise InvalidRequest(f"unknown action mode {action_mode!r}", field="action-mode")
        train_range = Window.parse(train_window, "train")
        validate_range = Window.parse(validate_window, "validate")
        spec = execution_spec(symbol, timeframe, execution)
        config = TrainConfig(
            symbol=symbol,
            timeframe=spec.timeframe,
            train_start=train_range.start,
            train_end=train_range.end,
            validate_start=validate_range.start,
            validate_end=validate_range.end,
            timesteps=timesteps,
            seed=seed,
            execution=spec,
            env=EnvConfig(episode_bars=episode_bars, reward=reward, action_mode=action_mode),  # type: ignore[arg-type]
            ppo=PPOConfig(n_steps=n_steps, batch_size=batch_size, net_arch=_net_arch(net_arch)),
            eval_every=eval_every,
            sentiment=sentiment,
        )
    except VelocitasError as error:
        fail_naming_option(error)
    try:
        with Progress(
            TextColumn("training"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=json,
        ) as progress:
            task = progress.add_task("train", total=timesteps)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=min(done, total))

            record = train_and_register(config, on_progress)
    except VelocitasError as error:
        fail(error)
    if json:
        emit_json(record.to_dict())
        return
    validation = record.metrics.get("validation", {})
    console.print(f"registered [bold]{record.version}[/] (candidate)")
    console.print(f"bundle: {record.path}  sha256 {record.sha256}")
    table(
        "Validation (best checkpoint)",
        [{"metric": k, "value": _fmt(validation.get(k))} for k in REPORT_METRICS],
    )


@app.command("models")
def list_models(
    symbol: str | None = typer.Option(None, help="Only this symbol."),
    stage: str | None = typer.Option(None, help="candidate | production."),
    json: bool = JsonOption,
) -> None:
    """List registered models, newest first."""
    from velocitas.db import models_registry

    try:
        records = models_registry.list_models(symbol=symbol, stage=stage)
    except VelocitasError as error:
        fail(error)
    if json:
        emit_json([r.to_dict() for r in records])
        return
    rows = [
        {
            "version": r.version,
            "stage": r.stage,
            "symbol": r.symbol,
            "timeframe": r.timeframe,
            "validation return": _fmt(r.metrics.get("validation", {}).get("total_return")),
            "created": r.created_at.isoformat() if r.created_at else "",
        }
        for r in records
    ]
    table(
        "Models", rows, ["version", "stage", "symbol", "timeframe", "validation return", "created"]
    )


@app.command()
def promote(
    version: str = typer.Argument(..., help="Model version."), json: bool = JsonOption
) -> None:
    """Make VERSION the production model (the previous one goes back to candidate)."""
    from velocitas.db import models_registry

    try:
        record = models_registry.promote_model(version)
    except VelocitasError as error:
        fail(error)
    if json:
        emit_json(record.to_dict())
    else:
        console.print(f"[bold]{record.version}[/] is in production")


@app.command()
def evaluate(
    version: str = typer.Argument(..., help="Model version."),
    test: str = typer.Option(..., help="Held-out window START:END."),
    json: bool = JsonOption,
) -> None:
    """Back-test a policy on held-out bars beside buy-and-hold and the best rule strategy."""
    from lab.pipeline import Window, evaluate_model

    try:
        comparison = evaluate_model(version, Window.parse(test, "test"))
    except VelocitasError as error:  # BundleError included: a ConfigurationError
        fail(error)
    columns: dict[str, Any] = {
        f"policy {version}": comparison.policy,
        "buy_and_hold": comparison.buy_and_hold,
    }
    if comparison.best_rule is not None:
        columns[f"best rule: {comparison.best_rule_name}"] = comparison.best_rule
    if json:
        emit_json(
            {
                "version": version,
                "policy": comparison.policy.to_dict(include_equity=False),
                "buy_and_hold": comparison.buy_and_hold.to_dict(include_equity=False),
                "best_rule": {
                    "name": comparison.best_rule_name,
                    "result": comparison.best_rule.to_dict(include_equity=False)
                    if comparison.best_rule
                    else None,
                },
                "rule_returns": comparison.rules,
            }
        )
        return
    rows = [
        {"metric": metric, **{name: _fmt(r.metrics.get(metric)) for name, r in columns.items()}}
        for metric in REPORT_METRICS
    ]
    rows.append(
        {"metric": "final_equity", **{n: f"{r.final_equity:.2f}" for n, r in columns.items()}}
    )
    table(f"Evaluation on {test}", rows, ["metric", *columns])


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
