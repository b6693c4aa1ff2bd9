"""velocitas.strategies.policy: a registered policy as a strategy, its models from a resolver."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from lab.bundle import write_bundle
from tests.lab.factories import make_bars, make_bundle, policy_documents
from tests.oracle.factories import bundle_record
from velocitas.agent.policy import policy_signals, read_policy
from velocitas.db.models_registry import ModelRecord
from velocitas.domain.bars import BarArrays
from velocitas.errors import ConfigurationError, InvalidRequest, NotFound
from velocitas.features import build_features
from velocitas.strategies import registry
from velocitas.strategies.policy import PolicyResolver, PolicyStrategy, register_policy_strategy


@pytest.fixture
def models(tmp_path: Path) -> dict[str, ModelRecord]:
    return {"v1": bundle_record(tmp_path / "v1", "v1", make_bundle(tmp_path / "v1", seed=2))}


@pytest.fixture
def sentiment_reads() -> list[str]:
    return []


@pytest.fixture
def resolver(
    models: dict[str, ModelRecord], sentiment_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[PolicyResolver]:
    def model(version: str) -> ModelRecord:
        if version not in models:
            raise NotFound(f"no model {version!r}")
        return models[version]

    def sentiment(bars: BarArrays) -> npt.NDArray[np.float64]:
        sentiment_reads.append(bars.symbol)
        return np.linspace(-1.0, 1.0, len(bars))

    resolver = PolicyResolver(model=model, sentiment=sentiment)
    monkeypatch.setattr(PolicyStrategy, "resolver", None)  # restored after the test
    register_policy_strategy(resolver)
    yield resolver
    registry.unregister("policy")


def test_policy_strategy_targets_the_policy_signals(resolver: PolicyResolver) -> None:
    bars = make_bars(600)
    strategy = registry.build("policy", {"model": "v1"})
    assert isinstance(strategy, PolicyStrategy)
    policy = read_policy(resolver.model("v1").path)
    expected = policy_signals(policy, build_features(bars, policy.feature_spec))
    np.testing.assert_array_equal(strategy.signals(bars), expected)
    assert len(np.unique(expected)) > 1  # the policy trades: the comparison can fail


def test_policy_strategy_reads_sentiment_only_for_policies_trained_with_it(
    tmp_path: Path,
    models: dict[str, ModelRecord],
    resolver: PolicyResolver,
    sentiment_reads: list[str],
) -> None:
    bars = make_bars(600)
    registry.build("policy", {"model": "v1"}).signals(bars)
    assert sentiment_reads == []
    documents = policy_documents(seed=2)
    documents["config"]["sentiment"] = True
    sha = write_bundle(tmp_path / "news", **documents)
    models["news"] = bundle_record(tmp_path / "news", "news", sha)
    policy = read_policy(tmp_path / "news")
    sentiment = np.linspace(-1.0, 1.0, len(bars))
    expected = policy_signals(policy, build_features(bars, policy.feature_spec, sentiment))
    got = registry.build("policy", {"model": "news"}).signals(bars)
    np.testing.assert_array_equal(got, expected)
    assert sentiment_reads == ["TEST"]


def test_policy_strategy_unknown_version_names_the_model_field(resolver: PolicyResolver) -> None:
    with pytest.raises(InvalidRequest) as info:
        registry.build("policy", {"model": "nope"}).signals(make_bars(300))
    assert info.value.field == "strategy.params.model"


def test_policy_strategy_other_timeframe_is_refused(resolver: PolicyResolver) -> None:
    bars = make_bars(300)
    minutes = replace(bars, timeframe="1m")
    with pytest.raises(InvalidRequest, match="trained on 1h bars") as info:
        registry.build("policy", {"model": "v1"}).signals(minutes)
    assert info.value.field == "strategy.params.model"


def test_policy_strategy_without_a_resolver_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PolicyStrategy, "resolver", None)
    with pytest.raises(ConfigurationError, match="cannot run policies"):
        PolicyStrategy({"model": "v1"}).signals(make_bars(300))
