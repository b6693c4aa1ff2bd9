"""The registry: lookup, validation errors naming the field, the catalogue, the signal contract."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from velocitas.domain.bars import BarArrays
from velocitas.errors import InvalidRequest
from velocitas.strategies import Strategy, registry
from velocitas.strategies.crossover import SmaCross
from velocitas.strategies.policy import PolicyStrategy

PACKAGE = "velocitas.strategies."

BUILT_INS = [
    "bollinger_reversion",
    "buy_and_hold",
    "donchian_breakout",
    "ema_cross",
    "ensemble",
    "macd_cross",
    "momentum",
    "rsi_reversion",
    "sma_cross",
]

# Parameters that trade often on 600 random-walk bars, for each built-in.
EXAMPLES: dict[str, dict[str, Any]] = {
    "bollinger_reversion": {"period": 10, "k": 1.5},
    "buy_and_hold": {},
    "donchian_breakout": {"period": 15, "exit_period": 5},
    "ema_cross": {"fast": 5, "slow": 20},
    "ensemble": {
        "members": [
            {"name": "sma_cross", "params": {"fast": 5, "slow": 20, "allow_short": True}},
            {"name": "rsi_reversion", "params": {"period": 7, "allow_short": True}, "weight": 2},
            {"name": "momentum", "params": {"period": 5}, "weight": 0.5},
        ],
        "threshold": 0.3,
    },
    "macd_cross": {"fast": 6, "slow": 13, "signal": 5},
    "momentum": {"period": 8, "threshold": 0.5},
    "rsi_reversion": {"period": 7, "lower": 35, "upper": 65},
    "sma_cross": {"fast": 5, "slow": 20},
}


def test_registry_names_lists_every_built_in() -> None:
    # other packages may register more (lab registers "policy"), so only ours are pinned
    names = registry.names()
    assert names == sorted(names)
    assert set(BUILT_INS) <= set(names)


def test_registry_get_returns_the_class() -> None:
    assert registry.get("sma_cross") is SmaCross


def test_registry_get_unknown_names_the_field() -> None:
    with pytest.raises(InvalidRequest) as info:
        registry.get("smacross")
    assert info.value.field == "strategy.name"
    assert "sma_cross" in str(info.value)


def test_registry_build_applies_defaults_and_values() -> None:
    strategy = registry.build("sma_cross", {"fast": "5"})  # CLI strings convert when exact
    assert isinstance(strategy, SmaCross)
    assert (strategy.params.fast, strategy.params.slow, strategy.params.allow_short) == (
        5,
        50,
        False,
    )


@pytest.mark.parametrize(
    ("name", "params", "field", "words"),
    [
        ("nope", {}, "strategy.name", "unknown strategy"),
        ("sma_cross", {"fast": 0}, "strategy.params.fast", "greater than or equal to 1"),
        ("sma_cross", {"slow": 10_001}, "strategy.params.slow", "less than or equal to 10000"),
        ("sma_cross", {"fast": 50, "slow": 20}, "strategy.params.slow", "greater than fast"),
        ("sma_cross", {"fast": 10.5}, "strategy.params.fast", "integer"),
        ("sma_cross", {"fast": "ten"}, "strategy.params.fast", "integer"),
        ("sma_cross", {"fastt": 3}, "strategy.params.fastt", "unknown parameter"),
        ("ema_cross", {"fast": 30, "slow": 30}, "strategy.params.slow", "greater than fast"),
        ("macd_cross", {"signal": 0}, "strategy.params.signal", "greater than or equal"),
        ("rsi_reversion", {"lower": 80}, "strategy.params.upper", "greater than lower"),
        ("rsi_reversion", {"exit_level": 75}, "strategy.params.exit_level", "between"),
        ("rsi_reversion", {"period": 1}, "strategy.params.period", "greater than or equal to 2"),
        ("bollinger_reversion", {"k": 0}, "strategy.params.k", "greater than or equal to 0.1"),
        ("momentum", {"threshold": -1}, "strategy.params.threshold", "greater than or equal"),
        ("donchian_breakout", {"exit_period": 30}, "strategy.params.exit_period", "exceed"),
        ("buy_and_hold", {"allow_short": True}, "strategy.params.allow_short", "unknown"),
        (
            "ensemble",
            {"members": [{"name": "sma_cross"}], "threshold": 2},
            "strategy.params.threshold",
            "less than or equal to 1",
        ),
        ("ensemble", {}, "strategy.params.members", "required"),
    ],
)
def test_registry_build_bad_params_name_the_field(
    name: str, params: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        registry.build(name, params)
    assert info.value.field == field
    assert words in str(info.value)


def test_registry_build_params_must_be_a_mapping() -> None:
    with pytest.raises(InvalidRequest) as info:
        registry.build("sma_cross", [1, 2])  # type: ignore[arg-type]
    assert info.value.field == "strategy.params"


def test_registry_build_field_prefix() -> None:
    with pytest.raises(InvalidRequest) as info:
        registry.build("sma_cross", {"fast": 0}, field="legs.1.strategy")
    assert info.value.field == "legs.1.strategy.params.fast"


def test_registry_describe_is_json_ready_with_bounds_and_defaults() -> None:
    catalogue = registry.describe()
    assert json.loads(json.dumps(catalogue)) == catalogue
    by_name = {entry["name"]: entry for entry in catalogue}
    assert list(by_name) == registry.names()
    assert set(BUILT_INS) <= set(by_name)
    for entry in catalogue:
        assert entry["description"]
        assert "\n" not in entry["description"]
    sma = by_name["sma_cross"]
    assert list(sma["params"]) == ["fast", "slow", "allow_short"]
    assert sma["params"]["fast"] == {
        "type": "integer",
        "default": 10,
        "required": False,
        "min": 1,
        "max": 10_000,
        "description": "fast SMA window, bars",
    }
    assert sma["params"]["allow_short"]["type"] == "boolean"
    assert sma["constraints"] == ["fast < slow"]
    assert by_name["rsi_reversion"]["params"]["lower"]["type"] == "number"
    members = by_name["ensemble"]["params"]["members"]
    assert (members["type"], members["required"], members["min"], members["max"]) == (
        "array",
        True,
        1,
        32,
    )
    assert by_name["buy_and_hold"]["params"] == {}


def test_registry_register_refuses_a_second_class_under_a_taken_name() -> None:
    class Impostor(SmaCross):
        pass

    with pytest.raises(ValueError, match="already registered"):
        registry.register(Impostor)


def test_every_built_in_has_an_example() -> None:
    # `policy` runs a registered model: a process opts in to it, and it has no example on bare bars
    built_ins = [
        n
        for n in registry.names()
        if registry.get(n).__module__.startswith(PACKAGE) and n != PolicyStrategy.name
    ]
    assert sorted(EXAMPLES) == built_ins == BUILT_INS


def _build(name: str, allow_short: bool) -> Strategy:
    params = dict(EXAMPLES[name])
    if allow_short and "allow_short" in registry.get(name).Params.model_fields:
        params["allow_short"] = True
    return registry.build(name, params)


@pytest.mark.parametrize("allow_short", [False, True])
@pytest.mark.parametrize("name", BUILT_INS)
def test_strategy_signals_contract(name: str, allow_short: bool, random_bars: BarArrays) -> None:
    side = _build(name, allow_short).signals(random_bars)
    assert side.dtype == np.int8
    assert len(side) == len(random_bars)
    values = set(np.unique(side).tolist())
    assert values <= ({-1, 0, 1} if allow_short else {0, 1})
    assert 1 in values  # the example parameters do trade on these bars
    if name != "buy_and_hold":
        assert side[0] == 0  # warm-up is flat


@pytest.mark.parametrize("name", BUILT_INS)
def test_strategy_signals_on_zero_and_one_bar(name: str, random_bars: BarArrays) -> None:
    strategy = _build(name, True)
    for n in (0, 1):
        side = strategy.signals(random_bars.slice(0, n))
        assert side.dtype == np.int8
        assert len(side) == n


@pytest.mark.parametrize("allow_short", [False, True])
@pytest.mark.parametrize("name", BUILT_INS)
def test_strategy_never_looks_ahead(name: str, allow_short: bool, random_bars: BarArrays) -> None:
    strategy = _build(name, allow_short)
    full = strategy.signals(random_bars)
    for t in range(0, len(random_bars) + 1, 17):
        np.testing.assert_array_equal(strategy.signals(random_bars.slice(0, t)), full[:t])


def test_strategy_shorts_appear_when_allowed(random_bars: BarArrays) -> None:
    # for a crossover, long-only is the shortable output with its shorts flattened
    longs = _build("sma_cross", False).signals(random_bars)
    both = _build("sma_cross", True).signals(random_bars)
    assert (both == -1).any()
    np.testing.assert_array_equal(longs, np.maximum(both, 0))
