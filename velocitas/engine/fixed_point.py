"""The exact ledger in scaled integers (numba): the Decimal ledger's arithmetic, without Decimal.

Every amount the Decimal ledger (`velocitas.engine.ledger.decimal_ledger`) produces is a
Decimal whose exponent is fixed by the inputs alone: a price has 8 decimals, a quantity the lot
size's exponent, a fee the smaller of `quantity × price × rate`'s and the fixed fee's, and so on
(exact Decimal addition keeps the smaller exponent, multiplication adds them). So each column
is an integer coefficient at one exponent known before the run, and the ledger's sums and
products are integer sums and products once the operands are brought to a common exponent.
Those exponents and the powers of ten that align them are worked out in Python
(`velocitas.engine.exact_ledger`); this module only multiplies and adds.

Amounts that grow past int64 (a fee at 19 decimals of a 10,000 notional is 10**23 units) are
"wide" numbers: two int64 (hi, lo) worth hi × 10**18 + lo, with 0 <= lo < 10**18, enough for
|amounts| below 4 × 10**36 units. Multiplying a wide number by an int64 factor below 10**18
works in base-10**9 halves, so no step overflows. Overflow is detected, never wrapped: every
hi part is checked in float64 to stay below 4 × 10**18, and a run that would leave that range
reports it so the caller replays it in Decimal instead. A price that cannot be proven to round
like `f"{price:.8f}"` (one of 4.5e7 or more) is reported the same way.
"""

from __future__ import annotations

import math

import numpy as np

from velocitas.engine.codes import F_LEG, F_LOTS, F_PRICE, F_REASON, F_SIDE, REASON_ENTRY
from velocitas.jit import njit

__all__ = [
    "L_COLUMNS",
    "L_FEES_HI",
    "L_FEES_LO",
    "L_GROSS_HI",
    "L_GROSS_LO",
    "L_NET_HI",
    "L_NET_LO",
    "L_TRADES",
    "STATUS_EXIT_WITHOUT_ENTRY",
    "STATUS_OK",
    "STATUS_OPEN_AT_END",
    "STATUS_OUT_OF_RANGE",
    "T_COLUMNS",
    "T_FEES_HI",
    "T_FEES_LO",
    "T_GROSS_HI",
    "T_GROSS_LO",
    "T_NET_HI",
    "T_NET_LO",
    "U_COLUMNS",
    "U_FEE_HI",
    "U_FEE_LO",
    "U_PRICE",
    "U_QUANTITY",
    "WIDE_BASE",
    "fill_units",
    "price_units",
]

STATUS_OK = 0
STATUS_OUT_OF_RANGE = 1  # an amount would leave int64, or a price is beyond exact rounding
STATUS_OPEN_AT_END = 2  # engine bug: an entry without its exit
STATUS_EXIT_WITHOUT_ENTRY = 3  # engine bug: an exit without its entry

WIDE_BASE = 10**18
_HALF_BASE = 10**9
# Columns of the fill units (price at 8 decimals, quantity, fee as a wide number).
U_PRICE = 0
U_QUANTITY = 1
U_FEE_HI = 2
U_FEE_LO = 3
U_COLUMNS = 4
# Columns of the trade units: gross, fees and net P&L, each a wide number.
T_GROSS_HI = 0
T_GROSS_LO = 1
T_FEES_HI = 2
T_FEES_LO = 3
T_NET_HI = 4
T_NET_LO = 5
T_COLUMNS = 6
# Columns of the per-leg totals: closed trades, then gross, fees and net P&L (wide).
L_TRADES = 0
L_GROSS_HI = 1
L_GROSS_LO = 2
L_FEES_HI = 3
L_FEES_LO = 4
L_NET_HI = 5
L_NET_LO = 6
L_COLUMNS = 7

_QUANTITY_LIMIT = 1e18  # a quantity's coefficient is a factor of `_times`
_PRICE_SCALE = 1e8  # 10 ** PRICE_DECIMALS, exact in float64
_LIMIT = 4.0e18  # a wide number's hi part stays below it (float checks with room to spare)
_SPLITTER = 134217729.0  # 2**27 + 1, Dekker's split of a float64 into two 26-bit halves
_MAX_FLOOR = 4503599627370496.0  # 2**52: below it x × 1e8 has a fractional part to round


