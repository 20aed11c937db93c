"""Portfolio simulation kernel: one module, so numba's cache can never run stale code.

NumPy in, NumPy out; no pandas, no I/O, no project imports.

Why one module: numba caches each compiled function in a file keyed on its own source
file, and freezes the globals it reads (constants, dtypes, other njit functions) into
the compiled code. A kernel that called a helper or read a constant from another file
would keep the old compiled helper after that file changed. So the simulation core,
both drivers (`simulate_nb`, which keeps everything, and `sweep_nb`, which keeps only
metrics), their constants, record dtypes and the metric definitions all live here, and
no njit code in this module refers to a name from another module. Editing anything in
this file changes its stamp and recompiles every function in it.
(`metrics_nb.py` is separate because it is self-contained: it calls nothing here.)

Shapes: T = bars, N = assets, C = currencies, K = portfolios, S = cost segments,
M = extra charges per fill, P = 1 or K (rows of ``segment``), B = 1 or T (rows of
``borrow``), D = 1 or T (rows of ``dividends``). Float arrays are float64, integer arrays int64.

Inputs shared by both drivers, passed as one tuple ``market`` in this order
(`engine.inputs.KernelMarket.args` builds it once):

- ``close[T, N]`` valuation price, NaN = no price; ``exec_price[T, N]`` fill price,
  NaN or <= 0 = cannot trade; ``fx[T, C]`` base currency per unit of currency c
  (column 0 is the base currency); ``asset_ccy[N]`` column of ``fx`` of each asset;
  ``lot_size[N]`` board lot, <= 0 = fractional.
- ``costs[S, N]`` (`COST_DTYPE`): per-fill cost settings of each asset in each cost
  segment; ``charges[S, N, M, 3]`` extra charges (rate, minimum, maximum);
  ``segment[P, T]`` the cost segment in force at each bar, per portfolio row. A rate
  that changes on a date is a new segment from that bar on; an unchanged one costs
  nothing. Money amounts (minimum and fixed fees, charge bounds) are in the asset's
  own currency and are converted at the bar's fx when charged.
- ``borrow[B, N]`` annual borrow rate on short value; ``rates[T, N_RATES]`` per-bar
  year fraction, cash credit and debit rates, and the annual risk-free rate (metrics).
- ``dividends[D, N]`` cash dividend per share on each ex-date bar, in the asset's
  currency (0 = none); D = 1 means no dividends at all and costs nothing per bar.
  ``withholding[N]`` the tax rate withheld from dividends received on long positions.

Semantics (DESIGN.md, "Simulation semantics"), per portfolio and bar ``t``; each step is
one helper below, inlined in this order into `run_portfolio_nb`:

1. `accrue_nb`: over (t-1, t], positive cash earns ``rates[t, RATE_CASH_CREDIT]`` and
   negative cash pays ``rates[t, RATE_CASH_DEBIT]``, times ``rates[t, RATE_YEAR_FRAC]``;
   each short pays ``borrow[t, j]`` on its market value at the previous bar.
1b. `dividends_nb` (only when D = T): the holder entering the ex-date bar t, i.e. the
   quantity held at the close of bar t-1, is entitled to ``dividends[t, j]`` per share,
   settled in cash at bar t before anything trades (a position bought at bar t is not
   entitled; one sold at bar t is). A long receives it less ``withholding[j]``; a short
   pays it in full (the lender is owed the dividend, and no tax is withheld from a
   payment). The amount converts at bar t's fx (the last known rate if bar t has none).
   A dividend is paid on an ex-date where the asset itself has no price (a holiday of
   its exchange): entitlement depends on holding, not on trading.
2. `observe_nb`: last known close and fx are updated; a NaN keeps the previous value, so
   a price gap is valued at the last known price.
3. `receive_targets_nb`: a non-NaN target at row t replaces any pending target of that
   asset. A pending target executes at the asset's next tradable bar (finite positive
   execution price and a known fx rate); pending *weights* are resolved with the value
   at the bar where they execute.
4. `mark_nb`: value before trading marks each asset at its execution price where it
   trades this bar, at its last known close otherwise.
5. `plan_orders_nb`: target quantity = weight * value_before / (exec_price * fx),
   rounded toward zero to whole board lots (slippage moves the fill price, not the
   target). Each order is split into the part that reduces the position and the part
   that opens or increases one.
6. `cap_leverage_nb`: with a leverage cap, the increasing parts are scaled by one
   common factor so that gross exposure stays within ``max_leverage`` times the value
   after costs.
7. `sort_orders_nb` and `fill_side_nb` fill sells first (most negative order value
   first, ties in asset order); then, without a cap, `fund_buys_nb` scales buys that
   cash cannot fund by one common factor; then the buys fill. Scaling never drops an
   order silently: the base-currency value not traded is recorded as shortfall.
8. `fill_nb` charges, per fill, in base currency with v the traded value at the fill
   price and x the asset's fx: fee = max(fee_rate * v, fee_min * x) + fee_fixed * x
   + sum over charges of clip(rate * v, minimum * x, maximum * x); tax = buy_tax or
   sell_tax times v; conversion cost = fx_cost * v. Short-sale proceeds go to cash.
9. `close_bar_nb`: end-of-bar value = cash + sum(qty * last close * last fx).
10. Bankruptcy: a value at or below zero at the end of bar t marks the portfolio
    bankrupt (`STATUS_BANKRUPT`). `liquidate_nb` closes every position at bar t's last
    known close, with the costs of step 8 (slippage moves the fill price), and the bar's
    value columns are written again: value = cash, no exposure. From t + 1 on the curve
    is flat at that value: no trading, no interest, no borrow fees.
11. Overflow: a value, exposure, traded value or shortfall that is not finite (inf or
    NaN) at bar t stops the simulation with `STATUS_NOT_FINITE`; the wrapper raises
    instead of returning such a curve. Rows after the failing bar repeat its value.

Numerics: quantities are rounded to lots with a 1e-9 lot tolerance, so a target of
299.9999999999 shares with lot 100 rounds to 300, not 200. Orders whose traded value is
below 1e-12 of the portfolio value are skipped (float noise, not a trade). Without
fastmath, the same inputs give bit-identical outputs from either driver.

Reference: tests/reference.py::simulate_reference (a plain-Python loop, written
differently, with the same semantics) and vectorbt ``Portfolio.from_orders(
size_type="targetpercent", group_by=True, cash_sharing=True, call_seq="auto")`` and bt
where their rules coincide.
"""

