"""Roles: what an account may do beyond reading and running its own jobs.

Every user reads the shared market data and owns their jobs. Writing the shared market data
changes every user's backtests, so it takes a role that an operator grants on purpose:

    user          read market data, run and read their own jobs (the default)
    data-writer   also upload bars (`POST /bars`)
    admin         everything a data-writer may do (and whatever later needs more)

Each role grants every right of the roles before it in that order.
"""

from __future__ import annotations

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
