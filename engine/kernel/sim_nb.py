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
``borrow``). Float arrays are float64, integer arrays int64.

Inputs shared by both drivers (`engine.simulation.KernelMarket.args` builds them once):

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

Semantics (DESIGN.md, "Simulation semantics"), per portfolio and bar ``t``; each step is
one helper below, called in this order by `simulate_one_nb`:

1. `accrue_nb`: over (t-1, t], positive cash earns ``rates[t, RATE_CASH_CREDIT]`` and
   negative cash pays ``rates[t, RATE_CASH_DEBIT]``, times ``rates[t, RATE_YEAR_FRAC]``;
   each short pays ``borrow[t, j]`` on its market value at the previous bar.
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
7. `fill_side_nb` sells first (most negative order value first); then, without a cap,
   `fund_buys_nb` scales buys that cash cannot fund by one common factor; then the buys
   fill. Scaling never drops an order silently: the base-currency value not traded is
   recorded as shortfall.
8. `fill_nb` charges, per fill, in base currency with v the traded value at the fill
   price and x the asset's fx: fee = max(fee_rate * v, fee_min * x) + fee_fixed * x
   + sum over charges of clip(rate * v, minimum * x, maximum * x); tax = buy_tax or
   sell_tax times v; conversion cost = fx_cost * v. Short-sale proceeds go to cash.
9. `close_bar_nb`: end-of-bar value = cash + sum(qty * last close * last fx). A value at
   or below zero marks the portfolio bankrupt: it stops trading and keeps accruing.

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
STATUS_BANKRUPT = 1

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
N_STATS = 13

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
N_METRICS = 18
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
)

_LOT_TOL = 1e-9
_NOISE = 1e-12


# --- per-fill rules -------------------------------------------------------------------


@njit(cache=True)
def round_to_lot_nb(q, lot):
    """Round quantity `q` toward zero to a whole multiple of `lot` (no rounding if lot <= 0)."""
    if lot <= 0.0:
        return q
    n = np.floor(abs(q) / lot + _LOT_TOL)
    return n * lot if q >= 0.0 else -n * lot


@njit(cache=True)
def fee_nb(value, fx, cost, charges):
    """Return the fee, in base currency, on one fill of base-currency traded `value` (>= 0).

    `cost` is one `COST_DTYPE` record, `charges` ``(M, 3)``; money amounts in both are in
    the asset's currency, converted with `fx` (base currency per unit).
    """
    fee = max(cost.fee_rate * value, cost.fee_min * fx) + cost.fee_fixed * fx
    for m in range(charges.shape[0]):
        charge = max(charges[m, CHARGE_RATE] * value, charges[m, CHARGE_MIN] * fx)
        fee += min(charge, charges[m, CHARGE_MAX] * fx)
    return fee


@njit(cache=True)
def order_cost_nb(d, px, fx, cost, charges):
    """Return every cost of an order of `d` units quoted at `px`: fee, tax, fx and slippage."""
    slip = cost.slippage
    v = abs(d) * px * (1.0 + slip) * fx
    tax = cost.buy_tax if d > 0.0 else cost.sell_tax
    return fee_nb(v, fx, cost, charges) + (tax + cost.fx_cost) * v + abs(d) * px * slip * fx


@njit(cache=True)
def scaled_nb(q, scale, lot, unit_value, value_pre):
    """Scale an order, round it to lots, and drop what is left of a near-zero scale.

    A remnant below the noise floor is float noise, not an order (it would still pay the
    fixed fee).
    """
    scaled = round_to_lot_nb(q * scale, lot)
    if abs(scaled) * unit_value <= _NOISE * value_pre:
        return 0.0
    return scaled


