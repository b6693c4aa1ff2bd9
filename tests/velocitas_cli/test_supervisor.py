"""The restart policy and the supervisor's rounds, without processes: times are passed in."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from velocitas_cli.supervisor import RestartHistory, RestartPolicy, Supervisor, describe_exit

QUICK = RestartPolicy(first_delay_s=0.5, max_delay_s=4.0, loop_restarts=100)


def _quick_exits(history: RestartHistory, count: int, start: float = 0.0) -> list[float | None]:
    """`count` exits of a unit that dies 0.1 s after each start, restarted when told."""
    delays: list[float | None] = []
    now = start
    for _ in range(count):
        delay = history.after_exit(started_at=now, exited_at=now + 0.1)
        delays.append(delay)
        now += 0.1 + (delay or 0.0)
    return delays


def test_restart_delay_doubles_up_to_its_cap() -> None:
    assert _quick_exits(RestartHistory(QUICK), 6) == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_unit_that_stayed_up_starts_the_backoff_again() -> None:
    history = RestartHistory(QUICK)
    _quick_exits(history, 4)
    assert history.after_exit(started_at=100.0, exited_at=100.0 + QUICK.stable_after_s) == 0.5


def test_more_than_five_quick_restarts_in_a_row_is_a_crash_loop() -> None:
    history = RestartHistory(RestartPolicy())
    assert _quick_exits(history, 6) == [0.5, 1.0, 2.0, 4.0, 8.0, None]
    assert history.restarts == 5


def test_slow_starts_that_fail_are_a_crash_loop_too() -> None:
    history = RestartHistory(RestartPolicy())
    delays = [history.after_exit(started_at=60.0 * i, exited_at=60.0 * i + 59.0) for i in range(6)]
    assert delays[-1] is None


def test_a_unit_that_stays_up_between_crashes_is_never_a_crash_loop() -> None:
    history = RestartHistory(RestartPolicy())
    for i in range(12):  # one crash every 61 s
        assert history.after_exit(started_at=61.0 * i, exited_at=61.0 * i + 60.0) == 0.5


@pytest.mark.parametrize(
    ("returncode", "described"),
    [(0, "exit code 0"), (1, "exit code 1"), (-9, "signal SIGKILL"), (-15, "signal SIGTERM")],
)
def test_describe_exit_names_the_code_or_the_signal(returncode: int, described: str) -> None:
    assert describe_exit(returncode) == described


@dataclass
class FakeUnit:
    """A unit whose death the test decides; `fail_starts` makes its next starts raise."""

    name: str
    alive: bool = True
    starts: int = 0
    fail_starts: int = 0

    def start(self) -> None:
        if self.fail_starts:
            self.fail_starts -= 1
            raise OSError("port taken")
        self.starts += 1
        self.alive = True

    def exit_status(self) -> str | None:
        return None if self.alive else "signal SIGKILL"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _supervisor(*units: FakeUnit) -> tuple[Supervisor, Clock, list[str]]:
    clock, reports = Clock(), []
    return Supervisor(units, report=reports.append, clock=clock), clock, reports


def test_a_dead_unit_is_restarted_after_its_delay_and_the_others_left_alone() -> None:
    worker, gateway = FakeUnit("worker1"), FakeUnit("gateway")
    supervisor, clock, reports = _supervisor(worker, gateway)

    worker.alive = False
    assert supervisor.check() is None
    assert worker.starts == 0  # waits out the first delay
    clock.now = 0.5
    assert supervisor.check() is None

    assert (worker.starts, worker.alive) == (1, True)
    assert gateway.starts == 0
    assert any("worker1" in r and "SIGKILL" in r for r in reports)


def test_a_unit_that_keeps_dying_stops_the_supervisor_with_its_name() -> None:
    worker = FakeUnit("worker1")
    supervisor, clock, _ = _supervisor(worker)

    reason = None
    for _ in range(100):
        worker.alive = False
        reason = supervisor.check()
        if reason is not None:
            break
        clock.now += 30.0 / 100 + 8.0  # past any delay: restarted at the next round
        supervisor.check()

    assert reason is not None
    assert "worker1" in reason
    assert worker.starts == RestartPolicy().loop_restarts


def test_a_failed_start_is_retried_with_backoff() -> None:
    redis = FakeUnit("redis", fail_starts=2)
    supervisor, clock, _ = _supervisor(redis)

    redis.alive = False
    for now in (0.0, 0.5, 1.5, 3.5):  # died; start fails twice; then starts
        clock.now = now
        assert supervisor.check() is None

    assert (redis.starts, redis.alive) == (1, True)
