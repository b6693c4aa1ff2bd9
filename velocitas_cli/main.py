"""The `velocitas` console script: one sub-command group per area, imported only when used.

Each area pulls in its own heavy dependencies (numba, SQLAlchemy, torch, sentence-transformers),
so importing them all up front made `velocitas --help` take over a second. The top-level group
knows each area by a name, the module that defines it and a one-line summary; it imports an
area only to run it (or to show its own help). `tests/velocitas_cli/test_main.py` holds the
summaries equal to the areas' own help and guards what `--help` imports.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

import typer
from typer import _click as click  # typer vendors its own click: its types are these
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True, slots=True)
class Area:
    """A sub-command: `module:attribute` is a Typer app (a group) or a function (a command)."""

    target: str
    summary: str


AREAS: dict[str, Area] = {
    "db": Area("velocitas_cli.db:app", "Database schema: migrate, inspect."),
    "data": Area(
        "velocitas_cli.data:app",
        "Market data: import bars, synthesise bars, list and delete series.",
    ),
    "backtest": Area(
        "velocitas_cli.backtest_sweep:backtest_app",
        "Backtests on stored bars: run one, list strategies.",
    ),
    "research": Area(
        "velocitas_cli.research:app", "Research modes over stored bars: tournaments, regimes."
    ),
    "session": Area(
        "velocitas_cli.session:app",
        "Trading sessions on a running gateway: start, list, show, pause, resume, stop, kill, "
        "watch.",
    ),
    "analyst": Area("velocitas_cli.analyst:app", "News analyst: ingest, search, sentiment."),
    "lab": Area(
        "velocitas_cli.lab:app",
        "Reinforcement-learning lab: train PPO policies, manage the model registry.",
    ),
    "copilot": Area(
        "velocitas_cli.copilot:app", "Copilot: alert rules and the alerts they raised."
    ),
    "user": Area("velocitas_cli.users:app", "Users, their roles and their API keys."),
    "up": Area(
        "velocitas_cli.up:up",
        "Start the gateway, oracle, analyst, N workers and M traders on the embedded (or "
        "configured) servers; restart whatever dies; Ctrl-C stops all.",
    ),
}


def load_area(name: str) -> click.Command:
    """Import area `name` and build its click command, named `name`."""
    module_name, _, attribute = AREAS[name].target.partition(":")
    target: Any = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        # A group even when it holds one command (`user create`), as `add_typer` made it.
        command: click.Command = typer.main.get_group(target)
    else:  # a plain function: one command
        single = typer.Typer()
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyAreas(TyperGroup):
    """The top-level group: lists the areas from `AREAS`, imports one only to run it."""

    _listing = False  # set while our own help is drawn: summaries suffice, nothing is imported

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(AREAS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in AREAS:
            return None
        if self._listing:
            return TyperCommand(cmd_name, help=AREAS[cmd_name].summary)
        return load_area(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args[:2] == ["backtest", "run"]:
            # Before the area is imported: a small run skips numba (velocitas_cli.small_runs).
            from velocitas_cli.small_runs import prefer_plain_python

            prefer_plain_python(args[2:])
        return super().resolve_command(ctx, args)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=LazyAreas,
    help="Velocitas: algorithmic-trading research run as a service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help for this one screen: rich's help renderer (with markdown) takes longer to
    # import than everything else `velocitas --help` does; each area keeps rich help.
    rich_markup_mode=None,
)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug output.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


if __name__ == "__main__":
    app()