import numpy as np
from numba import njit, prange

SIZE_TARGET_WEIGHT = 0
SIZE_TARGET_QUANTITY = 1
SIZE_TARGET_VALUE = 2

STATUS_OK = 0
STATUS_BANKRUPT = 1  # value fell to zero or below: every position closed, flat after
STATUS_NOT_FINITE = 2  # a money amount overflowed; the result must not be used

# Columns of the per-bar statistics array ``stats[T, N_STATS]``; money in base currency.
STAT_VALUE = 0  # end-of-bar portfolio value
STAT_CASH = 1  # end-of-bar cash
STAT_GROSS = 2  # sum of |position value| at the close
STAT_NET = 3  # sum of signed position value at the close
STAT_VALUE_PRE = 4  # value before trading (marked at execution prices)
STAT_TRADED = 5  # sum of |traded value| at fill prices
STAT_FEES = 6
STAT_TAXES = 7
STAT_FX_COSTS = 8
STAT_SLIPPAGE = 9  # |qty| * exec_price * slippage * fx: what slippage cost versus the quote
STAT_BORROW = 10  # borrow fees paid on shorts over (t-1, t]
STAT_INTEREST = 11  # interest credited to cash over (t-1, t]; negative when paid
STAT_SHORTFALL = 12  # value of orders not executed because cash or leverage could not fund them
STAT_DIVIDENDS = 13  # dividends on long positions, before withholding
STAT_DIVIDENDS_PAID = 14  # dividends paid on short positions (positive)
STAT_WITHHOLDING = 15  # tax withheld from the dividends of long positions
N_STATS = 16

# Columns of ``rates[T, N_RATES]``.
RATE_YEAR_FRAC = 0  # years from the previous bar to this one (0 at bar 0)
RATE_CASH_CREDIT = 1  # annual rate earned on positive cash over (t-1, t]
RATE_CASH_DEBIT = 2  # annual rate paid on negative cash over (t-1, t]
RATE_RISK_FREE = 3  # annual risk-free rate of bar t, for Sharpe and Sortino
N_RATES = 4

# Columns of ``charges[S, N, M, 3]``.
CHARGE_RATE = 0
CHARGE_MIN = 1  # in the asset's currency
CHARGE_MAX = 2  # in the asset's currency; inf = no maximum

COST_DTYPE = np.dtype(
    [
        ("fee_rate", np.float64),  # proportional commission
        ("fee_min", np.float64),  # minimum commission per fill, asset currency
        ("fee_fixed", np.float64),  # fixed fee per fill, asset currency
        ("buy_tax", np.float64),  # rate on the value of buys (e.g. stamp duty)
        ("sell_tax", np.float64),  # rate on the value of sells
        ("slippage", np.float64),  # fractional adverse move of the fill price
        ("fx_cost", np.float64),  # conversion cost rate (0 for base-currency assets)
    ],
    align=True,
)

TRADE_DTYPE = np.dtype(
    [
        ("portfolio", np.int64),
        ("bar", np.int64),
        ("asset", np.int64),
        ("qty", np.float64),  # signed: positive buys, negative sells
        ("price", np.float64),  # fill price in the asset's currency, slippage included
        ("fx", np.float64),  # base currency per unit of the asset's currency
        ("value", np.float64),  # signed qty * price * fx, base currency
        ("fees", np.float64),
        ("tax", np.float64),
        ("fx_cost", np.float64),
        ("slippage", np.float64),
    ],
    align=True,
)

# Metrics the kernel computes for every portfolio (`portfolio_metrics_nb`); the names
# are those of metrics.json. engine.metrics adds only what needs pandas or a benchmark.
M_TOTAL_RETURN = 0
M_CAGR = 1
M_VOLATILITY = 2
M_SHARPE = 3
M_SORTINO = 4
M_MAX_DRAWDOWN = 5
M_CALMAR = 6
M_TURNOVER = 7
M_AVG_GROSS = 8
M_AVG_NET = 9
M_N_TRADES = 10
M_FEES = 11
M_TAXES = 12
M_BORROW = 13
M_SLIPPAGE = 14
M_FX_COSTS = 15
M_INTEREST = 16
M_SHORTFALL = 17
M_SHORTFALL_BARS = 18
M_DIVIDENDS = 19
M_DIVIDENDS_PAID = 20
M_WITHHOLDING = 21
N_METRICS = 22
METRIC_NAMES = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "turnover",
    "avg_gross_exposure",
    "avg_net_exposure",
    "n_trades",
    "fees",
    "taxes",
    "borrow",
    "slippage",
    "fx_costs",
    "interest",
    "shortfall",
    "shortfall_bars",
    "dividends",
    "dividends_paid",
    "withholding",
)

