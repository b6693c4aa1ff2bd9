"""`velocitas user ...`: create users (each gets an API key, shown once) and set their role."""

from __future__ import annotations

import typer

from velocitas.db.accounts import User, create_user, set_role
from velocitas.db.engine import session_scope
from velocitas.domain.roles import Role
from velocitas.errors import VelocitasError
from velocitas_cli.output import JsonOption, console, emit_json, fail

app = typer.Typer(help="Users, their roles and their API keys.", no_args_is_help=True)

_ROLES_HELP = (
    "user: read market data, run own jobs; data-writer: also upload bars (POST /bars); "
    "admin: everything"
)
RoleOption = typer.Option(Role.USER, "--role", help=_ROLES_HELP)
RoleArgument = typer.Argument(..., help=_ROLES_HELP)


@app.command()
def create(
    name: str = typer.Argument(..., help="A unique user name."),
    role: Role = RoleOption,
    json: bool = JsonOption,
) -> None:
    """Create user NAME and print its API key. The key is shown only this once: store it."""
    try:
        with session_scope() as session:
            created = create_user(session, name, role)
    except VelocitasError as exc:
        fail(exc)
    if json:
        emit_json({**_public(created.user), "api_key": created.api_key})
    else:
        console.print(f"user [bold]{created.user.name}[/] ({created.user.id}), role {role.value}")
        console.print("API key (shown only once; send it as 'Authorization: Bearer <key>'):")
        console.print(created.api_key, highlight=False, markup=False)


@app.command("role")
def change_role(
    name: str = typer.Argument(..., help="An existing user's name."),
    role: Role = RoleArgument,
    json: bool = JsonOption,
) -> None:
    """Give user NAME the role ROLE (running gateways apply it within 30 s, their key cache)."""
    try:
        with session_scope() as session:
            user = set_role(session, name, role)
    except VelocitasError as exc:
        fail(exc)
    if json:
        emit_json(_public(user))
    else:
        console.print(f"user [bold]{user.name}[/] ({user.id}) now has role {user.role.value}")


def _public(user: User) -> dict[str, str]:
    return {"id": str(user.id), "name": user.name, "role": user.role.value}
