"""The "Writing your own strategy" example in docs/strategies.md runs as documented."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.velocitas.strategies.conftest import MakeBars
from velocitas.errors import InvalidRequest
from velocitas.strategies import registry

DOC = Path(__file__).resolve().parents[3] / "docs" / "strategies.md"


def _example_code() -> str:
    section = DOC.read_text().split("## Writing your own strategy", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the section lost its python example"
    return match.group(1)


@pytest.fixture
def example() -> Iterator[type[Any]]:
    namespace: dict[str, Any] = {"__name__": "docs_strategies_example"}
    # dont_inherit: run the example as a user would, without this module's __future__ imports
    exec(compile(_example_code(), str(DOC), "exec", dont_inherit=True), namespace)
    try:
        yield namespace["PriceAboveSma"]
    finally:
        registry.unregister("price_above_sma")


def test_docs_example_registers_and_signals(example: type[Any], make_bars: MakeBars) -> None:
    assert registry.get("price_above_sma") is example
    strategy = registry.build("price_above_sma", {"period": 2})
    # SMA(2) from bar 1: 10, 11, 11.5, 11, 9.5; closes 10, 12, 11, 11, 8
    side = strategy.signals(make_bars([10, 10, 12, 11, 11, 8]))
    assert side.tolist() == [0, 0, 1, 0, 0, 0]
    shorts = registry.build("price_above_sma", {"period": 2, "allow_short": True})
    assert shorts.signals(make_bars([10, 10, 12, 11, 11, 8])).tolist() == [0, 0, 1, -1, 0, -1]


def test_docs_example_bounds_are_enforced(example: type[Any]) -> None:
    with pytest.raises(InvalidRequest) as info:
        registry.build("price_above_sma", {"period": 1})
    assert info.value.field == "strategy.params.period"
    described = {entry["name"]: entry for entry in registry.describe()}
    assert described["price_above_sma"]["params"]["period"]["min"] == 2


def test_docs_describe_every_built_in_parameter() -> None:
    # each strategy has a "### `name`" section (some share one) naming all its parameters
    sections = DOC.read_text().split("\n### ")[1:]
    built_ins = [
        n
        for n in registry.names()
        if registry.get(n).__module__.startswith("velocitas.strategies.")
    ]
    for name in built_ins:
        section = next((s for s in sections if f"`{name}`" in s.split("\n", 1)[0]), None)
        assert section is not None, f"docs/strategies.md has no section for {name}"
        for param in registry.get(name).Params.model_fields:
            assert f"`{param}`" in section, f"{name}.{param} is not documented"
