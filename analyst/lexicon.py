"""A compact finance word list laid over VADER's general-purpose lexicon.

In the spirit of Loughran & McDonald (2011): general sentiment dictionaries misread financial
text. VADER scores "crude" -2.7, "liability" -0.8, "shares" +1.2 and "interest" +2.0, and knows
nothing of "downgrade", "plunge" or "beats". Valences use VADER's scale (-4 to +4). Words whose
general-language sentiment is noise in finance are set to 0. Phrases are rewritten into single
tokens first (VADER scores tokens), e.g. "cuts full-year guidance" -> "guidancecut",
"hits a 52-week high" -> "hits a recordhigh", "narrows its loss" -> "lossnarrows".
Written for this project from general finance usage; not a copy of the L&M dictionary.
"""

from __future__ import annotations

import re

_POSITIVE = {
    2.5: "soar soars soared soaring skyrocket skyrockets skyrocketed skyrocketing surge surges "
    "surged surging rocket rockets rocketed windfall blowout bonanza breakthrough leap leaps "
    "leapt vault vaults vaulted",
    2.0: "beat beats beating rally rallies rallied rallying jump jumps jumped jumping upgrade "
    "upgrades upgraded outperform outperforms outperformed outperforming bullish record "
    "rebound rebounds rebounded rebounding boom booming tops topped exceed exceeds exceeded "
    "exceeding surpass surpasses surpassed rebound soar jump buoyed",
    1.5: "climb climbs climbed climbing rise rises rising rose gain gains gained gaining "
    "advance advances advanced overweight buyback buybacks upbeat profitable profitability "
    "expands expanded expansion recovers recovered recovery rebounded accelerates "
    "accelerated accelerating approval approves approved wins won raises raised lifts lifted "
    "strengthens strengthened inflows robust resilient better-than-expected narrows",
    1.0: "higher boosts boosted dividend upside momentum tailwind tailwinds optimism "
    "optimistic milestone savings",
}
_NEGATIVE = {
    -3.0: "bankruptcy bankrupt insolvency insolvent fraud collapse collapses collapsed "
    "collapsing plunge plunges plunged plunging plummet plummets plummeted plummeting "
    "crash crashes crashed crashing default defaults defaulted meltdown bloodbath nosedive "
    "nosedives",
    -2.5: "tumble tumbles tumbled tumbling slump slumps slumped slumping sink sinks sank "
    "sinking downgrade downgrades downgraded selloff sell-off rout bearish scandal "
    "indicted indictment delisting delisted liquidation writedown write-down impairment "
    "impairments restatement restates subpoena tank tanks tanked tanking crater craters "
    "cratered hammered battered pummeled slump",
    -2.0: "miss misses missed slide slides slid sliding fall falls fell falling drop drops "
    "dropped dropping decline declines declined declining loss losses layoffs layoff "
    "lawsuit lawsuits sued probe investigation fined penalty penalties sanctions breach "
    "hacked outage recall recalls shortfall underperform underperforms underperformed "
    "slashes slashed slash warns warned warning halts halted halt suspends suspended "
    "disappointing disappoints disappointed weaker weakness slowdown recession turmoil "
    "headwinds headwind antitrust shortage shortages resigns resigned ousted probed "
    "worse-than-expected weighs weighed dump dumps dumped dumping dive dives dived sheds shed "
    "retreat retreats retreated downbeat",
    -1.5: "lower lowers lowered cuts cut cutting delay delays delayed underweight sell "
    "outflows deficit losing lost loses slips slipped slip dips dipped dip shrinks shrank "
    "shrinking contraction volatile volatility strike strikes exits pressure pressured "
    "uncertainty concerns concern fears worries downside softens softened sag sags sagged "
    "skid skids skidded stalls",
}
_NEUTRAL = (
    "share shares interest credit gross crude liability united trust energy top help support "
    "fine demand like capital mine vice rate rates steady grants grant treasury treasuries "
    "security securities natural care holiday holidays await awaits awaited"
)
_LEVEL = r"(new|fresh|record|all[- ]time|(\d+|multi)[- ](day|week|month|year))"
_PHRASES = {
    r"(price target (cut|lowered|slashed|trimmed))|((cuts|cut|lowers|lowered|slashes|slashed|"
    r"trims|trimmed) (its |the )?price target)": "downgrade",
    r"(price target (raised|lifted|hiked|boosted))|((raises|raise|raised|lifts|lift|lifted|"
    r"boosts|boost|boosted|hikes|hike|hiked) (its |the )?price target)": "upgrade",
    r"(cuts|cut|lowers|lowered|slashes|slashed|trims|trimmed) (its )?(full[- ]year )?"
    r"(guidance|forecast|outlook)": "guidancecut",
    r"(raises|raised|lifts|lifted|boosts|boosted|hikes|hiked) (its )?(full[- ]year )?"
    r"(guidance|forecast|outlook|dividend)": "guidanceraise",
    r"((cuts|cut|slashes|slashed|suspends|suspended|scraps|scrapped|omits) (its )?dividend)|"
    r"(dividend (cut|suspension))": "dividendcut",
    r"(beats|beat|tops|topped) (estimates|expectations|forecasts)": "beatsestimates",
    r"(misses|missed|falls short of) (estimates|expectations|forecasts)": "missesestimates",
    r"profit warning": "profitwarning",
    r"going[- ]concern": "goingconcern",
    r"chapter 11": "bankruptcy",
    r"record (\w+ )?loss(es)?": "recordloss",
    r"(narrows|narrowed|narrower|smaller) (its |a )?(\w+ )?loss(es)?": "lossnarrows",
    r"((widens|widened|wider|deeper|bigger) (its |a )?(\w+ )?loss(es)?)|"
    r"(loss(es)? (widen|widens|widened|deepen|deepens|deepened))": "losswidens",
    r"(swings|swung|returns|returned|turns|turned) to (a )?(\w+ )?profit": "turnsprofitable",
    r"(swings|swung|turns|turned) to (a )?(\w+ )?loss": "turnstoloss",
    r"pares (early |earlier )?gains": "paresgains",
    r"pares (early |earlier )?losses": "pareslosses",
    r"(rate|interest-rate) cuts?": "easing",
    r"(rate|interest-rate) hikes?": "tightening",
    r"cost[- ]cutting|cuts costs": "efficiency",
    rf"{_LEVEL} highs?": "recordhigh",
    rf"{_LEVEL} lows?": "recordlow",
}
PHRASE_VALENCE = {
    "bankruptcy": -3.0,
    "beatsestimates": 2.5,
    "dividendcut": -2.5,
    "downgrade": -2.5,
    "easing": 0.5,
    "efficiency": 0.5,
    "goingconcern": -2.5,
    "guidancecut": -2.5,
    "guidanceraise": 2.5,
    "lossnarrows": 1.5,
    "losswidens": -2.0,
    "missesestimates": -2.5,
    "pareslosses": 1.0,
    "paresgains": -1.0,
    "profitwarning": -2.5,
    "recordhigh": 2.5,
    "recordloss": -2.5,
    "recordlow": -2.5,
    "tightening": -0.5,
    "turnsprofitable": 2.0,
    "turnstoloss": -2.5,
    "upgrade": 2.0,
}


def finance_lexicon() -> dict[str, float]:
    """Token -> valence entries to lay over VADER's lexicon."""
    lexicon: dict[str, float] = dict.fromkeys(_NEUTRAL.split(), 0.0)
    for table in (_POSITIVE, _NEGATIVE):
        for valence, words in table.items():
            lexicon.update(dict.fromkeys(words.split(), valence))
    lexicon.update(PHRASE_VALENCE)
    return lexicon


_PHRASE_PATTERNS = [(re.compile(rf"\b(?:{p})\b", re.IGNORECASE), t) for p, t in _PHRASES.items()]


def rewrite_phrases(text: str) -> str:
    """Replace multi-word finance phrases by the single tokens the lexicon scores."""
    for pattern, token in _PHRASE_PATTERNS:
        text = pattern.sub(token, text)
    return text
