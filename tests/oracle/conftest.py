"""Fixtures of the oracle tests: a registry with bundles, and an app serving them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from oracle.app import create_app
from oracle.settings import OracleSettings
from tests.oracle.factories import registered_bundle
from tests.support.keys import new_key_headers
from velocitas.db.accounts import forget_cached_keys
from velocitas.db.models_registry import ModelRecord, promote_model


@pytest.fixture
def production(database_url: str, tmp_path: Path) -> ModelRecord:
    """A registered bundle, promoted to production."""
    registered_bundle(tmp_path, "v1", seed=1)
    return promote_model("v1")


@pytest.fixture
def key_headers(database_url: str) -> dict[str, str]:
    """A user's key: every oracle route but /health takes the gateway's API keys."""
    forget_cached_keys()
    return new_key_headers()


@pytest.fixture
def client(production: ModelRecord, key_headers: dict[str, str]) -> Iterator[TestClient]:
    settings = OracleSettings(oracle_max_batch=8, oracle_max_body_bytes=4096)
    with TestClient(create_app(settings), headers=key_headers) as test_client:
        yield test_client
