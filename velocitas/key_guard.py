"""API keys checked before anything else runs: the one guard the gateway, the oracle and the
analyst install, so the same key opens all three and a request without one costs nothing.

`KeyGuard` is plain ASGI middleware (no web framework imported). For every HTTP request outside
its `public` paths it reads `Authorization: Bearer <key>` and answers, before the application
(and before any body is read):

- 401 `{"detail": "missing or invalid API key"}` with `WWW-Authenticate: Bearer`;
- 429 with `Retry-After` when this client has failed too often (`FailureLimiter`), or when the
  key's prefix has spent its argon2 budget (`velocitas.db.accounts.KeyThrottled`);
- 503 with `Retry-After` when the database cannot be asked.

Otherwise the caller's `User` is put in the request scope (`scope_user` reads it) and the
application runs. WebSockets pass through: they may authenticate with a first message, and
use `KeyChecker.check` themselves.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy.exc import DBAPIError

from velocitas.db.accounts import KeyThrottled, User, authenticate, cached_user, known_key
from velocitas.db.engine import session_scope
from velocitas.http_errors import DATABASE_DOWN, RETRY_AFTER_S
from velocitas.http_limits import ASGIApp, FailureLimiter, Receive, Scope, Send, header, send_json
from velocitas.settings import Settings

__all__ = [
    "INVALID_KEY",
    "PUBLIC_PATHS",
    "KeyChecker",
    "KeyGuard",
    "Refusal",
    "bearer_key",
    "client",
    "scope_user",
]

PUBLIC_PATHS = frozenset(
    {"/health", "/ready", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)
"""Paths that answer without a key: liveness, readiness and the API's own description."""

_SCOPE_KEY = "velocitas.user"
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a key was not accepted, as an HTTP answer."""

    status: int
    detail: str
    retry_after: int | None = None

    @property
    def headers(self) -> list[tuple[str, str]]:
        if self.status == 401:
            return [("www-authenticate", "Bearer")]
        return [("retry-after", str(self.retry_after))] if self.retry_after else []


INVALID_KEY = Refusal(401, "missing or invalid API key")


class KeyChecker:
    """Checks presented keys against the users' database (`settings`, or the environment's),
    counting each client's failures in `limiter`."""

    def __init__(
        self,
        settings: Settings | Callable[[], Settings] | None = None,
        limiter: FailureLimiter | None = None,
    ) -> None:
        self._settings = settings
        self.limiter = limiter or FailureLimiter()

    async def check(self, key: str, client: str) -> User | Refusal:
        """The user owning `key`, or why not; argon2 and the database run off the event loop.
        A key this process has verified before is never refused for its client's failures."""
        if not key:
            return INVALID_KEY  # nothing was tried, nothing is counted
        user = cached_user(key)
        if user is not None:
            return user
        if not known_key(key) and (wait := self.limiter.retry_after(client)) is not None:
            return Refusal(429, "too many failed authentications from this client", wait)
        try:
            user = await anyio.to_thread.run_sync(self._authenticate, key)
        except KeyThrottled as exc:
            self.limiter.record_failure(client)
            return Refusal(429, "too many failed authentications for this key", _whole(exc))
        except DBAPIError:
            _log.warning("API key check failed: database error", exc_info=True)
            return Refusal(503, DATABASE_DOWN, RETRY_AFTER_S)
        if user is None:
            self.limiter.record_failure(client)
            return INVALID_KEY
        return user

    def _authenticate(self, key: str) -> User | None:
        settings = self._settings() if callable(self._settings) else self._settings
        with session_scope(settings) as session:
            return authenticate(session, key)


class KeyGuard:
    """Refuses every HTTP request outside `public` without a valid key (see the module doc)."""

    def __init__(
        self, app: ASGIApp, *, checker: KeyChecker, public: Iterable[str] = PUBLIC_PATHS
    ) -> None:
        self.app = app
        self.checker = checker
        self.public = frozenset(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        verdict = await self.checker.check(
            bearer_key(header(scope, b"authorization")), client(scope)
        )
        if isinstance(verdict, Refusal):
            await send_json(send, verdict.status, {"detail": verdict.detail}, verdict.headers)
            return
        scope[_SCOPE_KEY] = verdict
        await self.app(scope, receive, send)


def bearer_key(authorization: str | None) -> str:
    """The key of an `Authorization: Bearer <key>` header; "" for anything else."""
    scheme, _, key = (authorization or "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


def client(scope: Scope) -> str:
    """Who is asking, for counting failures: the peer's address (behind a proxy, uvicorn's
    `--proxy-headers` and `FORWARDED_ALLOW_IPS` make it the original client's)."""
    peer = scope.get("client")
    return str(peer[0]) if peer else "unknown"


def scope_user(scope: Scope) -> User | None:
    """The user `KeyGuard` authenticated for this request, if it did."""
    user = scope.get(_SCOPE_KEY)
    return user if isinstance(user, User) else None


def _whole(exc: KeyThrottled) -> int:
    return max(1, math.ceil(exc.retry_after))
