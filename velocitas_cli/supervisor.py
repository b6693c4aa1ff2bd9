"""Keeping `velocitas up`'s processes running: restart what dies, with backoff, until a crash loop.

`RestartPolicy` and `RestartHistory` are the policy, pure (times are passed in), so they are
tested without processes. `Supervisor` applies it to anything `Supervised`: a child process or
an embedded server. A unit that dies is started again after a delay that starts at
`first_delay_s` and doubles (up to `max_delay_s`) while the unit keeps dying before it has
stayed up `stable_after_s`; a run that long starts the doubling again. A unit that needed
`loop_restarts` restarts in a row, none of which stayed up that long, is in a crash loop:
restarting cannot help (a port taken, a broken configuration), so the supervisor gives up and
says why. Runs are counted, not seconds, so a service that is slow to start (a loaded machine)
is judged the same way as a fast one.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["RestartHistory", "RestartPolicy", "Supervised", "Supervisor", "describe_exit"]


@dataclass(frozen=True)
class RestartPolicy:
    first_delay_s: float = 0.5
    max_delay_s: float = 30.0
    stable_after_s: float = 60.0
    loop_restarts: int = 5


@dataclass
class RestartHistory:
    """One unit's restarts under `policy`: how long to wait before the next, or a crash loop."""

    policy: RestartPolicy
    restarts: int = 0  # all of them, for the log
    _unstable: int = 0  # restarts in a row after runs shorter than `stable_after_s`
    _next_delay_s: float = field(init=False)

    def __post_init__(self) -> None:
        self._next_delay_s = self.policy.first_delay_s

    def after_exit(self, started_at: float, exited_at: float) -> float | None:
        """Seconds to wait before restarting a unit that ran from `started_at` to `exited_at`
        (monotonic seconds); None when that restart would be one too many: a crash loop."""
        policy = self.policy
        if exited_at - started_at >= policy.stable_after_s:
            self._unstable, self._next_delay_s = 0, policy.first_delay_s
        if self._unstable >= policy.loop_restarts:
            return None
        delay = self._next_delay_s
        self._next_delay_s = min(delay * 2, policy.max_delay_s)
        self._unstable += 1
        self.restarts += 1
        return delay


def describe_exit(returncode: int) -> str:
    """A child's end as a person reads it: `exit code 1`, `signal SIGKILL`."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"signal {signal.Signals(-returncode).name}"
    except ValueError:
        return f"signal {-returncode}"


class Supervised(Protocol):
    """Something the supervisor keeps running."""

    @property
    def name(self) -> str: ...

    def start(self) -> None:
        """Start it (again); raise when that fails."""

    def exit_status(self) -> str | None:
        """None while it runs; once it has died, how it ended (`exit code 1`, `signal SIGKILL`)."""


@dataclass
class _Watch:
    unit: Supervised
    history: RestartHistory
    started_at: float = 0.0
    restart_at: float | None = None  # set while the unit waits out its backoff


class Supervisor:
    """Restarts each unit that dies, reporting every restart through `report`."""

    def __init__(
        self,
        units: Sequence[Supervised],
        report: Callable[[str], None],
        policy: RestartPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy or RestartPolicy()
        self._watches = [_Watch(unit, RestartHistory(self._policy)) for unit in units]
        self._report = report
        self._clock = clock

    def run(self, stop: threading.Event, interval_s: float = 0.2) -> str | None:
        """Watch the (already started) units until `stop` is set (None) or one of them
        crash-loops (the reason, for the operator)."""
        for watch in self._watches:
            watch.started_at = self._clock()
        while not stop.wait(interval_s):
            reason = self.check()
            if reason is not None:
                return reason
        return None

    def check(self) -> str | None:
        """One round: restart the units whose backoff is over, note those that died."""
        for watch in self._watches:
            now = self._clock()
            if watch.restart_at is None:
                status = watch.unit.exit_status()
            elif now >= watch.restart_at:
                status = self._restart(watch, now)
            else:
                continue
            if status is not None:
                reason = self._on_exit(watch, status, now)
                if reason is not None:
                    return reason
        return None

    def _on_exit(self, watch: _Watch, status: str, now: float) -> str | None:
        name = watch.unit.name
        delay = watch.history.after_exit(watch.started_at, now)
        if delay is None:
            policy = self._policy
            return (
                f"{name} is down ({status}) after {policy.loop_restarts} restarts in a row, none "
                f"of which stayed up {policy.stable_after_s:g} s: a crash loop, restarting it "
                "cannot help"
            )
        self._report(f"{name} is down ({status}): restart {watch.history.restarts} in {delay:g} s")
        watch.restart_at = now + delay
        return None

    def _restart(self, watch: _Watch, now: float) -> str | None:
        """Start the unit again; None once started, else why it could not be (a failed start
        is a crash like any other: backoff, then another try)."""
        watch.restart_at = None
        watch.started_at = now
        try:
            watch.unit.start()
        except Exception as exc:
            return f"could not start: {str(exc) or type(exc).__name__}"
        self._report(f"{watch.unit.name} restarted (restart {watch.history.restarts})")
        return None
