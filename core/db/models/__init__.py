"""Every table, on one `Base.metadata` (the schema Alembic migrates to).

Each area keeps its models in its own module; import it here so the metadata is complete.
"""

from core.db.models import lab as lab  # registers model (the lab's registry)
from core.db.models import news as news  # registers news, sentiment
from core.db.models.accounts import ApiKey, UserAccount
from core.db.models.base import Base, Money
from core.db.models.jobs import BacktestJob, BacktestTrade, EquityChunk
from core.db.models.market import Bar, BarDataVersion

__all__ = [
    "ApiKey",
    "BacktestJob",
    "BacktestTrade",
    "Bar",
    "BarDataVersion",
    "Base",
    "EquityChunk",
    "Money",
    "UserAccount",
]
