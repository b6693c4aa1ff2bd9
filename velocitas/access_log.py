"""Server logs without secrets in URLs.

uvicorn logs every request's path with its query string (`uvicorn.access`) and every WebSocket
handshake's (`uvicorn.error`), so a key a client put in a URL (`/ws?key=...`) would sit in the
logs of whoever reads them. Keys belong in the `Authorization` header (or the WebSocket's first
message); each service refuses them in a URL where it matters, and `redact_server_logs`, called
by every HTTP service's app factory, masks the value of any key-like query parameter
(`SECRET_QUERY_PARAMETERS`) in those two loggers' records whatever launched the server
(`velocitas up`, `uvicorn ...` in a container, tests).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote_plus

__all__ = [
    "REDACTED",
    "SECRET_QUERY_PARAMETERS",
    "RedactSecrets",
    "names_a_secret",
    "redact_query",
    "redact_server_logs",
]

SECRET_QUERY_PARAMETERS = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "api-key",
        "token",
        "access_token",
        "auth",
        "authorization",
        "bearer",
        "secret",
        "password",
    }
)
"""Query parameter names (compared case-insensitively) whose values are credentials."""

REDACTED = "[redacted]"

_PARAMETER = re.compile(r"(?P<lead>(?:^|[?&;])(?P<name>[^=&;#?\s\"']+)=)(?P<value>[^&;#\s\"']*)")
_SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")


def names_a_secret(parameters: Iterable[str]) -> bool:
    """Whether any of these query parameter names is one that carries a credential."""
    return any(name.lower() in SECRET_QUERY_PARAMETERS for name in parameters)


def redact_query(text: str) -> str:
    """`text` with the value of every key-like query parameter replaced by `REDACTED`
    (`/ws?key=abc&x=1` -> `/ws?key=[redacted]&x=1`)."""
    if "=" not in text:
        return text

    def mask(match: re.Match[str]) -> str:
        # Names are compared decoded: `k%65y=` is `key=` to the application.
        if unquote_plus(match.group("name")).lower() in SECRET_QUERY_PARAMETERS:
            return match.group("lead") + REDACTED
        return match.group(0)

    return _PARAMETER.sub(mask, text)


class RedactSecrets(logging.Filter):
    """Masks key-like query values in a record's message and string arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_server_logs() -> None:
    """Install `RedactSecrets` on uvicorn's loggers (idempotent). uvicorn configures logging
    before it imports the app, and configuring keeps a logger's filters, so installing from
    the app factory covers every way of starting the server."""
    for name in _SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
