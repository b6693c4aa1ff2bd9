"""Tag articles with the symbols they mention, from an alias list.

Aliases map a symbol to the names people write: `{"AAPL": ["Apple", "AAPL", "iPhone maker"]}`.
A name matches as a whole word, case-insensitively, except all-capital aliases (tickers), which
match only in capitals so that "SYN" does not fire on "syn" in running text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from velocitas.errors import ConfigurationError

__all__ = ["DEFAULT_ALIASES", "SymbolTagger", "load_tagger"]

DEFAULT_ALIASES: dict[str, list[str]] = {
    "SYN": ["SYN", "Synthetica", "Synthetica Corp"],
    "BTCUSD": ["BTCUSD", "BTC-USD", "BTC/USD", "BTC", "XBT", "Bitcoin"],
    "ETHUSD": ["ETHUSD", "ETH-USD", "ETH/USD", "ETH", "Ether", "Ethereum"],
    "AAPL": ["AAPL", "Apple", "iPhone maker"],
    "MSFT": ["MSFT", "Microsoft"],
    # Alphabet has two listed share classes (GOOGL class A, GOOG class C): news about the
    # company is news about both, and price data comes under either ticker.
    "GOOGL": ["GOOGL", "GOOG", "Alphabet", "Google"],
    "GOOG": ["GOOG", "GOOGL", "Alphabet", "Google"],
    "AMZN": ["AMZN", "Amazon"],
    "NVDA": ["NVDA", "Nvidia"],
    "TSLA": ["TSLA", "Tesla"],
    "META": ["META", "Meta Platforms", "Facebook", "FB"],
    "JPM": ["JPM", "JPMorgan", "JPMorgan Chase"],
}
"""Each symbol's ticker in its common spellings (exchange and data-vendor forms such as
"BTC-USD", other share classes) and the names the press uses."""


class SymbolTagger:
    """Finds the symbols an article names, from `{symbol: [alias, ...]}`."""

    def __init__(self, aliases: Mapping[str, Iterable[str]]) -> None:
        self.aliases = {symbol: sorted(set(names)) for symbol, names in aliases.items()}
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        for symbol, names in sorted(self.aliases.items()):
            for name in names:
                flags = 0 if name.isupper() else re.IGNORECASE
                pattern = re.compile(rf"(?<![\w$]){re.escape(name)}(?!\w)", flags)
                self._patterns.append((symbol, pattern))

    def tag(self, *texts: str) -> list[str]:
        """The sorted symbols whose aliases occur in any of `texts`."""
        found = {
            symbol
            for symbol, pattern in self._patterns
            if any(pattern.search(text) for text in texts if text)
        }
        return sorted(found)

    def names_of(self, symbol: str) -> list[str]:
        return self.aliases.get(symbol, [symbol])


def load_tagger(path: Path | None) -> SymbolTagger:
    """The shipped aliases, or those of a JSON/YAML file `{SYMBOL: [alias, ...]}`."""
    if path is None:
        return SymbolTagger(DEFAULT_ALIASES)
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"SYMBOL_ALIASES={path}: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(names, list) and all(isinstance(n, str) for n in names)
        for names in data.values()
    ):
        raise ConfigurationError(f"SYMBOL_ALIASES={path}: expected {{SYMBOL: [alias, ...]}}")
    return SymbolTagger({str(symbol).upper(): names for symbol, names in data.items()})
