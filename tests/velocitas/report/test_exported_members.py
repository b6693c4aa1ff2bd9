from __future__ import annotations

import velocitas.report


def test_report_all_is_sorted_and_exported() -> None:
    exported = velocitas.report.__all__
    assert exported == sorted(exported)
    assert all(hasattr(velocitas.report, name) for name in exported)
