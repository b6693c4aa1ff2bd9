"""Is a database at the shipped migrations' head? Answered without importing alembic.

Every process that attaches to the embedded database makes sure it is migrated; alembic (with
SQLAlchemy) takes longer to import than a short command takes to run. The head is read from
the version files' `revision = "…"` and `down_revision = "…"` lines and the database's from
`alembic_version`. Whenever the files say anything less plain (a merge, a dependency, a line
this reader does not follow), `shipped_head` gives None and the caller asks alembic.
"""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["at_head", "shipped_head"]

_LINE = re.compile(
    r"^(revision|down_revision|depends_on)\s*(?::[^=]*)?=\s*(.*?)\s*(?:#.*)?$", re.MULTILINE
)
_QUOTED = re.compile(r"""^(["'])([A-Za-z0-9_]+)\1$""")


@cache
def shipped_head() -> str | None:
    """The one head revision of the migrations shipped with this code, or None when it cannot
    be read plainly (then alembic must decide)."""
    spec = importlib.util.find_spec("migrations")  # finds the package without running it
    if spec is None or spec.origin is None:
        return None
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (Path(spec.origin).parent / "versions").glob("*.py"):
        if path.name == "__init__.py":
            continue
        fields = dict(_LINE.findall(path.read_text(encoding="utf-8")))
        revision = _QUOTED.match(fields.get("revision", ""))
        if revision is None or fields.get("depends_on", "None") != "None":
            return None
        revisions.add(revision.group(2))
        down = fields.get("down_revision")
        if down is None:
            return None
        if down != "None":
            parent = _QUOTED.match(down)
            if parent is None:  # a merge (a tuple) or an expression
                return None
            parents.add(parent.group(2))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def at_head(conn: Any) -> bool:
    """True when the database on `conn` (a psycopg connection) is known to be at the shipped
    head; False when it is not, or when that cannot be told without alembic."""
    head = shipped_head()
    if head is None:
        return False
    row = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return False
    versions = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version").fetchall()]
    return versions == [head]
