"""Plain-language recommendations from a tournament's report, each with the evidence it rests on.

Every recommendation quotes out-of-sample figures, the deflated Sharpe ratio and the
tournament's probability of backtest overfitting; none rests on in-sample figures alone (the
in-sample objective appears only beside its out-of-sample counterpart, as degradation).

Kinds: `overfit` (the tournament as a whole: PBO >= 0.5), `trade` (a symbol's best entry has a
positive out-of-sample objective, clears the deflated-Sharpe threshold and the PBO is below
0.5), `caution` (it clears the threshold but the PBO says the selection overfits), `no_edge`
(nothing on that symbol clears the threshold); per market regime, `regime` (the strategy that
won out of sample in that regime clears the threshold, PBO below 0.5) or `regime_no_edge`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PBO_LIMIT", "recommend"]

PBO_LIMIT = 0.5
"""At or above this PBO, the in-sample winner is more often than not below the median OOS."""


def recommend(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The recommendations of `report` (as `velocitas.research.tournament.rank` builds it): the
    tournament-wide warning first, then one per (symbol, timeframe) in the order of their best
    entries' ranks."""
    overfitting = report["overfitting"]
    pbo = overfitting.get("pbo")
    trials = report["trials"]
    threshold = report["deflation"]["threshold"]
    out: list[dict[str, Any]] = []
    if pbo is not None and pbo >= PBO_LIMIT:
        out.append(
            {
                "kind": "overfit",
                "text": (
                    f"The ranking is likely overfit: in {pbo:.0%} of {overfitting['splits']} "
                    f"CSCV splits the in-sample best of {trials} trials ranked at or below the "
                    f"out-of-sample median (PBO {pbo:.2f}). Distrust every winner below."
                ),
                "evidence": {"pbo": pbo, "splits": overfitting["splits"], "trials": trials},
            }
        )
    seen: set[tuple[str, str]] = set()
    for row in report["entries"]:
        market = (row["symbol"], row["timeframe"])
        if market in seen:
            continue
        seen.add(market)
        out.append(_for_market(row, report, pbo, threshold, trials))
    for label, rows in (report.get("regimes") or {}).items():
        out.append(_for_regime(label, rows, pbo, threshold, trials))
    return out


def _for_regime(
    label: str, rows: list[dict[str, Any]], pbo: float | None, threshold: float, trials: int
) -> dict[str, Any]:
    best = rows[0]
    regime = label.replace("_", " ")
    figures = (
        f"{best['strategy']} earned {_pct(best['mean_return'], digits=3)} per bar with a per-bar "
        f"Sharpe ratio of {_num(best['sharpe_per_bar'], 3)} over {best['bars']} out-of-sample "
        f"bars in {len(best['markets'])} markets; deflated Sharpe ratio "
        f"{_num(best['deflated_sharpe'])} after {trials} trials (threshold {threshold}); "
        f"tournament PBO {_num(pbo)}"
    )
    runner_up = f"; next: {rows[1]['strategy']}" if len(rows) > 1 else ""
    if best["passes"] and best["sharpe_per_bar"] > 0 and (pbo is None or pbo < PBO_LIMIT):
        kind, text = "regime", f"When the market is {regime}, prefer {best['strategy']}: {figures}"
    else:
        kind = "regime_no_edge"
        text = (
            f"When the market is {regime}, no strategy won clearly out of sample; the best, "
            f"{figures}"
        )
    return {
        "kind": kind,
        "regime": label,
        "strategy": best["strategy"],
        "text": text + runner_up + ".",
        "evidence": {
            "out_of_sample": {
                "bars": best["bars"],
                "mean_return": best["mean_return"],
                "sharpe_per_bar": best["sharpe_per_bar"],
                "markets": best["markets"],
            },
            "deflated_sharpe": best["deflated_sharpe"],
            "dsr_threshold": threshold,
            "pbo": pbo,
            "trials": trials,
        },
    }


def _for_market(
    row: dict[str, Any], report: dict[str, Any], pbo: float | None, threshold: float, trials: int
) -> dict[str, Any]:
    oos = row["out_of_sample"]
    dsr = row["deflated_sharpe"]
    objective = report["objective"]
    value = oos.get(objective)
    better = value is not None and (value > 0 if report["direction"] == "maximize" else True)
    where = f"{row['symbol']} {row['timeframe']}"
    figures = (
        f"out of sample over {report['folds']} folds it returned {_pct(oos.get('total_return'))} "
        f"with Sharpe {_num(oos.get('sharpe'))} and a {_pct(oos.get('max_drawdown'), sign=False)} "
        "maximum drawdown"
    )
    deflated = (
        f"deflated Sharpe ratio {_num(dsr['value'])} after {trials} trials "
        f"(threshold {threshold}); tournament PBO {_num(pbo)}"
    )
    slide = ""
    if row["in_sample_objective"] is not None and value is not None:
        slide = (
            f"; {objective} went from {_num(row['in_sample_objective'])} in sample to "
            f"{_num(value)} out of sample"
        )
    if dsr["passes"] and better and (pbo is None or pbo < 0.5):
        kind = "trade"
        text = f"Trade {row['strategy']} on {where}: {figures}; {deflated}{slide}."
    elif dsr["passes"] and better:
        kind = "caution"
        text = (
            f"{row['strategy']} leads on {where} but the selection overfits: {figures}; "
            f"{deflated}{slide}. Confirm on new data before trading it."
        )
    else:
        kind = "no_edge"
        text = (
            f"No strategy shows an edge on {where}: the best out of sample, {row['strategy']}, "
            f"is indistinguishable from luck; {figures}; {deflated}{slide}. Stay out or "
            "gather more data."
        )
    return {
        "kind": kind,
        "strategy": row["strategy"],
        "params": row["params"],
        "symbol": row["symbol"],
        "timeframe": row["timeframe"],
        "text": text,
        "evidence": {
            "rank": row["rank"],
            "out_of_sample": {
                k: oos.get(k) for k in ("sharpe", "total_return", "max_drawdown", "trade_count")
            },
            "in_sample_objective": row["in_sample_objective"],
            "degradation": row["degradation"],
            "deflated_sharpe": dsr["value"],
            "dsr_threshold": threshold,
            "pbo": pbo,
            "trials": trials,
            "folds": report["folds"],
        },
    }


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None, *, sign: bool = True, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.{digits}%}" if sign else f"{value:.{digits}%}"