# Rows of the per-asset scratch array ``work[N_WORK, N]`` of `run_portfolio_nb`.
W_QTY = 0  # quantity held
W_LAST_PX = 1  # last known close
W_PENDING = 2  # target waiting for a tradable bar, NaN = none
W_MARK = 3  # price the asset is marked at before trading this bar
W_ORDER = 4  # this bar's order, signed units
W_REDUCE = 5  # the part of the order that moves the position toward zero
W_SIGNED_VALUE = 6  # signed order value, the sort key of the fill sequence
N_WORK = 7

_LOT_TOL = 1e-9
_NOISE = 1e-12


# --- per-fill rules -------------------------------------------------------------------
#
# Every helper below is inlined (``inline="always"``) into `run_portfolio_nb`, which
# numba compiles without reference counting (``_nrt=False``): it allocates nothing, its
# caller `simulate_one_nb` hands it scratch arrays. Helpers called as functions took and
# released a reference on each array argument per call; on one asset that doubled the
# sweep's time (benchmarks/bench_w2.py), and with two threads they fought over the
# shared arrays' counts. Helpers index shared tables (``costs[s, j]``,
# ``exec_price[t, j]``) rather than taking row views, for the same reason.


@njit(cache=True, inline="always")
def round_to_lot_nb(q, lot):
    """Round quantity `q` toward zero to a whole multiple of `lot` (no rounding if lot <= 0)."""
    if lot <= 0.0:
        return q
    n = np.floor(abs(q) / lot + _LOT_TOL)
    return n * lot if q >= 0.0 else -n * lot


@njit(cache=True, inline="always")
def fee_nb(value, fx, costs, charges, s, j):
    """Return the fee, in base currency, on one fill of asset `j` of traded `value` (>= 0).

    Settings come from cost segment `s`; money amounts are in the asset's currency,
    converted with `fx` (base currency per unit).
    """
    cost = costs[s, j]
    fee = max(cost.fee_rate * value, cost.fee_min * fx) + cost.fee_fixed * fx
    for m in range(charges.shape[2]):
        charge = max(charges[s, j, m, CHARGE_RATE] * value, charges[s, j, m, CHARGE_MIN] * fx)
        fee += min(charge, charges[s, j, m, CHARGE_MAX] * fx)
    return fee


@njit(cache=True, inline="always")
def order_cost_nb(d, px, fx, costs, charges, s, j):
    """Return every cost of an order of `d` units of asset `j` quoted at `px`."""
    cost = costs[s, j]
    v = abs(d) * px * (1.0 + cost.slippage) * fx
    tax = cost.buy_tax if d > 0.0 else cost.sell_tax
    fee = fee_nb(v, fx, costs, charges, s, j)
    return fee + (tax + cost.fx_cost) * v + abs(d) * px * cost.slippage * fx


@njit(cache=True, inline="always")
def scaled_nb(q, scale, lot, unit_value, value_pre):
    """Scale an order, round it to lots, and drop what is left of a near-zero scale.

    A remnant below the noise floor is float noise, not an order (it would still pay the
    fixed fee).
    """
    scaled = round_to_lot_nb(q * scale, lot)
    if abs(scaled) * unit_value <= _NOISE * value_pre:
        return 0.0
    return scaled


@njit(cache=True, inline="always")
def fill_nb(portfolio, t, j, d, px, fx, costs, charges, s, qty, stats, records, r):
    """Fill one order of signed size `d` at quote `px`; update `qty`, ``stats[t]`` and
    ``records[r]``. Returns the change in cash."""
    cost = costs[s, j]
    slip = cost.slippage
    fill = px * (1.0 + slip) if d > 0.0 else px * (1.0 - slip)
    traded = abs(d) * fill * fx
    fee = fee_nb(traded, fx, costs, charges, s, j)
    tax = (cost.buy_tax if d > 0.0 else cost.sell_tax) * traded
    fxc = cost.fx_cost * traded
    slip_cost = abs(d) * px * slip * fx
    qty[j] += d
    stats[t, STAT_TRADED] += traded
    stats[t, STAT_FEES] += fee
    stats[t, STAT_TAXES] += tax
    stats[t, STAT_FX_COSTS] += fxc
    stats[t, STAT_SLIPPAGE] += slip_cost
    rec = records[r]
    rec["portfolio"] = portfolio
    rec["bar"] = t
    rec["asset"] = j
    rec["qty"] = d
    rec["price"] = fill
    rec["fx"] = fx
    rec["value"] = d * fill * fx
    rec["fees"] = fee
    rec["tax"] = tax
    rec["fx_cost"] = fxc
    rec["slippage"] = slip_cost
    return -(d * fill * fx) - fee - tax - fxc


# --- the steps of one bar -------------------------------------------------------------


@njit(cache=True, inline="always")
def accrue_nb(t, cash, qty, last_px, last_fx, asset_ccy, borrow, rates, stats):
    """Step 1: interest on cash and borrow fees on shorts over (t-1, t]; return new cash."""
    dt = rates[t, RATE_YEAR_FRAC]
    if t == 0 or dt <= 0.0:
        return cash
    rate = rates[t, RATE_CASH_CREDIT] if cash >= 0.0 else rates[t, RATE_CASH_DEBIT]
    interest = cash * rate * dt
    row = t if borrow.shape[0] > 1 else 0
    fee = 0.0
    for j in range(qty.shape[0]):
        if qty[j] < 0.0:  # a short pays on its value at the previous bar's close
            fee -= qty[j] * last_px[j] * last_fx[asset_ccy[j]] * borrow[row, j] * dt
    stats[t, STAT_INTEREST] = interest
    stats[t, STAT_BORROW] = fee
    return cash + (interest - fee)


