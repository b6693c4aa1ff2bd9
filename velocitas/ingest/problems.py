"""Row problems found by vectorised checks, collected cheaply: a mask of bad rows for the
count, and only the first few problems of each check turned into messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from velocitas.errors import RowProblem

MAX_LISTED = 20
"""How many problems an error or a summary lists; the total is always counted."""


@dataclass(frozen=True, slots=True)
class _Check:
    rows: npt.NDArray[np.int64]  # 0-based row indices, ascending
    column: str
    rank: int  # position of the column in the file, so a row's problems list left to right
    reason: Callable[[int], str]


class ProblemLog:
    """Accumulates failed checks over `n_rows` rows (0-based indices inside, 1-based out)."""

    def __init__(self, n_rows: int, column_rank: dict[str, int]) -> None:
        self.bad = np.zeros(n_rows, dtype=bool)
        self._column_rank = column_rank
        self._checks: list[_Check] = []

    def add(
        self, rows: npt.NDArray[np.int64], column: str, reason: Callable[[int], str] | str
    ) -> None:
        """Record that `rows` (0-based, ascending) fail a check on `column`.

        `reason` is a message, or a function of the 0-based row giving one; it is called
        only for the rows that end up listed.
        """
        if rows.size == 0:
            return
        self.bad[rows] = True
        why = reason if callable(reason) else (lambda _row, text=reason: text)
        self._checks.append(_Check(rows, column, self._column_rank.get(column, 99), why))

    @property
    def total(self) -> int:
        """Number of distinct bad rows."""
        return int(self.bad.sum())

    def first(self, limit: int = MAX_LISTED) -> list[RowProblem]:
        """The first `limit` problems by row, then by column position in the file."""
        candidates = [
            (int(row), check.rank, check) for check in self._checks for row in check.rows[:limit]
        ]
        candidates.sort(key=lambda item: (item[0], item[1]))
        return [
            RowProblem(row=row + 1, column=check.column, reason=check.reason(row))
            for row, _rank, check in candidates[:limit]
        ]
