"""The nginx config, run in a real nginx (Debian's package) in front of a live gateway."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.ports import accepts_connections, free_port
from tests.support.processes import REPO, python_env, running, uvicorn, wait_for_http
from tests.support.waiting import wait_until

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

if NGINX is None:
    if os.environ.get("CI"):
        raise RuntimeError("nginx is required in CI (scripts/test installs Debian's package)")
    pytest.skip(
        "nginx is not installed (scripts/test installs it when run as root)",
        allow_module_level=True,
    )


def self_signed_certificate(directory: Path) -> None:
    """fullchain.pem and privkey.pem for `localhost`, as an operator mounts into `certs`."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make the test's certificate"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-keyout", str(directory / "privkey.pem"),
            "-out", str(directory / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip


def render_config(tmp: Path, listen: int, upstream: int, plain: int | None = None) -> Path:
    """The shipped config with only its addresses changed, wrapped in a minimal nginx.conf:
    HTTPS on `listen`, the redirecting port 80 on `plain`, the certificates in `tmp`."""
    site = (REPO / "nginx" / "velocitas.conf").read_text()
    for shipped in ("server gateway:8000;", "listen 80;", "listen 443 ssl http2;"):
        assert shipped in site
    site = site.replace("server gateway:8000;", f"server 127.0.0.1:{upstream};")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{plain or free_port()};")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{listen} ssl http2;")
    site = site.replace("/etc/nginx/certs", str(tmp))
    site = site.replace("/var/log/nginx/access.log", str(tmp / "access.log"))
    self_signed_certificate(tmp)
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


@dataclass(frozen=True)
class Proxy:
    https: str
    http: str
    logs: Path


@pytest.fixture
def proxied_gateway(tmp_path: Path, database_url: str, redis_url: str) -> Iterator[Proxy]:
    upstream, listen, plain = free_port(), free_port(), free_port()
    gateway_argv = uvicorn("gateway.main:app", upstream)
    gateway_env = python_env({"DATABASE_URL": database_url, "REDIS_URL": redis_url})
    conf = render_config(tmp_path, listen, upstream, plain)
    nginx_argv = [NGINX, "-p", str(tmp_path), "-c", str(conf)]
    with (
        running(gateway_argv, gateway_env, tmp_path / "gateway.log", stop_timeout=10) as gateway,
        running(nginx_argv, os.environ, tmp_path / "nginx.out", stop_timeout=10) as nginx,
    ):
        # Generous: a loaded CI machine imports the gateway slowly.
        wait_for_http(f"http://127.0.0.1:{upstream}/health", gateway, timeout=90)
        # nginx is ready once it listens. No request is sent to find out, so the rate limit's
        # bucket is still empty when the test starts.
        wait_until(
            lambda: _listening(nginx, listen), timeout=90, message=f"nginx listened on {listen}"
        )
        yield Proxy(f"https://127.0.0.1:{listen}", f"http://127.0.0.1:{plain}", tmp_path)


def _listening(nginx: subprocess.Popen[bytes], port: int) -> bool:
    if nginx.poll() is not None:
        raise AssertionError(f"nginx exited with {nginx.returncode}")
    return accepts_connections(port)


def test_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    conf = render_config(tmp_path, free_port(), free_port())
    result = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_nginx_proxies_https_requests_to_the_gateway(proxied_gateway: Proxy) -> None:
    response = httpx.get(f"{proxied_gateway.https}/health", verify=False)  # self-signed
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert "nginx/" not in response.headers.get("server", "")  # server_tokens off
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_nginx_redirects_plain_http_to_https(proxied_gateway: Proxy) -> None:
    response = httpx.get(f"{proxied_gateway.http}/backtests?limit=5")
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://127.0.0.1")
    assert response.headers["location"].endswith("/backtests?limit=5")


def test_nginx_passes_a_request_id_to_the_gateway(proxied_gateway: Proxy) -> None:
    given = httpx.get(
        f"{proxied_gateway.https}/health", headers={"X-Request-ID": "edge-1"}, verify=False
    )
    assert given.headers["x-request-id"] == "edge-1"
    made = httpx.get(f"{proxied_gateway.https}/health", verify=False)
    assert len(made.headers["x-request-id"]) == 32  # nginx's $request_id, kept by the gateway
    assert "edge-1" in (proxied_gateway.logs / "access.log").read_text()


def test_nginx_rate_limits_a_client_above_ten_requests_per_second(proxied_gateway: Proxy) -> None:
    with httpx.Client(verify=False) as client:
        codes = [client.get(f"{proxied_gateway.https}/health").status_code for _ in range(60)]
    # burst 20 + ~10/s refill: a fast burst of 60 must see some 429s and keep the early ones.
    assert codes[:20] == [200] * 20
    assert codes.count(429) >= 20