@njit(cache=True, inline="always")
def dividends_nb(t, cash, qty, dividends, withholding, fx, last_fx, asset_ccy, stats):
    """Step 1b: settle the cash dividends of ex-date bar `t` on the quantities held
    entering it; return new cash.

    ``dividends[t, j]`` is per share in the asset's currency; longs receive it less
    ``withholding[j]``, shorts pay it in full. Converts at ``fx[t]``, else the last rate.
    """
    for j in range(qty.shape[0]):
        per_share = dividends[t, j]
        if qty[j] == 0.0 or not per_share != 0.0:  # nothing held, or no (or NaN) dividend
            continue
        c = asset_ccy[j]
        rate = fx[t, c] if np.isfinite(fx[t, c]) else last_fx[c]
        amount = qty[j] * per_share * rate
        if qty[j] > 0.0:
            tax = amount * withholding[j]
            stats[t, STAT_DIVIDENDS] += amount
            stats[t, STAT_WITHHOLDING] += tax
            cash += amount - tax
        else:  # the short seller owes the lender the dividend
            stats[t, STAT_DIVIDENDS_PAID] -= amount
            cash += amount
    return cash


@njit(cache=True, inline="always")
def observe_nb(t, close, fx, last_px, last_fx):
    """Step 2: carry the last known close of each asset and rate of each currency."""
    for c in range(fx.shape[1]):
        if np.isfinite(fx[t, c]):
            last_fx[c] = fx[t, c]
    for j in range(close.shape[1]):
        if np.isfinite(close[t, j]):
            last_px[j] = close[t, j]


@njit(cache=True, inline="always")
def receive_targets_nb(t, targets, pending):
    """Step 3: new targets of bar `t` replace pending ones; return how many are pending."""
    n_pending = 0
    for j in range(pending.shape[0]):
        if not np.isnan(targets[t, j]):
            pending[j] = targets[t, j]
        if not np.isnan(pending[j]):
            n_pending += 1
    return n_pending


@njit(cache=True, inline="always")
def mark_nb(t, exec_price, last_px, last_fx, asset_ccy, qty, cash, mark):
    """Step 4: mark each asset at its execution price where it trades now; return value."""
    value = cash
    for j in range(qty.shape[0]):
        px = exec_price[t, j]
        mark[j] = px if np.isfinite(px) and px > 0.0 else last_px[j]
        if qty[j] != 0.0:
            value += qty[j] * mark[j] * last_fx[asset_ccy[j]]
    return value


@njit(cache=True, inline="always")
def plan_orders_nb(
    t,
    exec_price,
    last_fx,
    asset_ccy,
    lot_size,
    costs,
    charges,
    s,
    size_type,
    value_pre,
    qty,
    pending,
    order,
    reduce,
):
    """Step 5: turn the pending targets of tradable assets into orders ``order[N]``.

    ``reduce[j]`` is the part of ``order[j]`` that moves the position toward zero, never
    past it. Returns the number of orders and their full cost at the quote (for the
    leverage cap).
    """
    n_orders = 0
    cost_full = 0.0
    for j in range(qty.shape[0]):
        order[j] = 0.0
        reduce[j] = 0.0
        if np.isnan(pending[j]):
            continue
        px = exec_price[t, j]
        fx = last_fx[asset_ccy[j]]
        if not (np.isfinite(px) and px > 0.0 and np.isfinite(fx) and fx > 0.0):
            continue  # wait for the next tradable bar
        if size_type == SIZE_TARGET_WEIGHT:
            target = pending[j] * value_pre / (px * fx)
        elif size_type == SIZE_TARGET_VALUE:
            target = pending[j] / (px * fx)
        else:
            target = pending[j]
        pending[j] = np.nan
        d = round_to_lot_nb(target, lot_size[j]) - qty[j]
        if abs(d) * px * fx <= _NOISE * value_pre:
            continue
        order[j] = d
        if qty[j] != 0.0 and (d > 0.0) != (qty[j] > 0.0):
            reduce[j] = d if abs(d) <= abs(qty[j]) else -qty[j]
        cost_full += order_cost_nb(d, px, fx, costs, charges, s, j)
        n_orders += 1
    return n_orders, cost_full


@njit(cache=True, inline="always")
def cap_leverage_nb(
    max_leverage, value_pre, cost_full, qty, order, reduce, mark, last_fx, asset_ccy, lot_size
):
    """Step 6: scale the position-increasing parts of all orders by one common factor.

    Gross exposure after the orders may reach ``max_leverage`` times the value after
    costs. Reductions are never scaled. Returns the shortfall (base currency).
    """
    kept = 0.0
    added = 0.0
    for j in range(qty.shape[0]):
        if qty[j] != 0.0 or order[j] != 0.0:
            unit = mark[j] * last_fx[asset_ccy[j]]
            kept += abs(qty[j] + reduce[j]) * unit
            added += abs(order[j] - reduce[j]) * unit
    room = max_leverage * (value_pre - cost_full) - kept
    shortfall = 0.0
    if added > 0.0 and added > room:
        scale = max(room, 0.0) / added
        for j in range(qty.shape[0]):
            grow = order[j] - reduce[j]
            if grow != 0.0:
                unit = mark[j] * last_fx[asset_ccy[j]]
                new = scaled_nb(grow, scale, lot_size[j], unit, value_pre)
                shortfall += abs(grow - new) * unit
                order[j] = reduce[j] + new
    return shortfall


