"""Users and API keys: create a user with a key, authenticate a presented key.

A key reads `vk_<prefix>_<secret>`. The prefix is random and not secret: it is stored in clear,
unique and indexed, so authenticating is one indexed lookup and then one argon2 verification of
the whole key against the stored hash. The key itself is shown once, at creation, and never stored.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from velocitas.db.models import ApiKey, UserAccount
from velocitas.domain.roles import Role
from velocitas.errors import Conflict, InvalidRequest, NotFound

__all__ = ["CreatedUser", "User", "authenticate", "create_user", "forget_cached_keys", "set_role"]

KEY_SCHEME = "vk"
_PREFIX_BYTES = 6  # 8 url-safe characters: a lookup handle, collision-checked by the unique index
_PREFIX_LENGTH = 8
_SECRET_BYTES = 32  # 256 bits of entropy
_CACHE_SECONDS = 30.0
_CACHE_MAX_ENTRIES = 10_000

_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class User:
    """An authenticated caller, with the role that says what else it may do."""

    id: uuid.UUID
    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class CreatedUser:
    """A new user and its API key in clear: the only time the key is ever available."""

    user: User
    api_key: str


def create_user(session: Session, name: str, role: Role = Role.USER) -> CreatedUser:
    """Create user `name` with one API key. Raises `Conflict` if the name is taken."""
    name = name.strip()
    if not name or len(name) > 64:
        raise InvalidRequest("a user name has 1 to 64 characters", field="name")
    account = UserAccount(id=uuid.uuid4(), name=name, role=role.value)
    prefix = secrets.token_urlsafe(_PREFIX_BYTES)
    key = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    try:
        with session.begin_nested():
            session.add(account)
            session.flush()
            session.add(ApiKey(user_id=account.id, prefix=prefix, key_hash=_hasher.hash(key)))
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a user named {name!r} already exists") from exc
    return CreatedUser(User(account.id, account.name, role), key)


def set_role(session: Session, name: str, role: Role) -> User:
    """Give user `name` the role `role`. Raises `NotFound` if there is no such user.

    Processes that verified one of the user's keys keep its old role until that verification
    leaves their cache, as a revoked key keeps working until then.
    """
    row = session.execute(
        update(UserAccount)
        .where(UserAccount.name == name.strip())
        .values(role=role.value)
        .returning(UserAccount.id, UserAccount.name)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no user named {name!r}")
    return User(row.id, row.name, role)


# Argon2 is slow and memory-hard on purpose (tens of milliseconds, many MiB per check), which is
# right for a leaked hash but wrong to pay on every REST call or WebSocket connect of a client
# that polls. So a verified key is remembered in this process for a few seconds, keyed by the
# sha256 of the key (never the key itself): a high-entropy key needs no slow hash to be safe in
# memory, and only keys that already passed argon2 get in. A revoked key stops working within
# `_CACHE_SECONDS` on every process.
_cache: dict[str, tuple[float, User]] = {}
_cache_lock = threading.Lock()


def forget_cached_keys() -> None:
    """Drop every remembered verification (tests; key revocation in this process)."""
    with _cache_lock:
        _cache.clear()


def authenticate(session: Session, presented: str) -> User | None:
    """The user owning the API key `presented`, or None if it is unknown, revoked or malformed."""
    digest = hashlib.sha256(presented.encode()).hexdigest()
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
    prefix = _prefix_of(presented)
    if prefix is None:
        return None
    row = session.execute(
        select(ApiKey.id, ApiKey.key_hash, UserAccount.id, UserAccount.name, UserAccount.role)
        .join(UserAccount, UserAccount.id == ApiKey.user_id)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
    ).one_or_none()
    if row is None:
        return None
    key_id, key_hash, user_id, user_name, role = row
    try:
        _hasher.verify(key_hash, presented)
    except (VerificationError, InvalidHashError):
        return None
    session.execute(
        update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=datetime.now(UTC))
    )
    user = User(user_id, user_name, Role(role))
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX_ENTRIES:
            _cache.clear()
        _cache[digest] = (now + _CACHE_SECONDS, user)
    return user


def _prefix_of(presented: str) -> str | None:
    scheme, sep, rest = presented.partition("_")
    if scheme != KEY_SCHEME or not sep:
        return None
    # token_urlsafe may itself contain "_", so the prefix is cut at its known length, not split.
    if len(rest) <= _PREFIX_LENGTH + 1 or rest[_PREFIX_LENGTH] != "_":
        return None
    return rest[:_PREFIX_LENGTH]