@njit(cache=True)
def fill_nb(portfolio, t, j, d, px, fx, cost, charges, qty, st, records, r):
    """Fill one order of signed size `d` at quote `px`; update `qty`, `st`, ``records[r]``.

    Returns the change in cash.
    """
    slip = cost.slippage
    fill = px * (1.0 + slip) if d > 0.0 else px * (1.0 - slip)
    traded = abs(d) * fill * fx
    fee = fee_nb(traded, fx, cost, charges)
    tax = (cost.buy_tax if d > 0.0 else cost.sell_tax) * traded
    fxc = cost.fx_cost * traded
    slip_cost = abs(d) * px * slip * fx
    qty[j] += d
    st[STAT_TRADED] += traded
    st[STAT_FEES] += fee
    st[STAT_TAXES] += tax
    st[STAT_FX_COSTS] += fxc
    st[STAT_SLIPPAGE] += slip_cost
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


@njit(cache=True)
def accrue_nb(t, cash, qty, last_px, last_fx, asset_ccy, borrow, rates, st):
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
    st[STAT_INTEREST] = interest
    st[STAT_BORROW] = fee
    return cash + interest - fee


@njit(cache=True)
def observe_nb(t, close, fx, last_px, last_fx):
    """Step 2: carry the last known close of each asset and rate of each currency."""
    for c in range(fx.shape[1]):
        if np.isfinite(fx[t, c]):
            last_fx[c] = fx[t, c]
    for j in range(close.shape[1]):
        if np.isfinite(close[t, j]):
            last_px[j] = close[t, j]


@njit(cache=True)
def receive_targets_nb(targets_t, pending):
    """Step 3: new targets replace pending ones; return how many are pending."""
    n_pending = 0
    for j in range(pending.shape[0]):
        if not np.isnan(targets_t[j]):
            pending[j] = targets_t[j]
        if not np.isnan(pending[j]):
            n_pending += 1
    return n_pending


@njit(cache=True)
def mark_nb(exec_t, last_px, last_fx, asset_ccy, qty, cash, mark):
    """Step 4: mark each asset at its execution price where it trades now; return value."""
    value = cash
    for j in range(qty.shape[0]):
        px = exec_t[j]
        mark[j] = px if np.isfinite(px) and px > 0.0 else last_px[j]
        if qty[j] != 0.0:
            value += qty[j] * mark[j] * last_fx[asset_ccy[j]]
    return value


