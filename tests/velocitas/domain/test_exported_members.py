"""velocitas.domain's public surface: a sorted __all__ naming every public class it exports."""

from __future__ import annotations

import types

import velocitas.domain


def test_domain_all_is_sorted_and_complete() -> None:
    names = velocitas.domain.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(velocitas.domain, name), name
    public = {
        name
        for name, value in vars(velocitas.domain).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(names)
