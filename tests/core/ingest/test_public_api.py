"""The public surface of core.ingest is what `__all__` says, sorted."""

from __future__ import annotations

import core.ingest


def test_ingest_exports_exactly_all_sorted() -> None:
    exported = core.ingest.__all__
    assert exported == sorted(exported)
    public = {name for name in vars(core.ingest) if not name.startswith("_")}
    submodules = {
        "catalog",
        "checks",
        "importer",
        "loader",
        "problems",
        "source",
        "summary",
        "times",
    }
    assert public - submodules == set(exported)
