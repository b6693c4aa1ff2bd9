from __future__ import annotations

import core.report


def test_report_all_is_sorted_and_exported() -> None:
    exported = core.report.__all__
    assert exported == sorted(exported)
    assert all(hasattr(core.report, name) for name in exported)
