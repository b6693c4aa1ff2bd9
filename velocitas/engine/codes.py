"""Integer codes shared by the numba kernel and the Python layers (numba folds them in)."""

from __future__ import annotations

# Why a fill happened. 0 opens a position; the others close one (the trade's exit reason).
REASON_ENTRY = 0
REASON_SIGNAL = 1
REASON_STOP_LOSS = 2
REASON_TAKE_PROFIT = 3
REASON_TRAILING_STOP = 4
REASON_KILL_SWITCH = 5
REASON_END_OF_DATA = 6
FILL_REASONS = (
    "entry",
    "signal",
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "kill_switch",
    "end_of_data",
)

# Why an entry order was refused.
REJECT_INSUFFICIENT_FUNDS = 1
REJECT_SIZE_BELOW_LOT = 2
REJECT_MAX_POSITION = 3
REJECT_DAILY_LOSS_LIMIT = 4
REJECT_COOLDOWN = 5
REJECT_KILL_SWITCH = 6
REJECT_REASONS = (
    "",
    "insufficient_funds",
    "size_below_lot",
    "max_position",
    "daily_loss_limit",
    "cooldown",
    "kill_switch",
)

STOP_NONE = 0
STOP_PERCENT = 1
STOP_ATR = 2

PATH_PESSIMISTIC = 0
PATH_OHLC = 1
PATH_ADAPTIVE = 2
PATH_BRIDGE = 3  # the seeded ticks of velocitas.engine.ticks

FILL_NEXT_OPEN = 0
FILL_SAME_CLOSE = 1

SIZING_FIXED_QUANTITY = 0
SIZING_FIXED_CASH = 1
SIZING_FRACTION_OF_EQUITY = 2

# Kernel configuration vector: one float64 per setting (NaN = rule off).
CFG_INITIAL_CASH = 0
CFG_FEE_RATE = 1
CFG_FEE_FIXED = 2
CFG_SLIPPAGE = 3
CFG_FILL_MODE = 4
CFG_SIZING_MODE = 5
CFG_SIZING_VALUE = 6
CFG_LOT_SIZE = 7
CFG_ALLOW_SHORT = 8
CFG_SL_KIND = 9
CFG_SL_VALUE = 10
CFG_TP_KIND = 11
CFG_TP_VALUE = 12
CFG_TS_KIND = 13
CFG_TS_VALUE = 14
CFG_PATH = 15
CFG_MAX_POSITION = 16
CFG_MAX_DAILY_LOSS = 17
CFG_MAX_DRAWDOWN = 18
CFG_COOLDOWN_LOSSES = 19
CFG_COOLDOWN_BARS = 20
CFG_PRICE_DECIMALS = 21
CFG_TICKS_PER_BAR = 22  # the bridge path model's ticks per bar
CFG_TICK_SEED = 23  # its seed (an integer below 2**53)
# 24..27: the risk rules of issue 14.
CFG_SIZE = 28

# Columns of the fill records the kernel returns.
F_BAR = 0
F_LEG = 1
F_SIDE = 2  # +1 buy, -1 sell
F_LOTS = 3
F_PRICE = 4
F_FEE = 5
F_REASON = 6
F_COLUMNS = 7

# Columns of the rejection records.
R_BAR = 0
R_LEG = 1
R_SIDE = 2
R_LOTS = 3
R_REASON = 4
R_COLUMNS = 5
