"""`velocitas db ...`: migrate whichever database is configured (or the embedded one)."""

from __future__ import annotations

import typer

from velocitas import embedded
from velocitas.db import migrate
from velocitas_cli.output import JsonOption, console, emit_json

app = typer.Typer(help="Database schema: migrate, inspect.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head"), json: bool = JsonOption) -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    migrate.upgrade(revision)
    current = migrate.current_revision()
    if json:
        emit_json({"revision": current})
    else:
        console.print(f"database at revision [bold]{current}[/]")


@app.command()
def downgrade(revision: str = typer.Argument(..., help="Target revision, or 'base'.")) -> None:
    """Migrate the database down to REVISION."""
    migrate.downgrade(revision)
    console.print(f"database at revision [bold]{migrate.current_revision()}[/]")


@app.command()
def url(json: bool = JsonOption) -> None:
    """Print the database URL in use (starting the embedded server if none is configured)."""
    value = embedded.database_url()
    if json:
        emit_json({"database_url": value})
    else:
        console.print(value, highlight=False)
