"""`velocitas research ...`: research modes on stored bars."""

from __future__ import annotations

import typer

from velocitas_cli.research_regimes import regimes

app = typer.Typer(help="Research modes: market regimes.", no_args_is_help=True)
app.command("regimes")(regimes)