@njit(cache=True, inline="always")
def fund_buys_nb(cash, order, mark, last_fx, asset_ccy, lot_size, costs, charges, s, value_pre):
    """Step 7 without a leverage cap: scale buys that `cash` cannot fund, pro rata.

    The cost of a buy of value v is bounded by ``v * (1 + rates) + fixed`` (a charge
    ``clip(r v, lo, hi)`` is at most ``r v + lo``), so one common factor
    ``(cash - fixed) / variable`` always leaves cash non-negative. Returns the shortfall.
    """
    variable = 0.0
    fixed = 0.0
    exact = 0.0
    for j in range(order.shape[0]):
        d = order[j]
        if d <= 0.0:
            continue
        fx = last_fx[asset_ccy[j]]
        cost = costs[s, j]
        v = d * mark[j] * (1.0 + cost.slippage) * fx
        rate = cost.fee_rate + cost.buy_tax + cost.fx_cost
        fixed += (cost.fee_fixed + cost.fee_min) * fx
        for m in range(charges.shape[2]):
            rate += charges[s, j, m, CHARGE_RATE]
            fixed += charges[s, j, m, CHARGE_MIN] * fx
        variable += v * (1.0 + rate)
        exact += v + fee_nb(v, fx, costs, charges, s, j) + (cost.buy_tax + cost.fx_cost) * v
    shortfall = 0.0
    if exact > cash and variable > 0.0:
        scale = max(cash - fixed, 0.0) / variable
        for j in range(order.shape[0]):
            d = order[j]
            if d > 0.0:
                unit = mark[j] * last_fx[asset_ccy[j]]
                new = scaled_nb(d, scale, lot_size[j], unit, value_pre)
                shortfall += (d - new) * unit
                order[j] = new
    return shortfall


@njit(cache=True, inline="always")
def sort_orders_nb(signed_value, order, seq, buf):
    """Write the assets with a non-zero order into ``seq[:m]``, ascending by signed order
    value (sells, the largest first, then buys); ties keep asset order. Returns m.

    A stable bottom-up merge sort through ``buf``: the same order as
    ``np.argsort(signed_value, kind="mergesort")`` restricted to the orders.
    """
    m = 0
    for j in range(order.shape[0]):
        if order[j] != 0.0:
            seq[m] = j
            m += 1
    width = 1
    in_buf = False  # where the sorted runs are now
    while width < m:
        src, dst = (buf, seq) if in_buf else (seq, buf)
        for lo in range(0, m, 2 * width):
            mid = min(lo + width, m)
            hi = min(lo + 2 * width, m)
            i, k = lo, mid
            for out in range(lo, hi):
                if i < mid and (k >= hi or signed_value[src[i]] <= signed_value[src[k]]):
                    dst[out] = src[i]
                    i += 1
                else:
                    dst[out] = src[k]
                    k += 1
        in_buf = not in_buf
        width *= 2
    if in_buf:
        for i in range(m):
            seq[i] = buf[i]
    return m


@njit(cache=True, inline="always")
def fill_side_nb(
    buys,
    portfolio,
    t,
    seq,
    m,
    order,
    mark,
    last_fx,
    asset_ccy,
    costs,
    charges,
    s,
    qty,
    cash,
    stats,
    records,
    r,
):
    """Fill the sells (``buys=False``) or the buys among the orders ``seq[:m]``, in order.

    Cash moves fill by fill. Returns the new cash and the next free record slot.
    """
    for i in range(m):
        j = seq[i]
        d = order[j]
        if (buys and d <= 0.0) or (not buys and d >= 0.0):
            continue
        fx = last_fx[asset_ccy[j]]
        cash += fill_nb(portfolio, t, j, d, mark[j], fx, costs, charges, s, qty, stats, records, r)
        r += 1
    return cash, r


@njit(cache=True, inline="always")
def close_bar_nb(t, qty, last_px, last_fx, asset_ccy, cash, stats):
    """Step 9: value positions at the last known close; write bar `t`'s value columns."""
    gross = 0.0
    net = 0.0
    for j in range(qty.shape[0]):
        if qty[j] != 0.0:
            v = qty[j] * last_px[j] * last_fx[asset_ccy[j]]
            gross += abs(v)
            net += v
    stats[t, STAT_VALUE] = cash + net
    stats[t, STAT_CASH] = cash
    stats[t, STAT_GROSS] = gross
    stats[t, STAT_NET] = net
    return cash + net


@njit(cache=True, inline="always")
def liquidate_nb(
    portfolio, t, last_px, last_fx, asset_ccy, costs, charges, s, qty, cash, stats, records, r
):
    """Step 10: close every position at its last known close, with costs, in asset order.

    Returns the new cash and the next free record slot.
    """
    for j in range(qty.shape[0]):
        if qty[j] != 0.0:
            fx = last_fx[asset_ccy[j]]
            cash += fill_nb(
                portfolio, t, j, -qty[j], last_px[j], fx, costs, charges, s, qty, stats, records, r
            )
            r += 1
    return cash, r


# --- one portfolio over all bars ------------------------------------------------------


