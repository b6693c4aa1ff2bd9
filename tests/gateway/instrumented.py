"""The gateway app plus one route that says how many argon2 checks the process has run, for
tests that prove the key checks are bounded (`uvicorn tests.gateway.instrumented:app`)."""

from __future__ import annotations

from gateway.main import create_app
from velocitas.db.accounts import argon2_checks

app = create_app()


@app.get("/test/argon2-checks")
def read_argon2_checks() -> dict[str, int]:
    return {"checks": argon2_checks()}
