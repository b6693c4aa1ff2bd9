"""The `velocitas` console script: one sub-command group per area."""

from __future__ import annotations

import logging

import typer

from velocitas_cli import analyst, backtest, backtest_sweep, data, db, lab, up, users

app = typer.Typer(
    help="Velocitas: algorithmic-trading research run as a service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(data.app, name="data")
app.add_typer(backtest.app, name="backtest")
backtest.app.command("sweep")(backtest_sweep.sweep)
backtest.app.command("walk-forward")(backtest_sweep.walk_forward)
app.add_typer(analyst.app, name="analyst")
app.add_typer(lab.app, name="lab")
app.add_typer(users.app, name="user")
app.command("up")(up.up)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug output.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


if __name__ == "__main__":
    app()
