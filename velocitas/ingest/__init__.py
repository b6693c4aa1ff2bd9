"""Market-data import: CSV/Parquet bars checked row by row, then upserted into `bar`.

Public API: `import_bars` (a file), `import_table` (columns in memory), `ImportSummary`.
The rules are documented for users in docs/data.md.
"""

from velocitas.ingest.importer import ProgressCallback, import_bars, import_table
from velocitas.ingest.source import SourceFormat
from velocitas.ingest.summary import GapRange, ImportSummary

__all__ = [
    "GapRange",
    "ImportSummary",
    "ProgressCallback",
    "SourceFormat",
    "import_bars",
    "import_table",
]