@njit(cache=True)
def plan_orders_nb(
    exec_t,
    last_fx,
    asset_ccy,
    lot_size,
    costs_s,
    charges_s,
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
        px = exec_t[j]
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
        cost_full += order_cost_nb(d, px, fx, costs_s[j], charges_s[j])
        n_orders += 1
    return n_orders, cost_full


@njit(cache=True)
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


@njit(cache=True)
def fund_buys_nb(cash, order, mark, last_fx, asset_ccy, lot_size, costs_s, charges_s, value_pre):
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
        cost = costs_s[j]
        v = d * mark[j] * (1.0 + cost.slippage) * fx
        rate = cost.fee_rate + cost.buy_tax + cost.fx_cost
        fixed += (cost.fee_fixed + cost.fee_min) * fx
        for m in range(charges_s.shape[1]):
            rate += charges_s[j, m, CHARGE_RATE]
            fixed += charges_s[j, m, CHARGE_MIN] * fx
        variable += v * (1.0 + rate)
        exact += v + fee_nb(v, fx, cost, charges_s[j]) + (cost.buy_tax + cost.fx_cost) * v
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


@njit(cache=True)
def fill_side_nb(
    buys,
    portfolio,
    t,
    seq,
    order,
    mark,
    last_fx,
    asset_ccy,
    costs_s,
    charges_s,
    qty,
    st,
    records,
    r,
):
    """Fill the sells (``buys=False``) or the buys of `order`, in the order of `seq`.

    Returns the change in cash and the next free record slot.
    """
    delta = 0.0
    for i in range(seq.shape[0]):
        j = seq[i]
        d = order[j]
        if (buys and d <= 0.0) or (not buys and d >= 0.0):
            continue
        fx = last_fx[asset_ccy[j]]
        delta += fill_nb(
            portfolio, t, j, d, mark[j], fx, costs_s[j], charges_s[j], qty, st, records, r
        )
        r += 1
    return delta, r


@njit(cache=True)
def close_bar_nb(qty, last_px, last_fx, asset_ccy, cash, st):
    """Step 9: value positions at the last known close; write the bar's value columns."""
    gross = 0.0
    net = 0.0
    for j in range(qty.shape[0]):
        if qty[j] != 0.0:
            v = qty[j] * last_px[j] * last_fx[asset_ccy[j]]
            gross += abs(v)
            net += v
    st[STAT_VALUE] = cash + net
    st[STAT_CASH] = cash
    st[STAT_GROSS] = gross
    st[STAT_NET] = net
    return cash + net


# --- one portfolio over all bars ------------------------------------------------------


@njit(cache=True)
def simulate_one_nb(
    close,
    exec_price,
    fx,
    asset_ccy,
    lot_size,
    costs,
    charges,
    segment_row,
    borrow,
    rates,
    targets,
    size_type,
    init_cash,
    max_leverage,
    portfolio,
    qty_out,
    stats_out,
    records,
):
    """Simulate one portfolio over all bars.

    ``segment_row[T]`` is its row of ``segment``; ``targets[T, N]`` its targets in the
    units of `size_type`; `max_leverage` is inf for no cap (buys limited by cash).
    Writes ``stats_out[T, N_STATS]``, ``qty_out`` (``[T, N]``, or ``[1, N]`` to keep only
    the last bar) and fills into ``records`` from slot 0, tagged with `portfolio`.
    Returns (records used, status, first bankrupt bar or -1).
    """
    n_bars, n_assets = close.shape
    keep_qty = qty_out.shape[0] == n_bars
    capped = np.isfinite(max_leverage)
    cash = init_cash
    qty = np.zeros(n_assets, dtype=np.float64)
    last_px = np.full(n_assets, np.nan, dtype=np.float64)
    last_fx = np.full(fx.shape[1], np.nan, dtype=np.float64)
    pending = np.full(n_assets, np.nan, dtype=np.float64)
    mark = np.zeros(n_assets, dtype=np.float64)
    order = np.zeros(n_assets, dtype=np.float64)
    reduce = np.zeros(n_assets, dtype=np.float64)
    signed_value = np.zeros(n_assets, dtype=np.float64)
    r = 0
    status = STATUS_OK
    fail_bar = -1

    for t in range(n_bars):
        st = stats_out[t]
        st[:] = 0.0
        cash = accrue_nb(t, cash, qty, last_px, last_fx, asset_ccy, borrow, rates, st)
        observe_nb(t, close, fx, last_px, last_fx)
        n_pending = receive_targets_nb(targets[t], pending)
        value_pre = mark_nb(exec_price[t], last_px, last_fx, asset_ccy, qty, cash, mark)
        st[STAT_VALUE_PRE] = value_pre

        if n_pending > 0 and status == STATUS_OK and value_pre > 0.0:
            s = segment_row[t]
            costs_s = costs[s]
            charges_s = charges[s]
            n_orders, cost_full = plan_orders_nb(
                exec_price[t],
                last_fx,
                asset_ccy,
                lot_size,
                costs_s,
                charges_s,
                size_type,
                value_pre,
                qty,
                pending,
                order,
                reduce,
            )
            if n_orders > 0:
                shortfall = 0.0
                if capped:
                    shortfall += cap_leverage_nb(
                        max_leverage,
                        value_pre,
                        cost_full,
                        qty,
                        order,
                        reduce,
                        mark,
                        last_fx,
                        asset_ccy,
                        lot_size,
                    )
                for j in range(n_assets):  # sells first, the most negative value first
                    signed_value[j] = 0.0
                    if order[j] != 0.0:
                        signed_value[j] = order[j] * mark[j] * last_fx[asset_ccy[j]]
                seq = np.argsort(signed_value, kind="mergesort")
                delta, r = fill_side_nb(
                    False,
                    portfolio,
                    t,
                    seq,
                    order,
                    mark,
                    last_fx,
                    asset_ccy,
                    costs_s,
                    charges_s,
                    qty,
                    st,
                    records,
                    r,
                )
                cash += delta
                if not capped:
                    shortfall += fund_buys_nb(
                        cash,
                        order,
                        mark,
                        last_fx,
                        asset_ccy,
                        lot_size,
                        costs_s,
                        charges_s,
                        value_pre,
                    )
                delta, r = fill_side_nb(
                    True,
                    portfolio,
                    t,
                    seq,
                    order,
                    mark,
                    last_fx,
                    asset_ccy,
                    costs_s,
                    charges_s,
                    qty,
                    st,
                    records,
                    r,
                )
                cash += delta
                st[STAT_SHORTFALL] = shortfall
                for j in range(n_assets):
                    if order[j] != 0.0 and np.isnan(last_px[j]):
                        last_px[j] = mark[j]  # traded before its first close: value at the quote

        value = close_bar_nb(qty, last_px, last_fx, asset_ccy, cash, st)
        qty_out[t if keep_qty else 0, :] = qty
        if value <= 0.0 and status == STATUS_OK:
            status = STATUS_BANKRUPT
            fail_bar = t
    return r, status, fail_bar


# --- metrics of one simulated portfolio -----------------------------------------------


@njit(cache=True)
def portfolio_metrics_nb(stats, init_cash, n_trades, ppy, risk_free, out):
    """Write the `METRIC_NAMES` of one portfolio's ``stats[T, N_STATS]`` into ``out``.

    `risk_free` is ``[T]``, annual rates (``rates[:, RATE_RISK_FREE]``); bar t's excess
    return is ``r_t - ((1 + rf_t) ** (1 / ppy) - 1)``. Definitions: engine/metrics.py's
    module docstring. Reference: empyrical with ``annualization=ppy`` (tests).
    """
    n = stats.shape[0]
    prev = init_cash
    peak = init_cash
    max_dd = 0.0
    sum_r = 0.0
    sum_x = 0.0
    turnover = 0.0
    gross = 0.0
    net = 0.0
    for t in range(n):
        v = stats[t, STAT_VALUE]
        r = v / prev - 1.0
        prev = v
        sum_r += r
        sum_x += r - ((1.0 + risk_free[t]) ** (1.0 / ppy) - 1.0)
        if v > peak:
            peak = v
        dd = v / peak - 1.0
        if dd < max_dd:
            max_dd = dd
        traded = stats[t, STAT_TRADED]
        if traded > 0.0:
            turnover += traded / stats[t, STAT_VALUE_PRE]
        gross += stats[t, STAT_GROSS] / v
        net += stats[t, STAT_NET] / v
    mean_r = sum_r / n
    mean_x = sum_x / n
    # second pass: squared deviations (two passes keep the variance exact for flat curves)
    prev = init_cash
    dev_r = 0.0
    dev_x = 0.0
    down = 0.0
    for t in range(n):
        v = stats[t, STAT_VALUE]
        r = v / prev - 1.0
        prev = v
        x = r - ((1.0 + risk_free[t]) ** (1.0 / ppy) - 1.0)
        dev_r += (r - mean_r) * (r - mean_r)
        dev_x += (x - mean_x) * (x - mean_x)
        if x < 0.0:
            down += x * x
    growth = max(stats[n - 1, STAT_VALUE] / init_cash, 0.0)
    cagr = growth ** (ppy / n) - 1.0
    out[M_TOTAL_RETURN] = stats[n - 1, STAT_VALUE] / init_cash - 1.0
    out[M_CAGR] = cagr
    out[M_VOLATILITY] = np.nan
    out[M_SHARPE] = np.nan
    out[M_SORTINO] = np.nan
    if n > 1:
        out[M_VOLATILITY] = np.sqrt(dev_r / (n - 1)) * np.sqrt(ppy)
        std_x = np.sqrt(dev_x / (n - 1))
        if std_x > 0.0:
            out[M_SHARPE] = mean_x * np.sqrt(ppy) / std_x
        downside = np.sqrt(down / n)
        if downside > 0.0:
            out[M_SORTINO] = mean_x * np.sqrt(ppy) / downside
    out[M_MAX_DRAWDOWN] = max_dd
    out[M_CALMAR] = cagr / -max_dd if max_dd < 0.0 else np.nan
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
    ):
        total = 0.0
        for t in range(n):
            total += stats[t, column]
        out[m] = total


