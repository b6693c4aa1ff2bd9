"""`gateway.http1.Pool`, the gateway's HTTP/1.1 client, against scripted servers: every framing
it reads, the kept-alive connection it reuses, and what it refuses to send or accept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from gateway.http1 import Pool, Reply, Unreachable
from tests.support.ports import free_port

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


def _run(
    script: Script, exchange: Callable[[Pool], Awaitable[object]], timeout: float = 5
) -> object:
    """Serve `script` per connection, and run `exchange` with a pool pointed at it."""

    async def main() -> object:
        server = await asyncio.start_server(script, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = Pool(f"http://127.0.0.1:{port}/base", timeout=timeout, max_connections=4)
        try:
            return await exchange(pool)
        finally:
            await pool.aclose()
            server.close()

    return asyncio.run(main())


def _answer_with(*replies: bytes) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for reply in replies:
            await _read_request(reader)
            writer.write(reply)
            await writer.drain()
        writer.close()

    return script


async def _get(pool: Pool) -> Reply:
    return await pool.request(b"GET", b"/x?a=1", [(b"authorization", b"Bearer k")], b"")


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
            b"hello",
        ),
        (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nTrailer: x\r\n\r\n",
            b"hello",
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello", b"hello"),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 5\r\n\r\nhello",
            b"hello",
        ),
    ],
    ids=["content-length", "chunked", "until-close", "interim-answer"],
)
def test_reads_each_framing(answer: bytes, body: bytes) -> None:
    reply = _run(_answer_with(answer), _get)
    assert reply == Reply(200, body, b"text/plain")


def test_sends_method_target_under_the_base_path_host_headers_and_body() -> None:
    received: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await _read_request(reader))
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        writer.close()

    async def post(pool: Pool) -> Reply:
        return await pool.request(b"POST", b"/p?q=1", [(b"content-type", b"a/b")], b"{}")

    assert _run(script, post) == Reply(204, b"", None)
    head, _, body = received[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /base/p?q=1 HTTP/1.1"
    assert set(lines[1:]) == {
        lines[1],  # host: 127.0.0.1:<port>
        b"content-type: a/b",
        b"content-length: 2",
    }
    assert lines[1].startswith(b"host: 127.0.0.1:")
    assert body == b"{}"


def test_reuses_a_kept_alive_connection() -> None:
    connections = 0
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _answer_with(ok, ok, ok)(reader, writer)

    async def three(pool: Pool) -> list[Reply]:
        return [await _get(pool) for _ in range(3)]

    assert _run(script, three) == [Reply(200, b"ok", None)] * 3
    assert connections == 1


def test_retries_once_on_a_new_connection_when_a_reused_one_closes_unanswered() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    connections = 0

    async def twice(pool: Pool) -> list[Reply]:
        first = await _get(pool)
        return [first, await _get(pool)]

    # The first connection reads the second request, then closes unanswered: the pool cannot
    # have seen the close coming, and must retry.
    async def script_reading_then_closing(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal connections
        connections += 1
        await _read_request(reader)
        writer.write(ok)
        await writer.drain()
        if connections == 1:
            await _read_request(reader)
        writer.close()

    assert _run(script_reading_then_closing, twice) == [Reply(200, b"ok", None)] * 2
    assert connections == 2


def test_a_garbled_or_cut_answer_is_unreachable() -> None:
    for answer in [
        b"SMTP ready\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"",
    ]:
        with pytest.raises(Unreachable):
            _run(_answer_with(answer), _get)


def test_nothing_listening_is_unreachable() -> None:
    async def main() -> None:
        pool = Pool(f"http://127.0.0.1:{free_port()}", timeout=5, max_connections=1)
        with pytest.raises(Unreachable):
            await _get(pool)

    asyncio.run(main())


def test_a_silent_service_times_out_and_its_connection_is_dropped() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers

    async def get(pool: Pool) -> None:
        with pytest.raises(TimeoutError):
            await _get(pool)
        assert pool._idle == []

    _run(silent, get, timeout=0.2)


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        (b"/x\r\nEvil: 1", []),
        (b"/x y", []),
        (b"/x", [(b"authorization", b"Bearer k\r\nEvil: 1")]),
        (b"/x", [(b"authorization", b"Bearer k\0")]),
    ],
)
def test_refuses_to_send_a_line_break_nul_or_space(
    target: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    async def send(pool: Pool) -> None:
        with pytest.raises(ValueError, match="CR, LF, NUL or a space"):
            await pool.request(b"GET", target, headers, b"")

    _run(_answer_with(), send)


def test_refuses_a_url_that_is_not_http() -> None:
    with pytest.raises(ValueError, match="not an http"):
        Pool("ftp://example.com", timeout=1, max_connections=1)
