"""Every table, on one `Base.metadata` (the schema Alembic migrates to).

Each area keeps its models in its own module; import it here so the metadata is complete.
"""

from velocitas.db.models import alerts as alerts  # registers alert_rule, alert
from velocitas.db.models import lab as lab  # registers model (the lab's registry)
from velocitas.db.models import news as news  # registers news, sentiment
from velocitas.db.models import sessions as sessions  # registers trading_session, journal, orders
from velocitas.db.models.accounts import ApiKey, UserAccount
from velocitas.db.models.base import Base, Money
from velocitas.db.models.jobs import BacktestJob, BacktestReport, BacktestTrade, EquityChunk
from velocitas.db.models.market import Bar, BarDataVersion

__all__ = [
    "ApiKey",
    "BacktestJob",
    "BacktestReport",
    "BacktestTrade",
    "Bar",
    "BarDataVersion",
    "Base",
    "EquityChunk",
    "Money",
    "UserAccount",
]