# --- drivers: K portfolios over one market --------------------------------------------


@njit(cache=True, parallel=True)
def simulate_nb(
    close,
    exec_price,
    fx,
    asset_ccy,
    lot_size,
    costs,
    charges,
    segment,
    borrow,
    rates,
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
    ``records[rec_start[k]:rec_start[k + 1]]``, ``rec_count_out[K]``, ``status_out[K]``
    and ``fail_bar_out[K]``. Returns None.
    """
    for k in prange(targets.shape[0]):
        p = np.int64(k) if segment.shape[0] > 1 else np.int64(0)
        used, status, fail_bar = simulate_one_nb(
            close,
            exec_price,
            fx,
            asset_ccy,
            lot_size,
            costs,
            charges,
            segment[p],
            borrow,
            rates,
            targets[k],
            size_type,
            init_cash[k],
            max_leverage[k],
            k,
            qty_out[k],
            stats_out[k],
            records[rec_start[k] : rec_start[k + 1]],
        )
        rec_count_out[k] = used
        status_out[k] = status
        fail_bar_out[k] = fail_bar


@njit(cache=True, parallel=True)
def sweep_nb(
    close,
    exec_price,
    fx,
    asset_ccy,
    lot_size,
    costs,
    charges,
    segment,
    borrow,
    rates,
    targets,
    size_type,
    init_cash,
    max_leverage,
    ppy,
    metrics_out,
    values_out,
    status_out,
):
    """Simulate the K portfolios of ``targets[K, T, N]`` in parallel; keep their metrics.

    Memory grows with K x metrics, not K x bars: each portfolio runs into scratch arrays
    of its own. Writes ``metrics_out[K, N_METRICS]``, ``status_out[K]``, and
    ``values_out[K, T]`` unless it is ``[0, 0]``. Returns None.
    """
    n_port, n_bars, n_assets = targets.shape
    keep_values = values_out.shape[0] == n_port
    for k in prange(n_port):
        count = 0
        for t in range(n_bars):
            for j in range(n_assets):
                if not np.isnan(targets[k, t, j]):
                    count += 1
        p = np.int64(k) if segment.shape[0] > 1 else np.int64(0)
        qty = np.zeros((1, n_assets), dtype=np.float64)
        stats = np.zeros((n_bars, N_STATS), dtype=np.float64)
        records = np.empty(count, dtype=TRADE_DTYPE)
        used, status, _ = simulate_one_nb(
            close,
            exec_price,
            fx,
            asset_ccy,
            lot_size,
            costs,
            charges,
            segment[p],
            borrow,
            rates,
            targets[k],
            size_type,
            init_cash[k],
            max_leverage[k],
            k,
            qty,
            stats,
            records,
        )
        portfolio_metrics_nb(
            stats, init_cash[k], used, ppy, rates[:, RATE_RISK_FREE], metrics_out[k]
        )
        status_out[k] = status
        if keep_values:
            for t in range(n_bars):
                values_out[k, t] = stats[t, STAT_VALUE]