@njit(cache=True, _nrt=False)
def run_portfolio_nb(
    market,
    p,
    targets,
    size_type,
    init_cash,
    max_leverage,
    portfolio,
    qty_out,
    stats_out,
    records,
    work,
    last_fx,
    seq,
    buf,
):
    """The time loop of `simulate_one_nb`, on scratch arrays it allocates.

    ``work[N_WORK, N]`` holds the per-asset state rows ``W_*``, ``last_fx[C]`` the last
    known rates, ``seq[N]`` and ``buf[N]`` the order sequence; all are initialised here.
    """
    close, exec_price, fx, asset_ccy, lot_size, costs, charges, segment, borrow, rates = market[:10]
    dividends, withholding = market[10:]
    n_bars, n_assets = close.shape
    keep_qty = qty_out.shape[0] == n_bars
    capped = np.isfinite(max_leverage)
    cash = init_cash
    qty = work[W_QTY]
    last_px = work[W_LAST_PX]
    pending = work[W_PENDING]
    mark = work[W_MARK]
    order = work[W_ORDER]
    reduce = work[W_REDUCE]
    signed_value = work[W_SIGNED_VALUE]
    for j in range(n_assets):
        qty[j] = 0.0
        last_px[j] = np.nan
        pending[j] = np.nan
    for c in range(last_fx.shape[0]):
        last_fx[c] = np.nan
    r = 0
    status = STATUS_OK
    fail_bar = -1

    for t in range(n_bars):
        for c in range(N_STATS):
            stats_out[t, c] = 0.0
        cash = accrue_nb(t, cash, qty, last_px, last_fx, asset_ccy, borrow, rates, stats_out)
        if dividends.shape[0] > 1:
            cash = dividends_nb(
                t, cash, qty, dividends, withholding, fx, last_fx, asset_ccy, stats_out
            )
        observe_nb(t, close, fx, last_px, last_fx)
        n_pending = receive_targets_nb(t, targets, pending)
        value_pre = mark_nb(t, exec_price, last_px, last_fx, asset_ccy, qty, cash, mark)
        stats_out[t, STAT_VALUE_PRE] = value_pre

        if n_pending > 0 and value_pre > 0.0:
            s = segment[p, t]
            n_orders, cost_full = plan_orders_nb(
                t, exec_price, last_fx, asset_ccy, lot_size, costs, charges, s, size_type,
                value_pre, qty, pending, order, reduce,
            )  # fmt: skip
            if n_orders > 0:
                shortfall = 0.0
                if capped:
                    shortfall += cap_leverage_nb(
                        max_leverage, value_pre, cost_full, qty, order, reduce, mark, last_fx,
                        asset_ccy, lot_size,
                    )  # fmt: skip
                for j in range(n_assets):  # sells first, the most negative value first
                    signed_value[j] = 0.0
                    if order[j] != 0.0:
                        signed_value[j] = order[j] * mark[j] * last_fx[asset_ccy[j]]
                m = sort_orders_nb(signed_value, order, seq, buf)
                cash, r = fill_side_nb(
                    False, portfolio, t, seq, m, order, mark, last_fx, asset_ccy, costs, charges,
                    s, qty, cash, stats_out, records, r,
                )  # fmt: skip
                if not capped:
                    shortfall += fund_buys_nb(
                        cash, order, mark, last_fx, asset_ccy, lot_size, costs, charges, s,
                        value_pre,
                    )  # fmt: skip
                cash, r = fill_side_nb(
                    True, portfolio, t, seq, m, order, mark, last_fx, asset_ccy, costs, charges,
                    s, qty, cash, stats_out, records, r,
                )  # fmt: skip
                stats_out[t, STAT_SHORTFALL] = shortfall
                for j in range(n_assets):
                    if order[j] != 0.0 and np.isnan(last_px[j]):
                        last_px[j] = mark[j]  # traded before its first close: value at the quote

        value = close_bar_nb(t, qty, last_px, last_fx, asset_ccy, cash, stats_out)
        # one sum is not finite when any of its terms is inf or NaN
        amounts = (
            value + stats_out[t, STAT_GROSS] + value_pre + stats_out[t, STAT_TRADED]
            + stats_out[t, STAT_SHORTFALL]
        )  # fmt: skip
        if not np.isfinite(amounts):
            status = STATUS_NOT_FINITE
        elif value <= 0.0:
            status = STATUS_BANKRUPT
            cash, r = liquidate_nb(
                portfolio, t, last_px, last_fx, asset_ccy, costs, charges, segment[p, t], qty,
                cash, stats_out, records, r,
            )  # fmt: skip
            value = close_bar_nb(t, qty, last_px, last_fx, asset_ccy, cash, stats_out)
        row = t if keep_qty else 0
        for j in range(n_assets):
            qty_out[row, j] = qty[j]
        if status != STATUS_OK:
            fail_bar = t
            for u in range(t + 1, n_bars):  # flat from here: nothing trades or accrues
                for c in range(N_STATS):
                    stats_out[u, c] = 0.0
                stats_out[u, STAT_VALUE] = value
                stats_out[u, STAT_CASH] = cash
                stats_out[u, STAT_VALUE_PRE] = value
                if keep_qty:
                    for j in range(n_assets):
                        qty_out[u, j] = qty[j]
            break
    return r, status, fail_bar


@njit(cache=True)
def simulate_one_nb(
    market, p, targets, size_type, init_cash, max_leverage, portfolio, qty_out, stats_out, records
):
    """Simulate one portfolio over all bars.

    `market` is the tuple of shared inputs (module docstring; `KernelMarket.args`); `p`
    is the portfolio's row of ``segment``; ``targets[T, N]`` its targets in the units of
    `size_type`; `max_leverage` is inf for no cap (buys limited by cash). Writes
    ``stats_out[T, N_STATS]``, ``qty_out`` (``[T, N]``, or ``[1, N]`` to keep only the
    last bar) and fills into ``records`` from slot 0, tagged with `portfolio`; ``records``
    needs a slot per non-NaN target plus N for the closing fills of a bankruptcy. Returns
    (records used, status, the bar the status was set or -1).
    """
    n_assets = market[0].shape[1]
    n_ccy = market[2].shape[1]
    return run_portfolio_nb(
        market, p, targets, size_type, init_cash, max_leverage, portfolio, qty_out, stats_out,
        records, np.empty((N_WORK, n_assets), dtype=np.float64),
        np.empty(n_ccy, dtype=np.float64), np.empty(n_assets, dtype=np.int64),
        np.empty(n_assets, dtype=np.int64),
    )  # fmt: skip


