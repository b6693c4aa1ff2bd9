"""The nginx config, run in a real nginx (Debian's package) in front of a live gateway."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
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


def render_config(tmp: Path, listen: int, upstream: int) -> Path:
    """The shipped config with only its addresses changed, wrapped in a minimal nginx.conf."""
    site = (REPO / "nginx" / "velocitas.conf").read_text()
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
    upstream, listen = free_port(), free_port()
    gateway_argv = uvicorn("gateway.main:app", upstream)
    gateway_env = python_env({"DATABASE_URL": database_url, "REDIS_URL": redis_url})
    conf = render_config(tmp_path, listen, upstream)
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
        yield f"http://127.0.0.1:{listen}"


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


def test_nginx_proxies_requests_to_the_gateway(proxied_gateway: str) -> None:
    response = httpx.get(f"{proxied_gateway}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert "nginx/" not in response.headers.get("server", "")  # server_tokens off


def test_nginx_rate_limits_a_client_above_ten_requests_per_second(proxied_gateway: str) -> None:
    with httpx.Client() as client:
        codes = [client.get(f"{proxied_gateway}/health").status_code for _ in range(60)]
    # burst 20 + ~10/s refill: a fast burst of 60 must see some 429s and keep the early ones.
    assert codes[:20] == [200] * 20
    assert codes.count(429) >= 20
