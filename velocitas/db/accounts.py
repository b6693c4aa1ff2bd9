"""Users and API keys: create a user with a key, authenticate a presented key.

A key reads `vk_<prefix>_<secret>`. The prefix is random and not secret: it is stored in clear,
unique and indexed, so authenticating is one indexed lookup and then one argon2 verification of
the whole key against the stored hash. The key itself is shown once, at creation, and never stored.
"""

from __future__ import annotations

import hashlib
import re
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

__all__ = [
    "CreatedUser",
    "KeyThrottled",
    "User",
    "argon2_checks",
    "authenticate",
    "cached_user",
    "create_user",
    "forget_cached_keys",
    "known_key",
    "set_role",
]

KEY_SCHEME = "vk"
_PREFIX_BYTES = 6  # 8 url-safe characters: a lookup handle, collision-checked by the unique index
_PREFIX_LENGTH = 8
_SECRET_BYTES = 32  # 256 bits of entropy

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
# that polls, and a weapon in the hands of one who sends wrong secrets. So, in this process:
#
# - a verified key is remembered for `_CACHE_SECONDS`, keyed by the sha256 of the key (never the
#   key itself: a 256-bit key needs no slow hash to be safe in memory); a revoked key stops
#   working within that time on every process;
# - past that, a key that once passed argon2 against the stored hash still in the database skips
#   argon2 (the row is read again, so revocation and rotation still count);
# - a key that failed is remembered as failed for `_FAILURE_SECONDS`: repeating it costs nothing;
# - one key is verified at most once at a time (single flight): concurrent requests carrying the
#   same unverified key wait for the one verification;
# - each key prefix has a small budget of argon2 checks (`_PrefixBudget`), refunded by a success:
#   wrong secrets for a known prefix cost one argon2 per `_FAILURE_SECONDS`, not one per request;
#   past it `KeyThrottled` says when to retry. A correct key is never turned away for its
#   prefix's failures once this process has verified it, and a new one has the budget's burst.
_CACHE_SECONDS = 30.0
_CACHE_MAX_ENTRIES = 10_000
_FAILURE_SECONDS = 5.0
_PREFIX_BURST = 3
_INFLIGHT_WAIT_S = 30.0
_MAX_KEY_LENGTH = 128
_KEY_CHARACTERS = re.compile(r"[A-Za-z0-9_-]+")


