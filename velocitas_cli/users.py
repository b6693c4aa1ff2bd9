"""`velocitas user ...`: create users; each gets an API key, shown once."""

from __future__ import annotations

import typer

from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.errors import VelocitasError
from velocitas_cli.output import JsonOption, console, emit_json, fail

app = typer.Typer(help="Users and their API keys.", no_args_is_help=True)


@app.command()
def create(
    name: str = typer.Argument(..., help="A unique user name."), json: bool = JsonOption
) -> None:
    """Create user NAME and print its API key. The key is shown only this once: store it."""
    try:
        with session_scope() as session:
            created = create_user(session, name)
    except VelocitasError as exc:
        fail(exc)
    if json:
        emit_json(
            {"id": str(created.user.id), "name": created.user.name, "api_key": created.api_key}
        )
    else:
        console.print(f"user [bold]{created.user.name}[/] ({created.user.id})")
        console.print("API key (shown only once; send it as 'Authorization: Bearer <key>'):")
        console.print(created.api_key, highlight=False, markup=False)
