"""The web app: `GET /` is its page, `/web/...` its files (gateway/web/, every asset shipped in
the repository, so the page works offline). Both answer without a key: the page holds no data,
and asks the user for a key that every API call then sends (docs/web.md).

`public_paths()` lists exactly these paths for `KeyGuard`, read once from the folder at start-up,
so a path that is not a shipped file still needs the key (and answers 401, not 404, to a caller
without one, like every API path).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS", "PREFIX", "WEB_DIR", "public_paths", "router"]

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
"""The app's files: index.html, app modules, styles and the vendored chart library."""

PREFIX = "/web"

# The page may only load what the gateway serves and talk to the gateway (its REST API and
# `/ws`); the chart library sets element styles from script, which `style-src` allows.
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self' ws: wss:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)

ASSETS = StaticFiles(directory=WEB_DIR, follow_symlink=False)
"""Mounted at `PREFIX` by the gateway's composition root."""


@router.get("/")
def read_app() -> FileResponse:
    """The single page; it loads its modules from `/web/`."""
    return FileResponse(
        WEB_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": _POLICY, "Cache-Control": "no-cache"},
    )


def public_paths() -> frozenset[str]:
    """`/` and the path of every file the app ships, as the key guard compares them."""
    files = (p for p in WEB_DIR.rglob("*") if p.is_file())
    return frozenset({"/"} | {f"{PREFIX}/{p.relative_to(WEB_DIR).as_posix()}" for p in files})
