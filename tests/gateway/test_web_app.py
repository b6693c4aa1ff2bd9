"""The web app is served by the gateway: `/` and its shipped files need no key, nothing else
does; the vendored chart library is exactly the one the manifest names."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi.testclient import TestClient

from gateway.routes.web import WEB_DIR, public_paths
from tests.gateway.conftest import Account

VENDORED = [WEB_DIR / "vendor", Path(__file__).resolve().parents[1] / "web" / "vendor"]


def test_page_and_assets_answer_without_a_key(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in (
        "/web/js/main.js",
        "/web/app.css",
        "/web/vendor/lightweight-charts.standalone.production.js",
    ):
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert answer.content == (WEB_DIR / asset.removeprefix("/web/")).read_bytes()
    assert client.get("/web/js/main.js").headers["content-type"].startswith("text/javascript")


def test_every_file_the_page_references_is_shipped(client: TestClient) -> None:
    page = client.get("/").text
    for path in (
        "/web/app.css",
        "/web/js/main.js",
        "/web/vendor/lightweight-charts.standalone.production.js",
    ):
        assert f'"{path}"' in page
    imports = [
        line.split('from "')[1].split('"')[0]
        for js in (WEB_DIR / "js").rglob("*.js")
        for line in js.read_text().splitlines()
        if line.startswith("import ") and 'from "' in line
    ]
    assert imports, "the modules import each other"
    assert all(not i.startswith(("http:", "https:", "//")) for i in imports)  # offline: no CDN


def test_the_api_still_needs_the_key(client: TestClient, alice: Account) -> None:
    assert client.get("/backtests").status_code == 401
    assert client.get("/web/not-shipped.js").status_code == 401  # not a file: the guard's answer
    assert client.get("/backtests", headers=alice.headers).status_code == 200


def test_public_paths_are_the_page_and_its_files() -> None:
    paths = public_paths()
    assert "/" in paths
    assert "/web/js/main.js" in paths
    assert all(p == "/" or p.startswith("/web/") for p in paths)


def test_vendored_files_match_their_manifest() -> None:
    for folder in VENDORED:
        manifest = json.loads((folder / "MANIFEST.json").read_text())
        listed = {entry["file"] for entry in manifest}
        shipped = {p.name for p in folder.iterdir()} - {"MANIFEST.json"}
        assert listed == shipped, folder
        for entry in manifest:
            digest = hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest()
            assert digest == entry["sha256"], entry["file"]
            assert entry["version"]
            assert entry["license"] in {"Apache-2.0", "MPL-2.0"}
