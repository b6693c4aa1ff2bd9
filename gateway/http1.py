"""A small pooled HTTP/1.1 client: what the gateway needs to relay a request to a service it
trusts, and nothing more. httpx cost the gateway 0.27 ms of event-loop CPU per proxied request,
more than half of what the oracle spends answering it; this costs a few tens of microseconds.

One `Pool` per service: kept-alive connections reused last-in first-out, at most
`max_connections` open, one `timeout` for the whole exchange (waiting for a connection included).
Replies framed by Content-Length, chunked, or by closing the connection are read in full (the
services answer small JSON documents; nothing is streamed). `request` raises `Unreachable` when
the service cannot be connected to or breaks the exchange, `TimeoutError` when it is too slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Pool", "Reply", "Unreachable"]


class Unreachable(Exception):
    """The service could not be connected to, or broke off or garbled its answer."""


class _NoAnswer(Unreachable):
    """The connection closed before a byte of the answer arrived."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A service's answer: status, body, and its Content-Type (None when it sent none)."""

    status: int
    body: bytes
    content_type: bytes | None


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Connections to the service at `base_url` (http or https; a path is a prefix)."""

    def __init__(self, base_url: str, *, timeout: float, max_connections: int) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._address = (url.hostname, url.port or (443 if url.scheme == "https" else 80))
        self._ssl = ssl.create_default_context() if url.scheme == "https" else None
        self._host = url.netloc.rpartition("@")[2].encode()
        self._prefix = url.path.rstrip("/").encode()
        self._timeout = timeout
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Connection] = []

    async def request(
        self, method: bytes, target: bytes, headers: Iterable[tuple[bytes, bytes]], body: bytes
    ) -> Reply:
        """Send `method target` (path and query, after the base URL's path) with `headers` and
        `body`, and return the answer. Raises `ValueError` for a CR, LF or NUL in any of them, or
        a space in `target`."""
        lines = [b"%s %s%s HTTP/1.1" % (method, self._prefix, target), b"host: " + self._host]
        lines += [name + b": " + value for name, value in headers]
        lines.append(b"content-length: %d" % len(body))
        head = b"\r\n".join(lines)
        # Only the line breaks we put in: one inside a value would smuggle a header or request.
        breaks = len(lines) - 1
        smuggled = head.count(b"\r") != breaks or head.count(b"\n") != breaks or b"\0" in head
        if smuggled or b" " in target:
            raise ValueError("a request line or header holds CR, LF, NUL or a space")
        message = head + b"\r\n\r\n" + body
        async with asyncio.timeout(self._timeout), self._slots:
            return await self._exchange(message)

    async def aclose(self) -> None:
        """Close the idle connections (those in use close when their exchange ends)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
        for connection in idle:
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()

    async def _exchange(self, message: bytes) -> Reply:
        while self._idle:
            connection = self._idle.pop()
            if not connection.usable():  # the service closed it while it was idle
                connection.close()
                continue
            try:
                return await self._send(connection, message)
            except _NoAnswer:
                break  # closed as we reused it (keep-alive timeout): once more, on a new one
        return await self._send(await self._connect(), message)

    async def _connect(self) -> _Connection:
        host, port = self._address
        try:
            reader, writer = await asyncio.open_connection(host, port, ssl=self._ssl)
        except OSError as exc:
            raise Unreachable(f"cannot connect to {host}:{port}: {exc}") from exc
        return _Connection(reader, writer)

    async def _send(self, connection: _Connection, message: bytes) -> Reply:
        reusable = False
        try:
            try:
                connection.writer.write(message)
                await connection.writer.drain()
            except ConnectionError as exc:
                raise _NoAnswer("connection lost while sending") from exc
            reply, reusable = await _read_reply(connection.reader)
        except _NoAnswer:
            raise
        except (OSError, EOFError, ValueError) as exc:  # reset, cut short, line too long
            raise Unreachable(f"the exchange broke off: {exc!r}") from exc
        finally:
            if reusable:
                self._idle.append(connection)
            else:
                connection.close()
        return reply


async def _read_reply(reader: asyncio.StreamReader) -> tuple[Reply, bool]:
    """The next answer on `reader`, and whether the connection may carry another request."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")  # one call: readline per header costs more
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise Unreachable("the connection closed inside the head") from exc
        raise _NoAnswer("connection closed") from exc
    except ConnectionError as exc:
        raise _NoAnswer("connection reset") from exc
    except asyncio.LimitOverrunError as exc:
        raise Unreachable("the answer's head is too long") from exc
    status_line, *fields = head[:-4].split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    code = rest[:3]
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or not code.isdigit():
        raise Unreachable(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    status = int(code)
    length: int | None = None
    chunked = False
    close = version == b"HTTP/1.0"
    content_type = None
    for field in fields:
        name, _, value = field.partition(b":")
        name, value = name.strip().lower(), value.strip()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = value.lower().endswith(b"chunked")
        elif name == b"connection":
            close = b"close" in value.lower()
        elif name == b"content-type":
            content_type = value
    if 100 <= status < 200:  # an interim answer (we send no Expect, but a service may): skip it
        return await _read_reply(reader)
    if status in (204, 304):
        body = b""
    elif chunked:
        body = await _read_chunked(reader)
    elif length is not None:
        body = await reader.readexactly(length)
    else:  # framed by closing the connection
        body, close = await reader.read(), True
    return Reply(status, body, content_type), not close


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while size := int((await reader.readline()).split(b";", 1)[0], 16):
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)  # the chunk's CRLF
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass  # trailers: nothing the gateway relays
    return b"".join(parts)
