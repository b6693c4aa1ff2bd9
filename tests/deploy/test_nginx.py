"""The nginx config, run in a real nginx (Debian's package) in front of a live gateway."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

if NGINX is None:
    if os.environ.get("CI"):
        raise RuntimeError("nginx is required in CI (scripts/test installs Debian's package)")
    pytest.skip(
        "nginx is not installed (scripts/test installs it when run as root)",
        allow_module_level=True,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], deadline_s: float = 90.0) -> None:
    """Until `url` answers; generous, as a loaded CI machine imports the gateway slowly."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {deadline_s}s")


def render_config(tmp: Path, listen: int, upstream: int) -> Path:
    """The shipped config with only its addresses changed, wrapped in a minimal nginx.conf."""
    site = (ROOT / "nginx" / "velocitas.conf").read_text()
    assert "server gateway:8000;" in site
    assert "listen 80;" in site
    site = site.replace("server gateway:8000;", f"server 127.0.0.1:{upstream};")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    site = site.replace("/var/log/nginx/access.log", str(tmp / "access.log"))
    (tmp / "site.conf").write_text(site)
    main = f"""
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""
    path = tmp / "nginx.conf"
    path.write_text(main)
    return path


@pytest.fixture
def proxied_gateway(tmp_path: Path, database_url: str, redis_url: str) -> Iterator[str]:
    upstream, listen = _free_port(), _free_port()
    gateway_log = (tmp_path / "gateway.log").open("wb")
    gateway = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "gateway.main:app", "--port", str(upstream)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url},
        stdout=gateway_log,
        stderr=subprocess.STDOUT,
    )
    conf = render_config(tmp_path, listen, upstream)
    nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        _wait_http(f"http://127.0.0.1:{upstream}/health", gateway)
        _wait_http(f"http://127.0.0.1:{listen}/health", nginx)
        yield f"http://127.0.0.1:{listen}"
    finally:
        nginx.terminate()
        gateway.terminate()
        nginx.wait(10)
        gateway.wait(10)
        gateway_log.close()


def test_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    conf = render_config(tmp_path, _free_port(), _free_port())
    result = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_nginx_proxies_requests_to_the_gateway(proxied_gateway: str) -> None:
    response = httpx.get(f"{proxied_gateway}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert "nginx/" not in response.headers.get("server", "")  # server_tokens off


def test_nginx_rate_limits_a_client_above_ten_requests_per_second(proxied_gateway: str) -> None:
    time.sleep(3)  # let the bucket drain from the fixture's own probes
    with httpx.Client() as client:
        codes = [client.get(f"{proxied_gateway}/health").status_code for _ in range(60)]
    # burst 20 + ~10/s refill: a fast burst of 60 must see some 429s and keep the early ones.
    assert codes[:20] == [200] * 20
    assert codes.count(429) >= 20
