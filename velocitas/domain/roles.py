"""Roles: what an account may do beyond reading and running its own jobs.

Every user reads the shared market data and owns their jobs. Writing the shared market data
changes every user's backtests, so it takes a role that an operator grants on purpose:

    user          read market data, run and read their own jobs (the default)
    data-writer   also upload bars (`POST /bars`) and news (the analyst's `POST /news`)
    admin         everything a data-writer may do (and whatever later needs more)

Each role grants every right of the roles before it in that order.
"""

from __future__ import annotations

import shlex
from enum import StrEnum

__all__ = ["Role"]


class Role(StrEnum):
    USER = "user"
    DATA_WRITER = "data-writer"
    ADMIN = "admin"

    def grants(self, needed: Role) -> bool:
        """Whether an account with this role may do what `needed` is required for."""
        order = list(Role)
        return order.index(self) >= order.index(needed)

    def refusal(self, user_name: str, needed: Role, action: str) -> str | None:
        """Why user `user_name`, with this role, may not do `action` (which needs `needed`),
        naming the roles that may and the command that grants one; None if they may."""
        if self.grants(needed):
            return None
        allowed = " or ".join(repr(role.value) for role in Role if role.grants(needed))
        grant = f"velocitas user role {shlex.quote(user_name)} {needed.value}"
        return (
            f"{action} needs the role {allowed}; user {user_name!r} has {self.value!r} "
            f"(an operator grants it: `{grant}`)"
        )
