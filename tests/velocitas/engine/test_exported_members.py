"""velocitas.engine's public surface: a sorted __all__ whose every name exists."""

from __future__ import annotations

import velocitas.engine


def test_engine_all_is_sorted_and_complete() -> None:
    names = velocitas.engine.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    for name in names:
        assert hasattr(velocitas.engine, name), name
    public = {n for n in dir(velocitas.engine) if not n.startswith("_") and n[0].isupper()}
    classes_and_constants = public - {
        # submodules are attributes of the package once imported
        "codes", "alignment", "kernel", "intrabar", "ledger", "positions", "result", "risk",
        "runner", "spec", "version",
    }  # fmt: skip
    assert classes_and_constants <= set(names)
