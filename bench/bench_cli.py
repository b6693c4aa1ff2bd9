"""CLI latency: short commands end to end, this checkout beside a baseline checkout, one run.

Stores 2,000 synthetic daily bars (`CLI1D`) in the configured or embedded database, holds the
embedded server for the whole run (so every command attaches to it, as beside `velocitas up`),
then times each command as a fresh process (`python -m velocitas_cli.main ...`): wall time and
CPU time (user + system) of the child, the median of `--runs` after one warm-up run (numba's
caches written, files in the page cache). With `--baseline DIR` (another checkout, e.g. main
before issue 13) the same commands run from there too, alternating, and the ratio is printed.

`backtest run` on 2,000 bars takes plain Python (`velocitas_cli.small_runs`); the same command
forced through numba (`VELOCITAS_JIT=numba`) is timed beside it. Children run without
`PYTHONDONTWRITEBYTECODE` (this VM exports it): a default Python writes the `.pyc` files it
loads from then on, so every run compiles ~80 modules from source without it (~0.1 s).

    python bench/bench_cli.py [--runs 7] [--baseline /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from velocitas import embedded  # noqa: E402
from velocitas.db.bars import stored_span  # noqa: E402
from velocitas.domain.timeframe import Timeframe  # noqa: E402
from velocitas.ingest import import_table  # noqa: E402
from velocitas.synth import synth_bars  # noqa: E402

SYMBOL = "CLI1D"
BACKTEST_RUN = ["backtest", "run", "--symbol", SYMBOL, "--timeframe", "1d", "--strategy",
                "sma_cross", "--json"]  # fmt: skip
# label: (argv, environment overrides)
COMMANDS: dict[str, tuple[list[str], dict[str, str]]] = {
    "--help": (["--help"], {}),
    "backtest run, 2,000 daily bars": (BACKTEST_RUN, {}),
    "backtest run, 2,000 daily bars, compiled": (BACKTEST_RUN, {"VELOCITAS_JIT": "numba"}),
    "analyst sentiment, nothing to embed": (
        ["analyst", "sentiment", "--symbol", SYMBOL, "--at", "2030-01-01T00:00:00Z"], {},
    ),
}  # fmt: skip


def _store_bars() -> None:
    if stored_span(SYMBOL, "1d") is None:
        import_table(synth_bars(2000, Timeframe.D1, seed=3), symbol=SYMBOL, timeframe="1d")


def _time(tree: Path, argv: list[str], overrides: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one `python -m velocitas_cli.main ARGV` run from `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree), **overrides}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "velocitas_cli.main", *argv],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="another checkout to time beside this one")
    args = parser.parse_args()
    embedded.database_url()  # start (or attach to) the server and hold it for the whole run
    _store_bars()
    trees = {"ours": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    for label, (argv, overrides) in COMMANDS.items():
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
        for tree in trees.values():
            _time(tree, argv, overrides)  # warm-up
        for _ in range(args.runs):
            for name, tree in trees.items():
                samples[name].append(_time(tree, argv, overrides))
        print(label)
        medians = {}
        for name, runs in samples.items():
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            medians[name] = wall
            print(
                f"  {name:<9} median wall {wall:6.2f} s (min {min(w for w, _ in runs):5.2f}), "
                f"median CPU {cpu:5.2f} s"
            )
        if "baseline" in medians:
            print(f"  ratio baseline / ours (wall)  {medians['baseline'] / medians['ours']:5.2f}x")
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