# --- metrics of one simulated portfolio -----------------------------------------------


@njit(cache=True)
def return_stats_nb(r, rf_bar, ppy):
    """Return (volatility, Sharpe, Sortino) of per-bar returns ``r[T]``, annualised.

    Excess returns are ``x = r - rf_bar``; volatility is the sample std of r (ddof 1)
    times sqrt(ppy); Sharpe is mean(x) / std(x) times sqrt(ppy); Sortino is mean(x)
    times sqrt(ppy) over sqrt(mean(min(x, 0)^2)). Two passes keep the variance exact
    for a flat curve. NaN where undefined (fewer than 2 bars, zero deviation).
    Reference: empyrical ``annual_volatility``, ``sharpe_ratio``, ``sortino_ratio`` with
    ``annualization=ppy``.
    """
    n = r.shape[0]
    if n < 2:
        return np.nan, np.nan, np.nan
    sum_r = 0.0
    sum_x = 0.0
    for t in range(n):
        sum_r += r[t]
        sum_x += r[t] - rf_bar[t]
    mean_r = sum_r / n
    mean_x = sum_x / n
    dev_r = 0.0
    dev_x = 0.0
    down = 0.0
    for t in range(n):
        x = r[t] - rf_bar[t]
        dev_r += (r[t] - mean_r) * (r[t] - mean_r)
        dev_x += (x - mean_x) * (x - mean_x)
        if x < 0.0:
            down += x * x
    root = np.sqrt(ppy)
    std_x = np.sqrt(dev_x / (n - 1))
    downside = np.sqrt(down / n)
    sharpe = mean_x * root / std_x if std_x > 0.0 else np.nan
    sortino = mean_x * root / downside if downside > 0.0 else np.nan
    return np.sqrt(dev_r / (n - 1)) * root, sharpe, sortino


@njit(cache=True)
def value_metrics_nb(value, init_cash, ppy, rf_bar, out):
    """Write the return and drawdown metrics (`M_TOTAL_RETURN` .. `M_CALMAR`) of a value
    curve ``value[T]`` that starts from `init_cash` into ``out``.

    Returns are simple, the first measured from `init_cash`, and 0 where the value did
    not change (a flat curve at zero included); CAGR is ``growth ** (ppy / T) - 1`` (-1
    when wiped out); drawdown runs from the running peak, `init_cash` being the first;
    Calmar is CAGR over |max drawdown|. A curve that reaches zero or below is a bankrupt
    portfolio: its Sharpe, Sortino and Calmar are NaN, since no return-to-risk ratio
    describes money that is gone. Reference: empyrical ``annual_return``,
    ``max_drawdown``, ``calmar_ratio`` with ``annualization=ppy``.
    """
    n = value.shape[0]
    r = np.empty(n, dtype=np.float64)
    prev = init_cash
    peak = init_cash
    max_dd = 0.0
    wiped = False
    for t in range(n):
        v = value[t]
        r[t] = 0.0 if v == prev else v / prev - 1.0
        prev = v
        if v <= 0.0:
            wiped = True
        if v > peak:
            peak = v
        dd = v / peak - 1.0
        if dd < max_dd:
            max_dd = dd
    growth = max(value[n - 1] / init_cash, 0.0)
    cagr = growth ** (ppy / n) - 1.0
    out[M_TOTAL_RETURN] = value[n - 1] / init_cash - 1.0
    out[M_CAGR] = cagr
    volatility, sharpe, sortino = return_stats_nb(r, rf_bar, ppy)
    out[M_VOLATILITY] = volatility
    out[M_SHARPE] = np.nan if wiped else sharpe
    out[M_SORTINO] = np.nan if wiped else sortino
    out[M_MAX_DRAWDOWN] = max_dd
    out[M_CALMAR] = cagr / -max_dd if max_dd < 0.0 and not wiped else np.nan


@njit(cache=True)
def portfolio_metrics_nb(stats, init_cash, n_trades, ppy, rf_bar, out):
    """Write every metric of `METRIC_NAMES` of one portfolio's ``stats[T, N_STATS]``.

    `rf_bar` is ``[T]``, the risk-free return of each bar (`risk_free_per_bar_nb`).
    Turnover is traded value over value before trading, summed and scaled to a year
    (buying a book and selling it later counts 2; bars whose value before trading is not
    positive count 0); exposures are the mean of gross and net position value over value
    (0 on bars that hold nothing); costs are totals in base currency; `M_SHORTFALL_BARS`
    counts the bars with a shortfall.
    """
    n = stats.shape[0]
    value = np.empty(n, dtype=np.float64)
    turnover = 0.0
    gross = 0.0
    net = 0.0
    short_bars = 0
    for t in range(n):
        v = stats[t, STAT_VALUE]
        value[t] = v
        traded = stats[t, STAT_TRADED]
        if traded > 0.0 and stats[t, STAT_VALUE_PRE] > 0.0:
            turnover += traded / stats[t, STAT_VALUE_PRE]
        if stats[t, STAT_GROSS] != 0.0:  # a bankrupt portfolio may hold nothing at value 0
            gross += stats[t, STAT_GROSS] / v
            net += stats[t, STAT_NET] / v
        if stats[t, STAT_SHORTFALL] > 0.0:
            short_bars += 1
    value_metrics_nb(value, init_cash, ppy, rf_bar, out)
    out[M_TURNOVER] = turnover * ppy / n
    out[M_AVG_GROSS] = gross / n
    out[M_AVG_NET] = net / n
    out[M_N_TRADES] = n_trades
    for m, column in (
        (M_FEES, STAT_FEES),
        (M_TAXES, STAT_TAXES),
        (M_BORROW, STAT_BORROW),
        (M_SLIPPAGE, STAT_SLIPPAGE),
        (M_FX_COSTS, STAT_FX_COSTS),
        (M_INTEREST, STAT_INTEREST),
        (M_SHORTFALL, STAT_SHORTFALL),
        (M_DIVIDENDS, STAT_DIVIDENDS),
        (M_DIVIDENDS_PAID, STAT_DIVIDENDS_PAID),
        (M_WITHHOLDING, STAT_WITHHOLDING),
    ):
        total = 0.0
        for t in range(n):
            total += stats[t, column]
        out[m] = total
    out[M_SHORTFALL_BARS] = short_bars


