"""`GET /models` for any user, `POST /models/{version}/promote` for admins only."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.gateway.conftest import Account, register_model_row
from velocitas.domain.roles import Role


def test_models_list_the_registry_without_server_paths(client: TestClient, alice: Account) -> None:
    assert client.get("/models", headers=alice.headers).json() == []
    register_model_row("SYN-1h-v1")
    body = client.get("/models", headers=alice.headers).json()
    assert [(m["version"], m["stage"]) for m in body] == [("SYN-1h-v1", "candidate")]
    assert "path" not in body[0]


def test_promote_is_for_admins_and_demotes_the_previous_model(
    client: TestClient, alice: Account, make_account: Callable[..., Account]
) -> None:
    admin = make_account("root", Role.ADMIN)
    register_model_row("SYN-1h-v1")
    register_model_row("SYN-1h-v2")
    refused = client.post("/models/SYN-1h-v1/promote", headers=alice.headers)
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"]
    first = client.post("/models/SYN-1h-v1/promote", headers=admin.headers)
    assert (first.status_code, first.json()["stage"]) == (200, "production")
    client.post("/models/SYN-1h-v2/promote", headers=admin.headers)
    stages = {m["version"]: m["stage"] for m in client.get("/models", headers=alice.headers).json()}
    assert stages == {"SYN-1h-v1": "candidate", "SYN-1h-v2": "production"}
    assert client.post("/models/nope/promote", headers=admin.headers).status_code == 404
