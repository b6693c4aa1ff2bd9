"""Bad input on every gateway route taking it: each a 422 naming the field, never a 5xx, and
nothing stored. Issue 12's table: non-finite and out-of-range numbers in every Decimal field,
NUL and lone surrogates in strings, instants that overflow when shifted, unknown models, and
an echoed value bounded in size."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.websockets import WebSocketDisconnect

from tests.gateway.conftest import Account, register_model_row, store_bars
from velocitas.db.engine import session_scope
from velocitas.db.models import BacktestJob
from velocitas.http_errors import MAX_ECHO

SPEC: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20}},
    "timeframe": "1h",
    "start": "2024-01-01T00:00:00Z",
    "end": "2024-01-08T00:00:00Z",
    "fees": {"rate": "0.001", "fixed": "0"},
    "sizing": {"mode": "fraction_of_equity", "value": "0.5", "lot_size": "0.001"},
    "stops": {"stop_loss": {"kind": "percent", "value": "0.02"}},
    "risk": {"max_drawdown": "0.5", "max_position": "1"},
}
ROUTES = {
    "/backtests": ((), lambda spec: spec),
    "/sweeps": (("base",), lambda spec: {"base": spec, "grid": {"fast": [3, 5]}}),
    "/walk-forwards": (
        ("base",),
        lambda spec: {
            "base": spec,
            "grid": {"fast": [3, 5]},
            "in_sample": "3d",
            "out_of_sample": "1d",
        },
    ),
}
DECIMAL_FIELDS = [
    ("initial_cash",),
    ("fees", "rate"),
    ("fees", "fixed"),
    ("slippage_bps",),
    ("sizing", "value"),
    ("sizing", "lot_size"),
    ("stops", "stop_loss", "value"),
    ("risk", "max_drawdown"),
    ("risk", "max_position"),
    ("risk", "min_confidence"),
    ("risk_free_rate",),
]
# Raw JSON: Python's parser reads NaN/Infinity and turns 1e309 into infinity; the quoted ones
# are decimal strings (money's JSON form) too small in step or too large for the engine.
BAD_NUMBERS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e309",
    '"1e-999999"',
    '"1e999999"',
    '"1e308"',
    "1e308",
]
MARK = "__BAD__"


def _with(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def _raw(doc: dict[str, Any], path: tuple[str, ...], token: str) -> bytes:
    return json.dumps(_with(doc, path, MARK)).replace(f'"{MARK}"', token).encode()


def _jobs() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(BacktestJob)) or 0


def _refused(response: Any, *loc: str | int) -> list[str]:
    """What is wrong with `response` as a 422 naming `loc`; empty if nothing."""
    if response.status_code != 422:
        return [f"{response.status_code}: {response.text[:300]}"]
    locs = [detail["loc"] for detail in response.json()["detail"]]
    if not any(found[-len(loc) :] == list(loc) for found in locs):
        return [f"422 at {locs}, not {list(loc)}"]
    return []


@pytest.fixture
def post(client: TestClient, alice: Account) -> Any:
    store_bars(n=24 * 10)
    headers = {**alice.headers, "content-type": "application/json"}
    return lambda route, content: client.post(route, content=content, headers=headers)


@pytest.mark.parametrize("route", list(ROUTES))
def test_bad_numbers_in_every_decimal_field_are_422_naming_it(post: Any, route: str) -> None:
    prefix, wrap = ROUTES[route]
    failures = []
    for field in DECIMAL_FIELDS:
        for token in BAD_NUMBERS:
            response = post(route, _raw(wrap(SPEC), (*prefix, *field), token))
            failures += [f"{field} = {token}: {p}" for p in _refused(response, *field)]
    assert failures == []
    assert post(route, json.dumps(wrap(SPEC)).encode()).status_code == 202  # the base is fine
    assert _jobs() == 1


def _spec_with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    return _with(SPEC, path, value)


BAD_SPECS = [
    ("nul-symbol", _spec_with(("symbol",), "BTC\x00"), ("symbol",)),
    ("surrogate-symbol", _spec_with(("symbol",), "BTC\ud800"), ("symbol",)),
    ("newline-symbol", _spec_with(("symbol",), "BTCUSDT\n"), ("symbol",)),
    ("nul-param", _spec_with(("strategy", "params", "fast"), "\x00"), ("fast",)),
    ("surrogate-key", _spec_with(("strategy", "params"), {"\udc80": 1}), ("params",)),
    ("nan-param", _spec_with(("strategy", "params", "fast"), float("nan")), ("fast",)),
    ("start-year-1", _spec_with(("start",), "0001-01-01T00:00:00Z"), ("start",)),
    ("end-year-9999", _spec_with(("end",), "9999-12-31T23:59:59Z"), ("end",)),
    ("end-overflowing-offset", _spec_with(("end",), "9999-12-31T23:59:59-23:00"), ("end",)),
    (
        "huge-weight",
        {k: v for k, v in SPEC.items() if k not in ("symbol", "strategy")}
        | {"legs": [{"symbol": "BTCUSDT", "strategy": SPEC["strategy"], "weight": "1e308"}]},
        ("legs", 0, "weight"),
    ),
    (
        "cooldown-past-int64",
        _spec_with(("risk",), {"cooldown_losses": 10**30, "cooldown_bars": 1}),
        ("cooldown_losses",),
    ),
    ("no-trades-a-day", _spec_with(("risk",), {"max_trades_per_day": 0}), ("max_trades_per_day",)),
    (
        "negative-open-positions",
        _spec_with(("risk",), {"max_open_positions": -1}),
        ("max_open_positions",),
    ),
    (
        "holding-past-int64",
        _spec_with(("risk",), {"max_holding_bars": 10**30}),
        ("max_holding_bars",),
    ),
    ("confidence-above-one", _spec_with(("risk",), {"min_confidence": "1.5"}), ("min_confidence",)),
    (
        "session-close-not-a-bool",
        _spec_with(("risk",), {"flat_at_session_close": "sometimes"}),
        ("flat_at_session_close",),
    ),
    (
        "unknown-policy-model",
        _spec_with(("strategy",), {"name": "policy", "params": {"model": "no-such-model"}}),
        ("legs", 0, "strategy", "params", "model"),
    ),
    (
        "unknown-model-in-ensemble",
        _spec_with(
            ("strategy",),
            {
                "name": "ensemble",
                "params": {"members": [{"name": "policy", "params": {"model": "nope"}}]},
            },
        ),
        ("members", 0, "params", "model"),
    ),
]


def _encoded(doc: dict[str, Any]) -> bytes:
    # json.dumps writes NaN and lone surrogates (as \\ud800 escapes), as a hostile client would.
    return json.dumps(doc).encode()


@pytest.mark.parametrize("route", list(ROUTES))
def test_bad_strings_instants_and_models_are_422_naming_the_field(post: Any, route: str) -> None:
    _, wrap = ROUTES[route]
    failures = []
    for name, spec, loc in BAD_SPECS:
        failures += [f"{name}: {p}" for p in _refused(post(route, _encoded(wrap(spec))), *loc)]
    assert failures == []
    assert _jobs() == 0


def test_models_are_checked_at_submit_in_grids_and_by_timeframe(post: Any) -> None:
    register_model_row("v1", "1h")
    register_model_row("daily", "1d")
    policy = {"name": "policy", "params": {"model": "v1"}}
    base = _spec_with(("strategy",), policy)
    in_grid = post("/sweeps", _encoded({"base": base, "grid": {"model": ["v1", "nope"]}}))
    assert _refused(in_grid, "body", "grid") == []
    assert "nope" in in_grid.json()["detail"][0]["msg"]
    folds = {"grid": {"model": ["v1", "nope"]}, "in_sample": "3d", "out_of_sample": "1d"}
    in_folds = post("/walk-forwards", _encoded({"base": base, **folds}))
    assert _refused(in_folds, "body", "grid", "model") == []
    other_bars = _spec_with(("strategy",), {"name": "policy", "params": {"model": "daily"}})
    response = post("/backtests", _encoded(other_bars))
    assert _refused(response, "legs", 0, "strategy", "params", "model") == []
    assert "1d bars" in response.json()["detail"][0]["msg"]
    assert _jobs() == 0
    assert post("/backtests", _encoded(base)).status_code == 202


BAD_QUERIES = [
    ("/sentiment?symbol=BTCUSDT&at=0001-01-01T00:00:00Z", "at"),
    ("/sentiment?symbol=BTCUSDT&at=9999-12-31T23:59:59-23:00", "at"),
    ("/sentiment?symbol=BTC%00&at=2024-01-01T00:00:00Z", "symbol"),
    ("/news/search?q=a%00b&at=2024-01-01T00:00:00Z", "q"),
    ("/news/search?q=ab&at=0001-01-01T00:00:00Z", "at"),
    ("/news/search?q=ab&at=2024-01-01T00:00:00Z&symbol=A%00", "symbol"),
    ("/history?symbol=BTC%00&timeframe=1h", "symbol"),
    ("/backtests?cursor=%00", "cursor"),
]


def test_bad_query_values_are_422_naming_them(client: TestClient, alice: Account) -> None:
    # The analyst is not running: a 422 here was decided by the gateway, before forwarding.
    failures = []
    for url, field in BAD_QUERIES:
        response = client.get(url, headers=alice.headers)
        failures += [f"{url}: {p}" for p in _refused(response, "query", field)]
    assert failures == []


def test_bar_upload_with_nul_in_the_symbol_is_422_storing_nothing(
    client: TestClient, alice: Account
) -> None:
    csv = b"opened_at,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,1,1,1,1\n"
    response = client.post(
        "/bars?symbol=BTC%00&timeframe=1h",
        content=csv,
        headers={**alice.headers, "content-type": "text/csv"},
    )
    assert _refused(response, "query", "symbol") == []


def test_the_422_echoes_a_huge_value_only_in_part(post: Any) -> None:
    name = "x" * 1_000_000
    response = post("/backtests", _encoded(_spec_with(("strategy", "name"), name)))
    assert response.status_code == 422
    assert len(response.content) < 4 * MAX_ECHO
    assert "more characters" in response.json()["detail"][0]["msg"]


def test_ws_first_message_with_an_unusable_key_closes_1008(
    client: TestClient, alice: Account
) -> None:
    for key in ["vk_\x00AAAA", "vk_\ud800AAAA", "", " ", 12, None]:
        with client.websocket_connect("/ws") as ws:
            ws.send_text(json.dumps({"type": "auth", "key": key}))
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        assert (closed.value.code, closed.value.reason) == (1008, "missing or invalid API key"), key
