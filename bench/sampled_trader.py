"""`python -m trader` with a stack sampler, for bench/stream_sessions.py --profile.

Every 50 ms a thread reads every thread's Python stack (`sys._current_frames`) and counts each
function of this repository on it (inclusive: a function counts once per sample it is anywhere
on a stack). At exit it writes the counts, most first, to $SAMPLED_TRADER_OUT. A session thread
sleeping until its next tick is due shows as `feed.py:wait_until` (idle, not cost).
"""

from __future__ import annotations

import atexit
import collections
import os
import runpy
import sys
import threading
import time
from pathlib import Path
from types import FrameType

REPO = str(Path(__file__).resolve().parent.parent)
counts: collections.Counter[str] = collections.Counter()
samples = [0]


def _sample() -> None:
    me = threading.get_ident()
    while True:
        time.sleep(0.05)
        for ident, frame in sys._current_frames().items():
            if ident == me:
                continue
            seen: set[str] = set()
            f: FrameType | None = frame
            while f is not None:
                path = f.f_code.co_filename
                if path.startswith(REPO) and "/.venv/" not in path:
                    seen.add(f"{os.path.relpath(path, REPO)}:{f.f_code.co_name}")
                f = f.f_back
            counts.update(seen)
            samples[0] += 1


def _dump() -> None:
    out = os.environ.get("SAMPLED_TRADER_OUT")
    if out:
        lines = [f"{n}\t{name}" for name, n in counts.most_common(60)]
        Path(out).write_text(f"{samples[0]} thread samples\n" + "\n".join(lines) + "\n")


atexit.register(_dump)
threading.Thread(target=_sample, daemon=True, name="sampler").start()
sys.argv = ["trader"]
runpy.run_module("trader", run_name="__main__", alter_sys=True)