class KeyThrottled(Exception):
    """Too many argon2 checks for this key's prefix just now: retry in `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed authentications; retry in {retry_after:.0f} s")
        self.retry_after = retry_after


class _PrefixBudget:
    """A token bucket: `_PREFIX_BURST` checks, one more every `_FAILURE_SECONDS`."""

    __slots__ = ("tokens", "updated_at")

    def __init__(self, now: float) -> None:
        self.tokens = float(_PREFIX_BURST)
        self.updated_at = now

    def take(self, now: float) -> float | None:
        """Take one check; None if granted, else the seconds until one is."""
        self.tokens = min(
            float(_PREFIX_BURST), self.tokens + (now - self.updated_at) / _FAILURE_SECONDS
        )
        self.updated_at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return (1.0 - self.tokens) * _FAILURE_SECONDS

    def refund(self) -> None:
        self.tokens = min(float(_PREFIX_BURST), self.tokens + 1.0)


_clock = time.monotonic  # tests freeze it
_lock = threading.Lock()
_cache: dict[str, tuple[float, User]] = {}
_verified: dict[str, str] = {}  # key digest -> the stored argon2 hash it passed
_failed: dict[str, float] = {}  # key digest -> until when it is known wrong
_inflight: dict[str, threading.Event] = {}
_budgets: dict[str, _PrefixBudget] = {}
_argon2_checks = 0


def forget_cached_keys() -> None:
    """Drop every remembered verification and failure (tests; key revocation in this process)."""
    with _lock:
        _cache.clear()
        _verified.clear()
        _failed.clear()
        _budgets.clear()


def argon2_checks() -> int:
    """How many argon2 verifications this process has run (tests and benchmarks count them)."""
    return _argon2_checks


def cached_user(presented: str) -> User | None:
    """The user of `presented` if this process verified it in the last `_CACHE_SECONDS`: no
    database, no argon2, cheap enough for the event loop."""
    if _prefix_of(presented) is None:
        return None
    digest = _digest(presented)
    with _lock:
        hit = _cache.get(digest)
    return hit[1] if hit is not None and hit[0] > _clock() else None


def known_key(presented: str) -> bool:
    """Whether this process verified `presented` before (its revocation is still checked)."""
    if _prefix_of(presented) is None:
        return False
    digest = _digest(presented)
    with _lock:
        return digest in _verified


def authenticate(session: Session, presented: str) -> User | None:
    """The user owning the API key `presented`, or None if it is unknown, revoked or malformed.
    Raises `KeyThrottled` when its prefix has spent its argon2 budget (see above)."""
    prefix = _prefix_of(presented)
    if prefix is None:
        return None
    digest = _digest(presented)
    deadline = _clock() + _INFLIGHT_WAIT_S
    while True:
        with _lock:
            now = _clock()
            hit = _cache.get(digest)
            if hit is not None and hit[0] > now:
                return hit[1]
            if _failed.get(digest, 0.0) > now:
                return None
            running = _inflight.get(digest)
            if running is None:
                running = _inflight[digest] = threading.Event()
                break
        # Another request is verifying this very key: its answer is ours (or, if it could not
        # answer, the next loop takes its place).
        if not running.wait(max(deadline - _clock(), 0.0)):
            raise KeyThrottled(1.0)
    try:
        user = _verify(session, prefix, presented, digest)
    finally:
        with _lock:
            del _inflight[digest]
        running.set()
    return user


def _verify(session: Session, prefix: str, presented: str, digest: str) -> User | None:
    row = session.execute(
        select(ApiKey.id, ApiKey.key_hash, UserAccount.id, UserAccount.name, UserAccount.role)
        .join(UserAccount, UserAccount.id == ApiKey.user_id)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
    ).one_or_none()
    if row is None:
        _remember_failure(digest)
        return None
    key_id, key_hash, user_id, user_name, role = row
    with _lock:
        known = _verified.get(digest) == key_hash
    if not known and not _argon2(prefix, key_hash, presented):
        _remember_failure(digest)
        return None
    session.execute(
        update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=datetime.now(UTC))
    )
    user = User(user_id, user_name, Role(role))
    with _lock:
        if len(_cache) >= _CACHE_MAX_ENTRIES:
            _cache.clear()
        if len(_verified) >= _CACHE_MAX_ENTRIES:
            _verified.clear()
        _cache[digest] = (_clock() + _CACHE_SECONDS, user)
        _verified[digest] = key_hash
    return user


def _argon2(prefix: str, key_hash: str, presented: str) -> bool:
    global _argon2_checks
    with _lock:
        now = _clock()
        if len(_budgets) >= _CACHE_MAX_ENTRIES:
            _budgets.clear()
        budget = _budgets.setdefault(prefix, _PrefixBudget(now))
        wait = budget.take(now)
        if wait is not None:
            raise KeyThrottled(wait)
        _argon2_checks += 1
    try:
        _hasher.verify(key_hash, presented)
    except (VerificationError, InvalidHashError):
        return False
    with _lock:
        budget.refund()
    return True


def _remember_failure(digest: str) -> None:
    with _lock:
        now = _clock()
        if len(_failed) >= _CACHE_MAX_ENTRIES:
            for stale in [d for d, until in _failed.items() if until <= now]:
                del _failed[stale]
            if len(_failed) >= _CACHE_MAX_ENTRIES:
                _failed.clear()
        _failed[digest] = now + _FAILURE_SECONDS


def _digest(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def _prefix_of(presented: str) -> str | None:
    # A key is short ASCII: anything else (a megabyte, NUL, a lone surrogate) is no key, refused
    # before it is hashed or reaches the database.
    if len(presented) > _MAX_KEY_LENGTH or not _KEY_CHARACTERS.fullmatch(presented):
        return None
    scheme, sep, rest = presented.partition("_")
    if scheme != KEY_SCHEME or not sep:
        return None
    # token_urlsafe may itself contain "_", so the prefix is cut at its known length, not split.
    if len(rest) <= _PREFIX_LENGTH + 1 or rest[_PREFIX_LENGTH] != "_":
        return None
    return rest[:_PREFIX_LENGTH]
