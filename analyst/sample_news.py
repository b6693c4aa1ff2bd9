"""Deterministic sample news for the sample market data (symbols SYN and BTCUSD).

Headlines come from templates with a positive, negative or neutral tone, in the vocabulary of
the symbol's asset class (no "Bitcoin shares"); the tone of each day
follows a slow seeded "mood" so the sentiment series has runs rather than white noise. Same
seed and range, same bytes. No network, no model.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SUBJECTS = {
    "SYN": ["Synthetica", "Synthetica Corp", "SYN"],
    "BTCUSD": ["Bitcoin", "BTC"],
}
ASSET_CLASS = {"SYN": "equity", "BTCUSD": "crypto"}
"""Each symbol's headlines use its asset class's vocabulary: a coin has no shares, earnings,
guidance or price target; it has flows, exchanges, liquidations and on-chain activity."""
SOURCES = ["Newswire", "Market Desk", "Daily Ledger", "Finance Times Sample", "Crypto Brief"]

NEUTRAL = [
    "{s} trading volume in line with average",
    "What to watch for {s} this week",
    "{s} unchanged in quiet session",
    "{s} steady ahead of economic data",
    "Traders await direction for {s}",
    "{s} holds range as markets wait for the Fed",
]
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "equity": {
        "positive": [
            "{s} shares jump {p}% after earnings beat estimates",
            "{s} rallies as analysts upgrade outlook",
            "{s} climbs {p}% on record quarterly revenue",
            "{s} surges after strong demand lifts guidance",
            "Investors cheer {s} as profit margins improve",
            "{s} gains {p}% on upbeat growth forecast",
            "{s} hits new high as buyers return",
            "Analysts raise price target on {s} after solid results",
        ],
        "negative": [
            "{s} shares tumble {p}% after earnings miss",
            "{s} plunges as regulators open investigation",
            "{s} slides {p}% on weak demand and guidance cut",
            "{s} falls after analyst downgrade",
            "Investors dump {s} amid lawsuit fears",
            "{s} drops {p}% as losses widen",
            "{s} sinks to multi-month low on sell-off",
            "Concerns over debt weigh on {s}",
        ],
        "neutral": NEUTRAL,
    },
    "crypto": {
        "positive": [
            "{s} jumps {p}% as spot ETF inflows accelerate",
            "{s} rallies as institutional buying picks up",
            "{s} climbs {p}% as network activity hits record",
            "{s} surges after major exchange listing",
            "Traders cheer {s} as long-term holders accumulate",
            "{s} gains {p}% on upbeat adoption outlook",
            "{s} hits new high as buyers return",
            "{s} rebounds as miners stop selling",
        ],
        "negative": [
            "{s} tumbles {p}% as exchange halts withdrawals",
            "{s} plunges as regulators open investigation",
            "{s} slides {p}% as ETF outflows mount",
            "{s} falls after exchange is hacked",
            "Investors dump {s} amid regulatory fears",
            "{s} drops {p}% as leveraged longs are liquidated",
            "{s} sinks to multi-month low on sell-off",
            "Concerns over stablecoin reserves weigh on {s}",
        ],
        "neutral": NEUTRAL,
    },
}
BODY = {
    "positive": "Market participants reacted favourably to the news about {s}.",
    "negative": "Market participants reacted unfavourably to the news about {s}.",
    "neutral": "The announcement about {s} drew little reaction from the market.",
}


def generate(
    start: datetime, end: datetime, *, seed: int = 7, per_day: int = 4
) -> Iterator[dict[str, Any]]:
    """Records (dicts with headline, body, url, source, published_at, symbols, tone)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end need a time zone")
    rng = random.Random(seed)
    seen: set[str] = set()
    mood = dict.fromkeys(SUBJECTS, 0.0)
    day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    serial = 0
    while day < end:
        for symbol, names in SUBJECTS.items():
            mood[symbol] = 0.8 * mood[symbol] + rng.gauss(0.0, 0.6)
            for _ in range(per_day):
                moment = day + timedelta(seconds=rng.randrange(86_400))
                if not start <= moment < end:
                    continue
                tone = _tone(rng, mood[symbol])
                templates = TEMPLATES[ASSET_CLASS[symbol]][tone]
                name = rng.choice(names)
                headline = rng.choice(templates).format(s=name, p=rng.randint(2, 15))
                source = rng.choice(SOURCES)
                if f"{source}|{headline}" in seen:
                    continue
                seen.add(f"{source}|{headline}")
                serial += 1
                yield {
                    "headline": headline,
                    "body": BODY[tone].format(s=name),
                    "url": f"https://news.example/{symbol.lower()}/{serial:06d}",
                    "source": source,
                    "published_at": moment.isoformat().replace("+00:00", "Z"),
                    "symbols": [symbol],
                    "tone": tone,
                }
        day += timedelta(days=1)


def write(path: Path, start: datetime, end: datetime, *, seed: int = 7, per_day: int = 4) -> int:
    """Write JSON lines sorted by time; returns the number of records."""
    records = sorted(
        generate(start, end, seed=seed, per_day=per_day),
        key=lambda r: (r["published_at"], r["url"]),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
    return len(records)


def _tone(rng: random.Random, mood: float) -> str:
    draw = rng.random()
    positive = 0.35 + 0.25 * max(-1.0, min(1.0, mood))
    if draw < positive:
        return "positive"
    if draw < positive + 0.2:
        return "neutral"
    return "negative"
