"""The public surface of velocitas.ingest is what `__all__` says, sorted."""

from __future__ import annotations

import velocitas.ingest


def test_ingest_exports_exactly_all_sorted() -> None:
    exported = velocitas.ingest.__all__
    assert exported == sorted(exported)
    public = {name for name in vars(velocitas.ingest) if not name.startswith("_")}
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