@njit(cache=True, inline="always")
def _product_error(a: float, b: float, product: float) -> float:
    """a × b − fl(a × b), exactly (Dekker's TwoProduct; no overflow or underflow here)."""
    c = _SPLITTER * a
    a_hi = c - (c - a)
    a_lo = a - a_hi
    c = _SPLITTER * b
    b_hi = c - (c - b)
    b_lo = b - b_hi
    return ((a_hi * b_hi - product) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


@njit(cache=True)
def price_units(price: float) -> tuple[int, bool]:
    """(round-half-even of price × 10**8, exact) as `f"{price:.8f}"` rounds it, and whether the
    rounding could be proven (False for NaN, non-positive or ≥ 4.5e7 prices).

    x × 1e8 = p + e exactly (TwoProduct); with r = floor(p), the exact remainder D = (p − r) + e
    is s + err (TwoSum), and D lies in (−0.25, 1.25), so the rounded value is r or r + 1:
    r + 1 when D > 0.5, r + (r odd) on the tie D = 0.5.
    """
    p = price * _PRICE_SCALE
    if not (p >= 0.0 and p < _MAX_FLOOR):
        return 0, False
    if p < 0.25:  # the exact product is below 0.5 as well: rounds to 0
        return 0, True
    e = _product_error(price, _PRICE_SCALE, p)
    r = math.floor(p)
    a = p - r  # exact: the fractional part of a float is a float
    s = a + e
    b_virtual = s - a
    err = (a - (s - b_virtual)) + (e - b_virtual)  # TwoSum: a + e == s + err exactly
    units = int(r)
    if s > 0.5 or (s == 0.5 and (err > 0.0 or (err == 0.0 and units % 2 == 1))):
        units += 1
    return units, True


@njit(cache=True, inline="always")
def _wide(value: int) -> tuple[int, int]:
    """An int64 as a wide number (hi, lo): value = hi × 10**18 + lo, 0 <= lo < 10**18."""
    return value // WIDE_BASE, value % WIDE_BASE


@njit(cache=True, inline="always")
def _negated(hi: int, lo: int) -> tuple[int, int]:
    if lo == 0:
        return -hi, 0
    return -hi - 1, WIDE_BASE - lo


@njit(cache=True, inline="always")
def _added(a_hi: int, a_lo: int, b_hi: int, b_lo: int) -> tuple[int, int, bool]:
    """a + b, and whether it fits."""
    lo = a_lo + b_lo  # < 2 × 10**18: no int64 overflow
    carry = 1 if lo >= WIDE_BASE else 0
    fits = abs(float(a_hi)) + abs(float(b_hi)) + 1.0 < _LIMIT
    return a_hi + b_hi + carry, lo - carry * WIDE_BASE, fits


@njit(cache=True, inline="always")
def _times(hi: int, lo: int, factor: int) -> tuple[int, int, bool]:
    """(hi, lo) × factor for |factor| < 10**18, and whether it fits.

    lo × |factor| in base-10**9 halves: every partial product is below 10**18 and every sum of
    them below 4 × 10**18, so int64 holds them all.
    """
    magnitude = abs(factor)
    lo1, lo0 = lo // _HALF_BASE, lo % _HALF_BASE
    m1, m0 = magnitude // _HALF_BASE, magnitude % _HALF_BASE
    middle = lo1 * m0 + lo0 * m1
    low = lo0 * m0 + (middle % _HALF_BASE) * _HALF_BASE
    carry = low // WIDE_BASE
    # out_hi is hi × m plus less than 1.1 × 10**18: keep it below _LIMIT too.
    fits = magnitude < WIDE_BASE and abs(float(hi) * float(magnitude)) + 1.1e18 < _LIMIT
    out_hi = hi * magnitude + lo1 * m1 + middle // _HALF_BASE + carry
    out_lo = low % WIDE_BASE
    if factor < 0:
        out_hi, out_lo = _negated(out_hi, out_lo)
    return out_hi, out_lo, fits


@njit(cache=True, nogil=True)  # sweeps run it on every core at once
def fill_units(
    records: np.ndarray,
    legs: int,
    lot: int,
    rate: int,
    fixed: np.ndarray,
    initial_cash: np.ndarray,
    scales: np.ndarray,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Replay the kernel's fill records in scaled integers.

    `lot` and `rate` are the spec's Decimal coefficients (below 10**18); `fixed` and
    `initial_cash` the fixed fee at the fees' exponent and the initial cash at the cash's, as
    wide numbers (hi, lo); `scales` the powers of ten (below 10**18) that bring a sum's terms
    to the sum's exponent (`velocitas.engine.exact_ledger.Exponents`): [rate term → fee,
    notional → cash, fee → cash, gross → net, fees → net].

    Wide amounts (fees, cash, trade P&L) are pairs (hi, lo) worth hi × 10**18 + lo. Returns
    (status, fill columns `U_*` (n, 4), trades' entry and exit fill rows, trade columns `T_*`
    (trades, 6), trades' negative-zero flags [gross, net] (trades, 2), cash (hi, lo), per-leg
    totals `L_*` (legs, 7)). Arrays are meaningful only when status is `STATUS_OK`.
    """
    n = records.shape[0]
    rate_to_fee, notional_to_cash, fee_to_cash = scales[0], scales[1], scales[2]
    gross_to_net, fees_to_net = scales[3], scales[4]
    fills = np.empty((n, U_COLUMNS), dtype=np.int64)
    entry_row = np.empty(n, dtype=np.int64)
    exit_row = np.empty(n, dtype=np.int64)
    trades = np.empty((n, T_COLUMNS), dtype=np.int64)
    negative_zero = np.zeros((n, 2), dtype=np.bool_)
    totals = np.zeros((legs, L_COLUMNS), dtype=np.int64)
    open_row = np.full(legs, -1, dtype=np.int64)
    cash = np.zeros(2, dtype=np.int64)
    fixed_hi, fixed_lo = fixed[0], fixed[1]
    cash_hi, cash_lo = initial_cash[0], initial_cash[1]
    count = 0
    status = STATUS_OK
    if not (abs(rate) < WIDE_BASE and abs(lot) < WIDE_BASE):
        status = STATUS_OUT_OF_RANGE
        n = 0
    for i in range(n):
        price, exact = price_units(records[i, F_PRICE])
        lots = int(records[i, F_LOTS])
        if not (exact and abs(float(lots) * float(lot)) < _QUANTITY_LIMIT):
            status = STATUS_OUT_OF_RANGE
            break
        quantity = lots * lot
        q_hi, q_lo = _wide(quantity)
        n_hi, n_lo, ok1 = _times(q_hi, q_lo, price)
        r_hi, r_lo, ok2 = _times(n_hi, n_lo, rate)
        r_hi, r_lo, ok3 = _times(r_hi, r_lo, rate_to_fee)
        fee_hi, fee_lo, ok4 = _added(r_hi, r_lo, fixed_hi, fixed_lo)
        s_hi, s_lo, ok5 = _times(
            n_hi, n_lo, -notional_to_cash if records[i, F_SIDE] > 0 else notional_to_cash
        )
        g_hi, g_lo, ok6 = _times(fee_hi, fee_lo, -fee_to_cash)
        s_hi, s_lo, ok7 = _added(s_hi, s_lo, g_hi, g_lo)
        cash_hi, cash_lo, ok8 = _added(cash_hi, cash_lo, s_hi, s_lo)
        if not (ok1 and ok2 and ok3 and ok4 and ok5 and ok6 and ok7 and ok8):
            status = STATUS_OUT_OF_RANGE
            break
        fills[i, U_PRICE] = price
        fills[i, U_QUANTITY] = quantity
        fills[i, U_FEE_HI] = fee_hi
        fills[i, U_FEE_LO] = fee_lo
        leg = int(records[i, F_LEG])
        if int(records[i, F_REASON]) == REASON_ENTRY:
            open_row[leg] = i
            continue
        entry = open_row[leg]
        if entry < 0:
            status = STATUS_EXIT_WITHOUT_ENTRY
            break
        open_row[leg] = -1
        long = records[entry, F_SIDE] > 0
        move = price - fills[entry, U_PRICE]
        h_hi, h_lo = _wide(fills[entry, U_QUANTITY])
        gross_hi, gross_lo, ok1 = _times(h_hi, h_lo, move if long else -move)
        fees_hi, fees_lo, ok2 = _added(
            fills[entry, U_FEE_HI], fills[entry, U_FEE_LO], fee_hi, fee_lo
        )
        a_hi, a_lo, ok3 = _times(gross_hi, gross_lo, gross_to_net)
        b_hi, b_lo, ok4 = _times(fees_hi, fees_lo, -fees_to_net)
        net_hi, net_lo, ok5 = _added(a_hi, a_lo, b_hi, b_lo)
        row = totals[leg]
        row[L_GROSS_HI], row[L_GROSS_LO], ok6 = _added(
            row[L_GROSS_HI], row[L_GROSS_LO], gross_hi, gross_lo
        )
        row[L_FEES_HI], row[L_FEES_LO], ok7 = _added(
            row[L_FEES_HI], row[L_FEES_LO], fees_hi, fees_lo
        )
        row[L_NET_HI], row[L_NET_LO], ok8 = _added(row[L_NET_HI], row[L_NET_LO], net_hi, net_lo)
        row[L_TRADES] += 1
        if not (ok1 and ok2 and ok3 and ok4 and ok5 and ok6 and ok7 and ok8):
            status = STATUS_OUT_OF_RANGE
            break
        # Decimal keeps the sign of a zero product: a short's −1 × quantity × (+0) is −0, and
        # −0 − (+0) stays −0 (any other zero sum is +0).
        short_flat = not long and move == 0
        negative_zero[count, 0] = short_flat
        negative_zero[count, 1] = short_flat and fees_hi == 0 and fees_lo == 0
        entry_row[count] = entry
        exit_row[count] = i
        trade = trades[count]
        trade[T_GROSS_HI], trade[T_GROSS_LO] = gross_hi, gross_lo
        trade[T_FEES_HI], trade[T_FEES_LO] = fees_hi, fees_lo
        trade[T_NET_HI], trade[T_NET_LO] = net_hi, net_lo
        count += 1
    if status == STATUS_OK and np.any(open_row >= 0):
        status = STATUS_OPEN_AT_END
    cash[0], cash[1] = cash_hi, cash_lo
    return (
        status, fills, entry_row[:count], exit_row[:count], trades[:count],
        negative_zero[:count], cash, totals,
    )  # fmt: skip