@njit(cache=True)
def risk_free_per_bar_nb(rates, ppy):
    """Return ``[T]`` per-bar risk-free returns: ``(1 + annual rate) ** (1 / ppy) - 1``."""
    out = np.empty(rates.shape[0], dtype=np.float64)
    for t in range(rates.shape[0]):
        out[t] = (1.0 + rates[t, RATE_RISK_FREE]) ** (1.0 / ppy) - 1.0
    return out


# --- checks of targets ----------------------------------------------------------------


@njit(cache=True, parallel=True)
def gross_over_nb(targets, limit, bar_out, gross_out):
    """Find, for each of the K portfolios of ``targets[K, T, N]``, the first bar whose
    gross (sum of |target| over the non-NaN ones) exceeds `limit`.

    Writes that bar into ``bar_out[K]`` (-1 where none does) and its gross into
    ``gross_out[K]``. One pass over the targets, stopping at the first such bar.
    """
    n_port, n_bars, n_assets = targets.shape
    for k in prange(n_port):
        bar_out[k] = -1
        gross_out[k] = 0.0
        for t in range(n_bars):
            gross = 0.0
            for j in range(n_assets):
                x = targets[k, t, j]
                if not np.isnan(x):
                    gross += abs(x)
            if gross > limit:
                bar_out[k] = t
                gross_out[k] = gross
                break


# --- drivers: K portfolios over one market --------------------------------------------


@njit(cache=True, parallel=True)
def simulate_nb(
    market,
    targets,
    size_type,
    init_cash,
    max_leverage,
    qty_out,
    stats_out,
    records,
    rec_start,
    rec_count_out,
    status_out,
    fail_bar_out,
):
    """Simulate the K portfolios of ``targets[K, T, N]`` in parallel; keep everything.

    ``init_cash[K]``, ``max_leverage[K]``; writes ``qty_out[K, T, N]``,
    ``stats_out[K, T, N_STATS]``, the fills of portfolio k into
    ``records[rec_start[k]:rec_start[k + 1]]`` (sized as `simulate_one_nb` needs),
    ``rec_count_out[K]``, ``status_out[K]`` and ``fail_bar_out[K]``. Returns None.
    """
    rows = market[7].shape[0]  # rows of ``segment``: 1, or one per portfolio
    for k in prange(targets.shape[0]):
        p = np.int64(k) if rows > 1 else np.int64(0)
        used, status, fail_bar = simulate_one_nb(
            market, p, targets[k], size_type, init_cash[k], max_leverage[k], k, qty_out[k],
            stats_out[k], records[rec_start[k] : rec_start[k + 1]],
        )  # fmt: skip
        rec_count_out[k] = used
        status_out[k] = status
        fail_bar_out[k] = fail_bar


@njit(cache=True, parallel=True)
def sweep_nb(
    market,
    targets,
    size_type,
    init_cash,
    max_leverage,
    ppy,
    metrics_out,
    values_out,
    status_out,
    fail_bar_out,
):
    """Simulate the K portfolios of ``targets[K, T, N]`` in parallel; keep their metrics.

    Memory grows with K x metrics, not K x bars: each portfolio runs into scratch arrays
    of its own. Writes ``metrics_out[K, N_METRICS]``, ``status_out[K]``,
    ``fail_bar_out[K]``, and ``values_out[K, T]`` unless it is ``[0, 0]``. Returns None.
    """
    n_port, n_bars, n_assets = targets.shape
    keep_values = values_out.shape[0] == n_port
    rf_bar = risk_free_per_bar_nb(market[9], ppy)
    rows = market[7].shape[0]
    for k in prange(n_port):
        count = 0
        for t in range(n_bars):
            for j in range(n_assets):
                if not np.isnan(targets[k, t, j]):
                    count += 1
        p = np.int64(k) if rows > 1 else np.int64(0)
        qty = np.zeros((1, n_assets), dtype=np.float64)
        stats = np.empty((n_bars, N_STATS), dtype=np.float64)  # each bar zeroes its row
        records = np.empty(count + n_assets, dtype=TRADE_DTYPE)  # + closing fills
        used, status, fail_bar = simulate_one_nb(
            market, p, targets[k], size_type, init_cash[k], max_leverage[k], k, qty, stats,
            records,
        )  # fmt: skip
        portfolio_metrics_nb(stats, init_cash[k], used, ppy, rf_bar, metrics_out[k])
        status_out[k] = status
        fail_bar_out[k] = fail_bar
        if keep_values:
            for t in range(n_bars):
                values_out[k, t] = stats[t, STAT_VALUE]
