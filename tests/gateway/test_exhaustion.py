"""Little traffic, some without a key, cannot exhaust a real gateway process (issue 12):
huge bodies are refused before they are read, wrong secrets cost a bounded number of argon2
checks and earn 429s, and concurrent first uses of a key verify it once."""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import Account
from tests.support.ports import free_port
from tests.support.processes import python_env, running, uvicorn, wait_for_http

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

MiB = 1 << 20
BODY_BYTES = 300 * MiB
_CHUNK = b"0" * MiB  # one buffer, sent again and again: the test allocates no 300 MB


@pytest.fixture
def gateway(platform_env: str, database_url: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A real gateway process on this test's database; its URL and pid."""
    port = free_port()
    argv = uvicorn("tests.gateway.instrumented:app", port, "--log-level", "warning")
    env = python_env({"DATABASE_URL": database_url})
    with running(argv, env, log=tmp_path / "gateway.log") as process:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/health", process)
        yield url, process.pid


def _peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # the high-water mark: no sampling can miss the peak
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _send_huge_body(port: int, path: str, headers: dict[str, str], *, chunked: bool) -> int | None:
    """POST a 300 MB body of zeros, declared or chunked, until the server answers; its status
    (None if it closed without one)."""
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY_BYTES}")
    frame = f"{MiB:x}\r\n".encode() + _CHUNK + b"\r\n" if chunked else _CHUNK
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.settimeout(0.5)
        sent = 0
        try:
            while sent < BODY_BYTES and not select.select([sock], [], [], 0)[0]:
                try:
                    sock.sendall(frame)
                    sent += MiB
                except TimeoutError:
                    pass  # the server is not reading: look for its answer
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(60)
        try:
            status_line = sock.recv(4096).split(b"\r\n", 1)[0]
        except ConnectionResetError:
            return None
    return int(status_line.split()[1]) if status_line else None


def test_three_300_mb_bodies_leave_the_gateway_under_500_mb(
    gateway: tuple[str, int], alice: Account
) -> None:
    url, pid = gateway
    port = int(url.rsplit(":", 1)[1])
    bodies = [
        ("/backtests", {}, False),  # no key, declared length
        ("/backtests", alice.headers, True),  # a key, chunked past the 1 MiB cap
        ("/bars?symbol=X&timeframe=1h", alice.headers, False),  # past the 64 MiB upload cap
    ]

    async def all_at_once() -> list[int | None]:
        return await asyncio.gather(
            *(
                asyncio.to_thread(_send_huge_body, port, path, headers, chunked=chunked)
                for path, headers, chunked in bodies
            )
        )

    statuses = asyncio.run(all_at_once())
    assert statuses[0] == 401
    assert statuses[1] in (413, None)  # refused mid-stream: the answer may race the reset
    assert statuses[2] == 413
    assert _peak_rss_bytes(pid) < 500 * MiB
    assert httpx.get(f"{url}/backtests", headers=alice.headers).status_code == 200


def _argon2_checks(url: str, account: Account) -> int:
    response = httpx.get(f"{url}/test/argon2-checks", headers=account.headers)
    assert response.status_code == 200, response.text
    return int(response.json()["checks"])


def test_two_hundred_concurrent_submits_with_a_new_key_verify_it_once(
    gateway: tuple[str, int], alice: Account, bob: Account
) -> None:
    url, _ = gateway
    before = _argon2_checks(url, bob)

    async def submit_all() -> list[int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
            answers = await asyncio.gather(
                *(client.post("/backtests", json={}, headers=alice.headers) for _ in range(200))
            )
        return [answer.status_code for answer in answers]

    statuses = asyncio.run(submit_all())
    assert set(statuses) == {422}  # every one authenticated (and its empty spec refused)
    assert _argon2_checks(url, bob) - before == 1


def test_wrong_secrets_for_a_known_prefix_cost_bounded_argon2_and_earn_429(
    gateway: tuple[str, int], alice: Account, bob: Account
) -> None:
    url, _ = gateway
    assert httpx.get(f"{url}/backtests", headers=alice.headers).status_code == 200
    before = _argon2_checks(url, bob)
    prefix = alice.key[: len("vk_") + 8 + 1]
    flood: list[int] = []
    others: list[int] = []
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=60) as client:
        for n in range(30):  # 10 per second, as the attacker sent
            wrong = {"Authorization": f"Bearer {prefix}{n:043d}"}
            flood.append(client.get("/backtests", headers=wrong).status_code)
            others.append(client.get("/backtests", headers=bob.headers).status_code)
            time.sleep(0.1)
    elapsed = time.monotonic() - started
    refills = int(elapsed / 5) + 1  # the prefix budget and the client's allowance refill slowly
    checks = _argon2_checks(url, bob) - before
    assert set(others) == {200}  # the other user is served throughout
    assert set(flood) <= {401, 429}
    assert checks <= 3 + refills  # the prefix's burst, then one per 5 s: not one per request
    assert flood.count(429) >= 30 - 10 - refills
    limited = httpx.get(f"{url}/backtests", headers={"Authorization": f"Bearer {prefix}{0:043d}"})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert httpx.get(f"{url}/backtests", headers=alice.headers).status_code == 200
