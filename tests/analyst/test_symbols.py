from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyst.symbols import DEFAULT_ALIASES, SymbolTagger, load_tagger
from velocitas.errors import ConfigurationError


def test_tag_matches_names_case_insensitively_and_tickers_exactly() -> None:
    tagger = SymbolTagger(DEFAULT_ALIASES)
    assert tagger.tag("apple and bitcoin rally") == ["AAPL", "BTCUSD"]
    assert tagger.tag("Pineapple prices", "a synthesis of views") == []
    assert tagger.tag("SYN jumps after earnings") == ["SYN"]
    assert tagger.tag("syn jumps") == []


def test_tag_knows_both_alphabet_share_classes_and_vendor_ticker_forms() -> None:
    tagger = SymbolTagger(DEFAULT_ALIASES)
    assert tagger.tag("GOOG closes at a record") == ["GOOG", "GOOGL"]
    assert tagger.tag("Google unveils new Pixel") == ["GOOG", "GOOGL"]
    assert tagger.tag("GOOGL options volume spikes") == ["GOOG", "GOOGL"]
    assert tagger.tag("BTC-USD breaks out", "XBT perpetuals") == ["BTCUSD"]
    assert tagger.tag("ETH/USD steady") == ["ETHUSD"]
    assert tagger.tag("META falls") == ["META"]
    assert "GOOG" in tagger.names_of("GOOGL")
    assert "Alphabet" in tagger.names_of("GOOG")


def test_load_tagger_reads_json_and_yaml(tmp_path: Path) -> None:
    as_json = tmp_path / "aliases.json"
    as_json.write_text(json.dumps({"xyz": ["Xylophone Co"]}))
    as_yaml = tmp_path / "aliases.yaml"
    as_yaml.write_text("XYZ:\n  - Xylophone Co\n")
    for path in (as_json, as_yaml):
        assert load_tagger(path).tag("Xylophone Co wins contract") == ["XYZ"]


def test_load_tagger_refuses_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "aliases.json"
    path.write_text('{"XYZ": "not a list"}')
    with pytest.raises(ConfigurationError):
        load_tagger(path)
