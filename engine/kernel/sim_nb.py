"""Portfolio simulation kernel: one module, so numba's cache can never run stale code.

NumPy in, NumPy out; no pandas, no I/O, no project imports.

Why one module: numba caches each compiled function in a file keyed on its own source
file, and freezes the globals it reads (constants, dtypes, other njit functions) into
the compiled code. A kernel that called a helper or read a constant from another file
would keep the old compiled helper after that file changed. So the simulation core,
the drivers (`simulate_nb`, which keeps everything; `sweep_nb` and `sweep_rule_nb`,
which keep only metrics), the schedule and lag of targets (`schedule_nb`), their
constants, record dtypes and the metric definitions all live here, and no njit code in
this module refers to a name from another module. Editing anything in this file changes
its stamp and recompiles every function in it. (`metrics_nb.py` and `inputs_nb.py` are
separate because they are self-contained: they call nothing here.)

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
- ``volume_cap[V, N]`` the most units of each asset an order may fill at bar t
  (participation times the volume known at the fill; inf = no cap); V = 1: no cap.
  ``impact[I, N]`` the square-root impact coefficient ``k * sigma / sqrt(ADV)`` of each
  bar (0 = none); I = 1: no impact model (the cost field ``half_spread`` still applies).
- Trading rules, shared by every portfolio: ``max_weight[N]`` (inf = none);
  ``groups[G, N]`` (1 = member) with ``group_limits[G, 3]`` (gross, net low, net high;
  inf bounds = none); ``net_band[2]`` (low <= 0 <= high); ``drawdown[3]`` (`DD_*`:
  trigger, fraction, recovery; trigger inf = no rule); ``stops[2, N]`` (stop-loss and
  take-profit fractions of the entry price; inf = none). Limits apply to weights only.

Semantics (DESIGN.md, "Simulation semantics"), per portfolio and bar ``t``; each rule is
one helper below, inlined into `run_portfolio_nb`. Steps 1-4 and 9 read each asset once,
in `bar_pass_nb`; a bar without orders (most bars) needs nothing else:

1. Accrual (`borrow_fee_nb`, and the cash line of the loop): over (t-1, t], positive
   cash earns ``rates[t, RATE_CASH_CREDIT]`` and negative cash pays
   ``rates[t, RATE_CASH_DEBIT]``, times ``rates[t, RATE_YEAR_FRAC]``; each short pays
   ``borrow[t, j]`` on its market value at the previous bar (close and fx).
1b. `dividends_nb` (only when D = T), after the accrual: the holder entering the
   ex-date bar t, i.e. the quantity held at the close of bar t-1, is entitled to
   ``dividends[t, j]`` per share, settled in cash at bar t before anything trades (a
   position bought at bar t is not entitled; one sold at bar t is). A long receives it
   less ``withholding[j]``; a short pays it in full (the lender is owed the dividend,
   and no tax is withheld from a payment). The amount converts at bar t's fx (the last
   known rate if bar t has none). A dividend is paid on an ex-date where the asset
   itself has no price (a holiday of its exchange): entitlement depends on holding,
   not on trading.
2. `known_nb`, `observe_fx_nb`: last known close and fx are updated; a NaN keeps the
   previous value, so a price gap is valued at the last known price.
3. A non-NaN target at row t replaces any pending target of that asset (rows whose
   ``target_rows[t]`` is 0 are not read). A pending target executes at the asset's next
   tradable bar (finite positive execution price and a known fx rate); pending
   *weights* are resolved with the value at the bar where they execute.
3b. Trading rules (`target_step_nb`), at a bar with a target row or after the drawdown
   rule changed state: each asset's latest asked weight goes through the limits
   (`limit_weights_nb`: per-name maximum; groups' gross, then net by scaling the side
   that breaks it; the portfolio's net band the same way; repeated until nothing
   moves, at most `_LIMIT_PASSES`, then one common factor; then the drawdown rule's
   fraction while it cuts). The row's assets, and every other asset whose limited
   weight moved, get it as target. What each limit cut is a `STAT_CUT_*` column. A
   stopped asset counts as 0 and ignores its rows until its exit filled.
4. `mark_price_nb` (`mark_nb` on a bar with orders): value before trading marks each
   asset at its execution price where it trades this bar, at its last known close
   otherwise.
5. `plan_orders_nb`: target quantity = weight * value_before / (exec_price * fx),
   rounded toward zero to whole board lots (slippage moves the fill price, not the
   target). With a participation cap an order beyond ``volume_cap[t, j]`` is cut to
   it in whole lots; its target stays pending for the asset's next tradable bar, and
   the value held back is `STAT_UNFILLED`. Each order is split into the part that
   reduces the position and the part that opens or increases one.
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
   The fill price is the quote moved against the order by slippage + half_spread +
   ``impact[t, j] * sqrt(|units|)`` (`impact_nb`); the last two are `STAT_IMPACT`.
9. End-of-bar value = cash + sum(qty * last close * last fx): from `bar_pass_nb` when
   nothing traded, from `close_bar_nb` after fills.
10. Bankruptcy: a value at or below zero at the end of bar t marks the portfolio
    bankrupt (`STATUS_BANKRUPT`). `liquidate_nb` closes every position at bar t's last
    known close, with the costs of step 8 (slippage moves the fill price), and the bar's
    value columns are written again: value = cash, no exposure. From t + 1 on the curve
    is flat at that value: no trading, no interest, no borrow fees.
10b. Drawdown rule, on the bar's closing value: from a peak (init_cash first), a fall
    of ``drawdown[DD_TRIGGER]`` starts cutting; while cutting, a rise of
    ``drawdown[DD_RECOVERY]`` from the lowest value since restores, and the peak
    starts again from there. A change of state re-applies step 3b at bar t + 1.
10c. Stops (`stops_nb`): a held asset whose close at bar t is ``stops[0, j]`` below
    its average entry price (above, for a short) is stopped out, ``stops[1, j]``
    above (below) takes profit: its target becomes 0, executed at its next tradable
    bar like any target.
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
STAT_IMPACT = 16  # |qty| * exec_price * (half_spread + impact term) * fx: market impact paid
STAT_UNFILLED = 17  # value of orders the participation cap held back to later bars
STAT_CUT_NAME = 18  # sum of |weight| the per-name limit cut from this bar's targets
STAT_CUT_GROUP = 19  # ... the group limits cut
STAT_CUT_NET = 20  # ... the portfolio's net band cut
STAT_CUT_DRAWDOWN = 21  # ... the drawdown rule cut
STAT_DRAWDOWN_CUTTING = 22  # 1 while the drawdown rule is cutting (state at the bar's end)
STAT_STOP_LOSSES = 23  # stop-losses triggered at this bar's close
STAT_TAKE_PROFITS = 24  # take-profits triggered at this bar's close
N_STATS = 25

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
        ("half_spread", np.float64),  # fractional move of the fill price, reported as impact
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
        ("impact", np.float64),  # half-spread and square-root impact, base currency
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
M_IMPACT = 22
M_UNFILLED = 23
M_UNFILLED_BARS = 24
M_CUT_NAME = 25
M_CUT_GROUP = 26
M_CUT_NET = 27
M_CUT_DRAWDOWN = 28
M_DRAWDOWN_BARS = 29
M_STOP_LOSSES = 30
M_TAKE_PROFITS = 31
N_METRICS = 32
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
    "impact",
    "unfilled",
    "unfilled_bars",
    "cut_name",
    "cut_group",
    "cut_net",
    "cut_drawdown",
    "drawdown_bars",
    "stop_losses",
    "take_profits",
)

# Rows of the per-asset scratch array ``work[N_WORK, N]`` of `run_portfolio_nb`.
W_QTY = 0  # quantity held
W_LAST_PX = 1  # last known close
W_PENDING = 2  # target waiting for a tradable bar, NaN = none
W_MARK = 3  # price the asset is marked at before trading this bar
W_ORDER = 4  # this bar's order, signed units
W_REDUCE = 5  # the part of the order that moves the position toward zero
W_SIGNED_VALUE = 6  # signed order value, the sort key of the fill sequence
W_KEY = 7  # sort keys in fill order
W_KEY_BUF = 8  # the merge's second buffer of keys
W_WANT = 9  # the latest weight the strategy asked for, before limits (NaN: never)
W_LIMITED = 10  # that weight after the limits, as last made pending
W_FRESH = 11  # 1 where this bar's target row names the asset
W_ENTRY = 12  # average fill price of the open position (asset currency), NaN when flat
W_STOPPED = 13  # 0, or STOP_EXITING after a stop until the exit fills, then STOP_OUT
W_LIMIT = 14  # scratch: the weights being limited
N_WORK = 15

# States of ``work[W_STOPPED]``.
STOP_EXITING = 1.0  # stopped: the exit is pending, target rows are ignored
STOP_OUT = 2.0  # the exit filled: the asset's next target row is taken again

# Entries of ``market[18]``, the drawdown rule.
DD_TRIGGER = 0  # cut after a drawdown of this fraction from the peak (inf: no rule)
DD_FRACTION = 1  # targets are scaled by this while cutting
DD_RECOVERY = 2  # restore after a rise of this fraction from the trough

_LOT_TOL = 1e-9
_NOISE = 1e-12
_RUN = 16  # orders sorted by insertion before merging
_BOUND_MARGIN = 1e-9  # relative room for rounding when a cost bound decides alone
_LIMIT_TOL = 1e-12  # weight a limit may be exceeded by before it cuts (float noise)
_LIMIT_PASSES = 4  # passes of the group and net limits before one common factor decides


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
def impact_nb(t, j, d, half_spread, impact):
    """Fractional move of the fill price that an order of `d` units of asset `j` pays at
    bar `t` beyond slippage: ``half_spread + impact[t, j] * sqrt(|d|)``, where
    ``impact[t, j] = k * sigma / sqrt(ADV)`` (one row of zeros: no volume model)."""
    frac = half_spread
    if impact.shape[0] > 1:
        c = impact[t, j]
        if c > 0.0:
            frac += c * np.sqrt(abs(d))
    return frac


@njit(cache=True, inline="always")
def order_cost_nb(d, px, fx, costs, charges, s, j, imp):
    """Return every cost of an order of `d` units of asset `j` quoted at `px`, whose fill
    price moves by slippage and the impact fraction `imp`."""
    cost = costs[s, j]
    move = cost.slippage + imp
    v = abs(d) * px * (1.0 + move) * fx
    tax = cost.buy_tax if d > 0.0 else cost.sell_tax
    fee = fee_nb(v, fx, costs, charges, s, j)
    return fee + (tax + cost.fx_cost) * v + abs(d) * px * move * fx


@njit(cache=True, inline="always")
def entry_after_nb(q, d, entry, fill):
    """Average entry price of a position of `q` units at `entry` after a fill of `d` at
    `fill`: the fill price when it opens or flips, volume-weighted when it grows,
    unchanged when it shrinks, NaN when it closes."""
    new = q + d
    if new == 0.0:
        return np.nan
    if q == 0.0 or (q > 0.0) != (new > 0.0):
        return fill
    if (d > 0.0) == (q > 0.0):
        return (abs(q) * entry + abs(d) * fill) / abs(new)
    return entry


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
def fill_nb(portfolio, t, j, d, px, fx, costs, charges, s, imp, qty, entry, stats, records, r):
    """Fill one order of signed size `d` at quote `px`, its price moved by slippage and
    the impact fraction `imp`; update `qty`, `entry`, ``stats[t]`` and ``records[r]``.
    Returns the change in cash."""
    cost = costs[s, j]
    slip = cost.slippage
    move = slip + imp
    fill = px * (1.0 + move) if d > 0.0 else px * (1.0 - move)
    traded = abs(d) * fill * fx
    fee = fee_nb(traded, fx, costs, charges, s, j)
    tax = (cost.buy_tax if d > 0.0 else cost.sell_tax) * traded
    fxc = cost.fx_cost * traded
    slip_cost = abs(d) * px * slip * fx
    imp_cost = abs(d) * px * imp * fx
    entry[j] = entry_after_nb(qty[j], d, entry[j], fill)
    qty[j] += d
    stats[t, STAT_TRADED] += traded
    stats[t, STAT_FEES] += fee
    stats[t, STAT_TAXES] += tax
    stats[t, STAT_FX_COSTS] += fxc
    stats[t, STAT_SLIPPAGE] += slip_cost
    stats[t, STAT_IMPACT] += imp_cost
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
    rec["impact"] = imp_cost
    return -(d * fill * fx) - fee - tax - fxc


# --- the steps of one bar -------------------------------------------------------------
#
# Steps 1-4 and 9 read each asset once: `bar_pass_nb` walks the assets a single time per
# bar, calling one small helper per rule. A bar with nothing to trade (most bars) needs
# nothing else; a bar with orders marks its assets (`mark_nb`), plans, fills, and values
# the book again (`close_bar_nb`).


@njit(cache=True, inline="always")
def borrow_fee_nb(q, px, fx, rate, dt):
    """Step 1: borrow fee of a position of `q` units valued at `px` and `fx` over `dt`
    years; a short (q < 0) pays `rate` on its value at the previous bar's close."""
    return -q * px * fx * rate * dt if q < 0.0 else 0.0


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
def known_nb(x, last):
    """Step 2: the value `x` observed now, or the `last` known one when `x` is NaN."""
    return x if np.isfinite(x) else last


@njit(cache=True, inline="always")
def mark_price_nb(px, last):
    """Step 4: an asset is marked at its execution price `px` where it trades this bar
    (finite and positive), at its `last` known close otherwise."""
    return px if np.isfinite(px) and px > 0.0 else last


@njit(cache=True, inline="always")
def observe_fx_nb(t, fx, last_fx, prev_fx):
    """Step 2 for currencies: keep the rates known before bar `t` in ``prev_fx`` (borrow
    accrues on them) and carry the last known rate of each currency into ``last_fx``."""
    for c in range(fx.shape[1]):
        prev_fx[c] = last_fx[c]
        last_fx[c] = known_nb(fx[t, c], last_fx[c])


@njit(cache=True, inline="always")
def bar_pass_nb(
    t, close, exec_price, targets, new_targets, asset_ccy, borrow, dt, prev_fx, last_fx,
    qty, last_px, pending, ruled, want, fresh,
):  # fmt: skip
    """Steps 1-4 and 9 of bar `t` in one pass over the assets.

    Accrues borrow on shorts at the previous close and rates (step 1), carries the last
    known close (step 2), takes the bar's targets when `new_targets` (step 3: straight
    into `pending`, or with `ruled` into `want` and `fresh` for `target_step_nb`), and
    sums the book marked for trading (step 4) and at the close (step 9). Returns the
    number of assets whose target became pending, the borrow fee, and the positions'
    marked value, gross and net value at the close (cash excluded).
    """
    row = t if borrow.shape[0] > 1 else 0
    accrues = t > 0 and dt > 0.0
    fee = 0.0
    marked = 0.0
    gross = 0.0
    net = 0.0
    n_new = 0
    for j in range(qty.shape[0]):
        q = qty[j]
        if q != 0.0 and accrues:
            fee += borrow_fee_nb(q, last_px[j], prev_fx[asset_ccy[j]], borrow[row, j], dt)
        last = known_nb(close[t, j], last_px[j])
        last_px[j] = last
        if new_targets:
            x = targets[t, j]
            if not np.isnan(x):
                if ruled:
                    want[j] = x
                    fresh[j] = 1.0
                else:
                    if np.isnan(pending[j]):
                        n_new += 1
                    pending[j] = x
        if q != 0.0:
            fx = last_fx[asset_ccy[j]]
            marked += q * mark_price_nb(exec_price[t, j], last) * fx
            v = q * last * fx
            gross += abs(v)
            net += v
    return n_new, fee, marked, gross, net


# --- trading rules: limits on targets, stops, the drawdown rule -------------------------
#
# Off unless the market carries them (`rules_of_nb`); a run without any costs one test
# per bar with a target row.


@njit(cache=True, inline="always")
def member_nb(groups, g, j):
    """Whether asset `j` belongs to group `g` (-1: the whole portfolio)."""
    return g < 0 or groups[g, j] != 0.0


@njit(cache=True, inline="always")
def gross_cut_nb(w, groups, g, limit):
    """Scale the members of group `g` so that their gross weight is at most `limit`;
    return the sum of |weight| cut. NaN weights count as 0 and stay NaN."""
    gross = 0.0
    for j in range(w.shape[0]):
        if member_nb(groups, g, j) and not np.isnan(w[j]):
            gross += abs(w[j])
    if not gross > limit + _LIMIT_TOL:
        return 0.0
    f = limit / gross
    cut = 0.0
    for j in range(w.shape[0]):
        if member_nb(groups, g, j) and not np.isnan(w[j]):
            new = w[j] * f
            cut += abs(w[j]) - abs(new)
            w[j] = new
    return cut


@njit(cache=True, inline="always")
def net_cut_nb(w, groups, g, lo, hi):
    """Bring the net weight of group `g` into ``[lo, hi]`` (``lo <= 0 <= hi``) by scaling
    the side that pushes it out: the longs when it is above `hi`, the shorts when below
    `lo`. Returns the sum of |weight| cut."""
    longs = 0.0
    shorts = 0.0
    for j in range(w.shape[0]):
        if member_nb(groups, g, j):
            x = w[j]
            if x > 0.0:
                longs += x
            elif x < 0.0:
                shorts += x
    net = longs + shorts
    if net > hi + _LIMIT_TOL:
        f = (hi - shorts) / longs
        side = 1.0
    elif net < lo - _LIMIT_TOL:
        f = (lo - longs) / shorts
        side = -1.0
    else:
        return 0.0
    cut = 0.0
    for j in range(w.shape[0]):
        x = w[j]
        if member_nb(groups, g, j) and x * side > 0.0:
            new = x * f
            cut += abs(x) - abs(new)
            w[j] = new
    return cut


@njit(cache=True, inline="always")
def room_nb(w, groups, g, gross_limit, lo, hi):
    """The largest factor in [0, 1] that brings group `g` (-1: all) within its limits
    when every weight is scaled by it."""
    gross = 0.0
    net = 0.0
    for j in range(w.shape[0]):
        if member_nb(groups, g, j) and not np.isnan(w[j]):
            gross += abs(w[j])
            net += w[j]
    f = 1.0
    if gross > gross_limit + _LIMIT_TOL:
        f = min(f, gross_limit / gross)
    if net > hi + _LIMIT_TOL:
        f = min(f, hi / net)
    elif net < lo - _LIMIT_TOL:
        f = min(f, lo / net)
    return f


@njit(cache=True, inline="always")
def limit_weights_nb(t, w, max_weight, groups, group_limits, net_band, scale, stats):
    """Apply the limits to target weights `w` in place, in order: each name's maximum,
    the groups' gross and net limits and the portfolio's net band (repeated until a pass
    cuts nothing, at most `_LIMIT_PASSES`, then one common factor for whatever still
    breaks one), and the drawdown rule's `scale`. Adds what each cut to ``stats[t]``."""
    n_groups = group_limits.shape[0]
    cut = 0.0
    for j in range(w.shape[0]):
        x = w[j]
        if abs(x) > max_weight[j]:
            new = max_weight[j] if x > 0.0 else -max_weight[j]
            cut += abs(x) - max_weight[j]
            w[j] = new
    stats[t, STAT_CUT_NAME] += cut
    lo = net_band[0]
    hi = net_band[1]
    for _ in range(_LIMIT_PASSES):
        group_cut = 0.0
        for g in range(n_groups):
            group_cut += gross_cut_nb(w, groups, g, group_limits[g, 0])
            group_cut += net_cut_nb(w, groups, g, group_limits[g, 1], group_limits[g, 2])
        net_cut = net_cut_nb(w, groups, -1, lo, hi)
        stats[t, STAT_CUT_GROUP] += group_cut
        stats[t, STAT_CUT_NET] += net_cut
        if group_cut == 0.0 and net_cut == 0.0:
            break
    f = room_nb(w, groups, -1, np.inf, lo, hi)
    for g in range(n_groups):
        lim = group_limits[g]
        f = min(f, room_nb(w, groups, g, lim[0], lim[1], lim[2]))
    if f < 1.0:
        f = max(f, 0.0)
        cut = 0.0
        for j in range(w.shape[0]):
            if not np.isnan(w[j]):
                cut += abs(w[j]) * (1.0 - f)
                w[j] *= f
        stats[t, STAT_CUT_NET] += cut
    if scale != 1.0:
        cut = 0.0
        for j in range(w.shape[0]):
            if not np.isnan(w[j]):
                cut += abs(w[j]) * (1.0 - scale)
                w[j] *= scale
        stats[t, STAT_CUT_DRAWDOWN] += cut


@njit(cache=True, inline="always")
def target_step_nb(t, limited_on, rules, scale, want, fresh, limited, stopped, w, pending, stats):
    """Step 3 under trading rules: this bar's target row (``fresh``) and, with limits,
    the limited weights of every asset, made pending. Returns how many assets' targets
    became pending.

    A stopped asset ignores its rows until its exit filled (``STOP_EXITING``); the
    first row after that (``STOP_OUT``) is taken again. With limits (`limited_on`), the
    weights ``want`` of the assets not stopped are limited (`limit_weights_nb`); every
    asset in the row, and every other one whose limited weight moved, gets it as target.
    """
    max_weight, groups, group_limits, net_band = rules
    n_new = 0
    for j in range(want.shape[0]):
        if fresh[j] != 0.0 and stopped[j] == STOP_EXITING:
            fresh[j] = 0.0
        elif fresh[j] != 0.0 and stopped[j] == STOP_OUT:
            stopped[j] = 0.0
        w[j] = want[j] if stopped[j] == 0.0 else np.nan
    if limited_on:
        limit_weights_nb(t, w, max_weight, groups, group_limits, net_band, scale, stats)
    for j in range(want.shape[0]):
        x = w[j]
        if np.isnan(x):
            fresh[j] = 0.0
            continue
        moved = not limited_on or x != limited[j]
        if fresh[j] != 0.0 or (limited_on and moved):
            if np.isnan(pending[j]):
                n_new += 1
            pending[j] = x
            limited[j] = x
        fresh[j] = 0.0
    return n_new


@njit(cache=True, inline="always")
def stops_nb(t, close, qty, entry, stop_loss, take_profit, stopped, pending, stats):
    """Stop-loss and take-profit at the close of bar `t`, on each held asset's average
    entry price: a trigger makes its target 0 (an exit at its next tradable bar) and
    ignores its target rows until that exit filled. Returns how many targets became
    pending."""
    n_new = 0
    for j in range(qty.shape[0]):
        q = qty[j]
        if stopped[j] == STOP_EXITING and q == 0.0:
            stopped[j] = STOP_OUT
        if q == 0.0 or stopped[j] != 0.0:
            continue
        px = close[t, j]
        e = entry[j]
        if not (np.isfinite(px) and np.isfinite(e)):
            continue
        move = px / e - 1.0 if q > 0.0 else 1.0 - px / e  # the position's gain
        if move <= -stop_loss[j]:
            stats[t, STAT_STOP_LOSSES] += 1.0
        elif move >= take_profit[j]:
            stats[t, STAT_TAKE_PROFITS] += 1.0
        else:
            continue
        stopped[j] = STOP_EXITING
        if np.isnan(pending[j]):
            n_new += 1
        pending[j] = 0.0
    return n_new


@njit(cache=True, inline="always")
def rules_of_nb(market):
    """Which trading rules `market` carries: (participation cap, limits or drawdown
    rule, stops, drawdown rule)."""
    volume_cap, _, max_weight, _, group_limits, net_band, drawdown, stops = market[12:]
    capped = volume_cap.shape[0] > 1
    dd_on = np.isfinite(drawdown[DD_TRIGGER])
    limited = dd_on or group_limits.shape[0] > 0
    limited = limited or np.isfinite(net_band[0]) or np.isfinite(net_band[1])
    stopping = False
    for j in range(max_weight.shape[0]):
        limited = limited or np.isfinite(max_weight[j])
        stopping = stopping or np.isfinite(stops[0, j]) or np.isfinite(stops[1, j])
    return capped, limited, stopping, dd_on


@njit(cache=True)
def record_slots_nb(market, target_rows):
    """Trade records one portfolio needs: one per non-NaN target plus N closing fills of
    a bankruptcy; with a participation cap or trading rules an order can fill over
    several bars or come from a rule, so then at most N fills a bar, plus N."""
    n_bars = target_rows.shape[0]
    n_assets = market[0].shape[1]
    capped, limited, stopping, _ = rules_of_nb(market)
    if capped or limited or stopping:
        return n_bars * n_assets + n_assets
    count = 0
    for t in range(n_bars):
        count += target_rows[t]
    return count + n_assets


@njit(cache=True, inline="always")
def mark_nb(t, exec_price, last_px, mark):
    """Step 4 on a bar with orders: the price each asset is marked and filled at."""
    for j in range(mark.shape[0]):
        mark[j] = mark_price_nb(exec_price[t, j], last_px[j])


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
    capped,
    volume_cap,
    impact,
    qty,
    pending,
    order,
    reduce,
    stats,
):
    """Step 5: turn the pending targets of tradable assets into orders ``order[N]``.

    ``reduce[j]`` is the part of ``order[j]`` that moves the position toward zero, never
    past it. An order larger than ``volume_cap[t, j]`` (participation; one row: no cap)
    is cut to it, in whole lots toward zero: its target stays pending and the value held
    back is the bar's `STAT_UNFILLED`. Returns the number of orders, their full cost at
    the quote when `capped` (the leverage cap needs it; 0 otherwise), and how many
    pending targets were taken (the rest wait).
    """
    n_orders = 0
    n_taken = 0
    cost_full = 0.0
    by_volume = volume_cap.shape[0] > 1
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
        d = round_to_lot_nb(target, lot_size[j]) - qty[j]
        if by_volume and abs(d) > volume_cap[t, j]:  # the rest waits for a later bar
            cut = round_to_lot_nb(volume_cap[t, j] if d > 0.0 else -volume_cap[t, j], lot_size[j])
            stats[t, STAT_UNFILLED] += (abs(d) - abs(cut)) * px * fx
            d = cut
        else:
            pending[j] = np.nan
            n_taken += 1
        if abs(d) * px * fx <= _NOISE * value_pre:
            continue
        order[j] = d
        if qty[j] != 0.0 and (d > 0.0) != (qty[j] > 0.0):
            reduce[j] = d if abs(d) <= abs(qty[j]) else -qty[j]
        if capped:
            imp = impact_nb(t, j, d, costs[s, j].half_spread, impact)
            cost_full += order_cost_nb(d, px, fx, costs, charges, s, j, imp)
        n_orders += 1
    return n_orders, cost_full, n_taken


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
def fund_buys_nb(
    t, cash, order, mark, last_fx, asset_ccy, lot_size, costs, charges, s, impact, value_pre
):
    """Step 7 without a leverage cap: scale buys that `cash` cannot fund, pro rata.

    The cost of a buy of value v is bounded by ``v * (1 + rates) + fixed`` (a charge
    ``clip(r v, lo, hi)`` is at most ``r v + lo``), so one common factor
    ``(cash - fixed) / variable`` always leaves cash non-negative. Buys are scaled only
    when their exact cost exceeds cash; when the bound fits (with room for its own
    rounding) the exact cost is not needed. Impact is taken at each buy's full size:
    scaling a buy down only lowers it. Returns the shortfall.
    """
    variable = 0.0
    fixed = 0.0
    for j in range(order.shape[0]):
        d = order[j]
        if d <= 0.0:
            continue
        fx = last_fx[asset_ccy[j]]
        cost = costs[s, j]
        move = cost.slippage + impact_nb(t, j, d, cost.half_spread, impact)
        v = d * mark[j] * (1.0 + move) * fx
        rate = cost.fee_rate + cost.buy_tax + cost.fx_cost
        fixed += (cost.fee_fixed + cost.fee_min) * fx
        for m in range(charges.shape[2]):
            rate += charges[s, j, m, CHARGE_RATE]
            fixed += charges[s, j, m, CHARGE_MIN] * fx
        variable += v * (1.0 + rate)
    if variable + fixed <= cash - _BOUND_MARGIN * abs(cash):
        return 0.0  # the bound, with room for its rounding, fits: so do the exact costs
    exact = 0.0
    for j in range(order.shape[0]):
        d = order[j]
        if d > 0.0:
            fx = last_fx[asset_ccy[j]]
            cost = costs[s, j]
            move = cost.slippage + impact_nb(t, j, d, cost.half_spread, impact)
            v = d * mark[j] * (1.0 + move) * fx
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
def sort_orders_nb(signed_value, order, seq, buf, keys, key_buf):
    """Write the assets with a non-zero order into ``seq[:m]``, ascending by signed order
    value (sells, the largest first, then buys); ties keep asset order. Returns m.

    A stable sort of (key, asset) pairs in ``keys``/``seq``: insertion sort of runs of
    `_RUN` orders, then bottom-up merges through ``key_buf``/``buf`` whose next element
    is chosen by a select, not a branch (random keys would mispredict half the time).
    The same order as ``np.argsort(signed_value, kind="mergesort")`` restricted to the
    orders.
    """
    m = 0
    for j in range(order.shape[0]):
        if order[j] != 0.0:
            seq[m] = j
            keys[m] = signed_value[j]
            m += 1
    for lo in range(0, m, _RUN):
        for i in range(lo + 1, min(lo + _RUN, m)):
            key = keys[i]
            item = seq[i]
            k = i
            while k > lo and keys[k - 1] > key:
                keys[k] = keys[k - 1]
                seq[k] = seq[k - 1]
                k -= 1
            keys[k] = key
            seq[k] = item
    width = _RUN
    in_buf = False  # where the sorted runs are now
    while width < m:
        if in_buf:
            src_key, src, dst_key, dst = key_buf, buf, keys, seq
        else:
            src_key, src, dst_key, dst = keys, seq, key_buf, buf
        for lo in range(0, m, 2 * width):
            mid = min(lo + width, m)
            hi = min(lo + 2 * width, m)
            i, k, out = lo, mid, lo
            while i < mid and k < hi:
                a = src_key[i]
                b = src_key[k]
                left = a <= b  # the left run first on ties: stable
                dst_key[out] = a if left else b
                dst[out] = src[i] if left else src[k]
                i += np.int64(left)
                k += np.int64(not left)
                out += 1
            while i < mid:
                dst_key[out] = src_key[i]
                dst[out] = src[i]
                i += 1
                out += 1
            while k < hi:
                dst_key[out] = src_key[k]
                dst[out] = src[k]
                k += 1
                out += 1
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
    impact,
    qty,
    entry,
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
        imp = impact_nb(t, j, d, costs[s, j].half_spread, impact)
        cash += fill_nb(
            portfolio, t, j, d, mark[j], fx, costs, charges, s, imp, qty, entry, stats, records, r
        )
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
    portfolio, t, last_px, last_fx, asset_ccy, costs, charges, s, impact, qty, entry, cash,
    stats, records, r,
):  # fmt: skip
    """Step 10: close every position at its last known close, with costs (impact included,
    no participation cap), in asset order. Returns the new cash and the next free record
    slot.
    """
    for j in range(qty.shape[0]):
        if qty[j] != 0.0:
            fx = last_fx[asset_ccy[j]]
            d = -qty[j]
            imp = impact_nb(t, j, d, costs[s, j].half_spread, impact)
            cash += fill_nb(
                portfolio, t, j, d, last_px[j], fx, costs, charges, s, imp, qty, entry, stats,
                records, r,
            )  # fmt: skip
            r += 1
    return cash, r


# --- one portfolio over all bars ------------------------------------------------------


@njit(cache=True, _nrt=False)
def run_portfolio_nb(
    market,
    p,
    targets,
    target_rows,
    size_type,
    init_cash,
    max_leverage,
    portfolio,
    stats_out,
    records,
    work,
    fx_work,
    seq,
    buf,
):
    """The time loop of `simulate_one_nb`, on scratch arrays it allocates.

    ``work[N_WORK, N]`` holds the per-asset state rows ``W_*``, ``fx_work[2, C]`` the
    last known rates and those known before the bar, ``seq[N]`` and ``buf[N]`` the order
    sequence; all are initialised here.
    """
    close, exec_price, fx, asset_ccy, lot_size, costs, charges, segment, borrow, rates = market[:10]
    dividends, withholding, volume_cap, impact = market[10:14]
    max_weight, groups, group_limits, net_band, drawdown, stops = market[14:]
    rules = (max_weight, groups, group_limits, net_band)
    _, limited_on, stopping, dd_on = rules_of_nb(market)
    ruled = limited_on or stopping
    n_bars, n_assets = close.shape
    capped = np.isfinite(max_leverage)
    cash = init_cash
    qty = work[W_QTY]
    last_px = work[W_LAST_PX]
    pending = work[W_PENDING]
    mark = work[W_MARK]
    order = work[W_ORDER]
    reduce = work[W_REDUCE]
    signed_value = work[W_SIGNED_VALUE]
    want = work[W_WANT]
    limited = work[W_LIMITED]
    fresh = work[W_FRESH]
    entry = work[W_ENTRY]
    stopped = work[W_STOPPED]
    last_fx = fx_work[0]
    prev_fx = fx_work[1]
    for j in range(n_assets):
        qty[j] = 0.0
        last_px[j] = np.nan
        pending[j] = np.nan
        want[j] = np.nan
        limited[j] = np.nan
        fresh[j] = 0.0
        entry[j] = np.nan
        stopped[j] = 0.0
    for c in range(last_fx.shape[0]):
        last_fx[c] = np.nan
    n_pending = 0
    r = 0
    status = STATUS_OK
    fail_bar = -1
    peak = init_cash  # the drawdown rule's state
    trough = init_cash
    cutting = False
    retarget = False  # the drawdown rule changed state at the previous bar's close

    for t in range(n_bars):
        for c in range(N_STATS):
            stats_out[t, c] = 0.0
        observe_fx_nb(t, fx, last_fx, prev_fx)
        dt = rates[t, RATE_YEAR_FRAC]
        new_targets = target_rows[t] > 0
        n_new, fee, marked, gross, net = bar_pass_nb(
            t, close, exec_price, targets, new_targets, asset_ccy, borrow, dt, prev_fx,
            last_fx, qty, last_px, pending, ruled, want, fresh,
        )  # fmt: skip
        if ruled and (new_targets or retarget):  # step 3 under limits and stops
            scale = drawdown[DD_FRACTION] if cutting else 1.0
            n_new += target_step_nb(
                t, limited_on, rules, scale, want, fresh, limited, stopped, work[W_LIMIT],
                pending, stats_out,
            )  # fmt: skip
            retarget = False
        n_pending += n_new
        if t > 0 and dt > 0.0:  # step 1: interest on the cash held over (t-1, t]
            rate = rates[t, RATE_CASH_CREDIT] if cash >= 0.0 else rates[t, RATE_CASH_DEBIT]
            interest = cash * rate * dt
            stats_out[t, STAT_INTEREST] = interest
            stats_out[t, STAT_BORROW] = fee
            cash += interest - fee
        if dividends.shape[0] > 1:
            cash = dividends_nb(
                t, cash, qty, dividends, withholding, fx, prev_fx, asset_ccy, stats_out
            )
        value_pre = cash + marked
        stats_out[t, STAT_VALUE_PRE] = value_pre

        traded = False
        if n_pending > 0 and value_pre > 0.0:
            s = segment[p, t]
            mark_nb(t, exec_price, last_px, mark)
            n_orders, cost_full, n_taken = plan_orders_nb(
                t, exec_price, last_fx, asset_ccy, lot_size, costs, charges, s, size_type,
                value_pre, capped, volume_cap, impact, qty, pending, order, reduce, stats_out,
            )  # fmt: skip
            n_pending -= n_taken
            if n_orders > 0:
                traded = True
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
                m = sort_orders_nb(signed_value, order, seq, buf, work[W_KEY], work[W_KEY_BUF])
                cash, r = fill_side_nb(
                    False, portfolio, t, seq, m, order, mark, last_fx, asset_ccy, costs, charges,
                    s, impact, qty, entry, cash, stats_out, records, r,
                )  # fmt: skip
                if not capped:
                    shortfall += fund_buys_nb(
                        t, cash, order, mark, last_fx, asset_ccy, lot_size, costs, charges, s,
                        impact, value_pre,
                    )  # fmt: skip
                cash, r = fill_side_nb(
                    True, portfolio, t, seq, m, order, mark, last_fx, asset_ccy, costs, charges,
                    s, impact, qty, entry, cash, stats_out, records, r,
                )  # fmt: skip
                stats_out[t, STAT_SHORTFALL] = shortfall
                for j in range(n_assets):
                    if order[j] != 0.0 and np.isnan(last_px[j]):
                        last_px[j] = mark[j]  # traded before its first close: value at the quote

        if traded:
            value = close_bar_nb(t, qty, last_px, last_fx, asset_ccy, cash, stats_out)
        else:  # step 9 from the bar's single pass: nothing moved since
            value = cash + net
            stats_out[t, STAT_VALUE] = value
            stats_out[t, STAT_CASH] = cash
            stats_out[t, STAT_GROSS] = gross
            stats_out[t, STAT_NET] = net
        # one sum is not finite when any of its terms is inf or NaN
        amounts = (
            value + stats_out[t, STAT_GROSS] + value_pre + stats_out[t, STAT_TRADED]
            + stats_out[t, STAT_SHORTFALL] + stats_out[t, STAT_UNFILLED]
        )  # fmt: skip
        if not np.isfinite(amounts):
            status = STATUS_NOT_FINITE
        elif value <= 0.0:
            status = STATUS_BANKRUPT
            cash, r = liquidate_nb(
                portfolio, t, last_px, last_fx, asset_ccy, costs, charges, segment[p, t], impact,
                qty, entry, cash, stats_out, records, r,
            )  # fmt: skip
            value = close_bar_nb(t, qty, last_px, last_fx, asset_ccy, cash, stats_out)
        if status != STATUS_OK:
            fail_bar = t
            for u in range(t + 1, n_bars):  # flat from here: nothing trades or accrues
                for c in range(N_STATS):
                    stats_out[u, c] = 0.0
                stats_out[u, STAT_VALUE] = value
                stats_out[u, STAT_CASH] = cash
                stats_out[u, STAT_VALUE_PRE] = value
            break
        if dd_on:  # the drawdown rule, on the bar's closing value
            if not cutting:
                peak = max(peak, value)
                if value <= peak * (1.0 - drawdown[DD_TRIGGER]):
                    cutting = True
                    trough = value
                    retarget = True
            else:
                trough = min(trough, value)
                if value >= trough * (1.0 + drawdown[DD_RECOVERY]):
                    cutting = False
                    peak = value
                    retarget = True
            stats_out[t, STAT_DRAWDOWN_CUTTING] = 1.0 if cutting else 0.0
        if stopping:
            n_pending += stops_nb(
                t, close, qty, entry, stops[0], stops[1], stopped, pending, stats_out
            )
    return r, status, fail_bar


@njit(cache=True)
def simulate_one_nb(
    market, p, targets, target_rows, size_type, init_cash, max_leverage, portfolio, stats_out,
    records,
):  # fmt: skip
    """Simulate one portfolio over all bars.

    `market` is the tuple of shared inputs (module docstring; `KernelMarket.args`); `p`
    is the portfolio's row of ``segment``; ``targets[T, N]`` its targets in the units of
    `size_type`, and ``target_rows[T]`` how many of each row are not NaN (a row of zero
    is not read); `max_leverage` is inf for no cap (buys limited by cash). Writes
    ``stats_out[T, N_STATS]`` and the fills into ``records`` from slot 0, tagged with
    `portfolio`; ``records`` needs `record_slots_nb` slots (`positions_nb` turns them
    into quantities held). Returns
    (records used, status, the bar the status was set or -1).
    """
    n_assets = market[0].shape[1]
    n_ccy = market[2].shape[1]
    return run_portfolio_nb(
        market, p, targets, target_rows, size_type, init_cash, max_leverage, portfolio,
        stats_out, records, np.empty((N_WORK, n_assets), dtype=np.float64),
        np.empty((2, n_ccy), dtype=np.float64), np.empty(n_assets, dtype=np.int64),
        np.empty(n_assets, dtype=np.int64),
    )  # fmt: skip


@njit(cache=True)
def positions_nb(records, out):
    """Quantities held at the end of each bar, ``out[T, N]``, from one portfolio's fills
    in the order the kernel made them (so each sum is the kernel's, bit for bit)."""
    n_bars, n_assets = out.shape
    qty = np.zeros(n_assets, dtype=np.float64)
    r = 0
    for t in range(n_bars):
        while r < records.shape[0] and records[r]["bar"] == t:
            qty[records[r]["asset"]] += records[r]["qty"]
            r += 1
        for j in range(n_assets):
            out[t, j] = qty[j]


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
    counts the bars with a shortfall; `M_UNFILLED` sums what the participation cap held
    back at each bar (a remainder waiting three bars counts three times) and
    `M_UNFILLED_BARS` counts those bars; the cuts of the limits are sums of weight;
    `M_DRAWDOWN_BARS` counts the bars the drawdown rule was cutting.
    """
    n = stats.shape[0]
    value = np.empty(n, dtype=np.float64)
    turnover = 0.0
    gross = 0.0
    net = 0.0
    short_bars = 0
    fees = taxes = borrow = slippage = fx_costs = interest = shortfall = 0.0
    dividends = dividends_paid = withholding = 0.0
    impact = unfilled = cut_name = cut_group = cut_net = cut_drawdown = 0.0
    unfilled_bars = drawdown_bars = 0
    stop_losses = take_profits = 0.0
    for t in range(n):  # one pass over the bars, each total summed in bar order
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
        fees += stats[t, STAT_FEES]
        taxes += stats[t, STAT_TAXES]
        borrow += stats[t, STAT_BORROW]
        slippage += stats[t, STAT_SLIPPAGE]
        fx_costs += stats[t, STAT_FX_COSTS]
        interest += stats[t, STAT_INTEREST]
        shortfall += stats[t, STAT_SHORTFALL]
        dividends += stats[t, STAT_DIVIDENDS]
        dividends_paid += stats[t, STAT_DIVIDENDS_PAID]
        withholding += stats[t, STAT_WITHHOLDING]
        impact += stats[t, STAT_IMPACT]
        if stats[t, STAT_UNFILLED] > 0.0:
            unfilled += stats[t, STAT_UNFILLED]
            unfilled_bars += 1
        cut_name += stats[t, STAT_CUT_NAME]
        cut_group += stats[t, STAT_CUT_GROUP]
        cut_net += stats[t, STAT_CUT_NET]
        cut_drawdown += stats[t, STAT_CUT_DRAWDOWN]
        if stats[t, STAT_DRAWDOWN_CUTTING] != 0.0:
            drawdown_bars += 1
        stop_losses += stats[t, STAT_STOP_LOSSES]
        take_profits += stats[t, STAT_TAKE_PROFITS]
    value_metrics_nb(value, init_cash, ppy, rf_bar, out)
    out[M_TURNOVER] = turnover * ppy / n
    out[M_AVG_GROSS] = gross / n
    out[M_AVG_NET] = net / n
    out[M_N_TRADES] = n_trades
    out[M_FEES] = fees
    out[M_TAXES] = taxes
    out[M_BORROW] = borrow
    out[M_SLIPPAGE] = slippage
    out[M_FX_COSTS] = fx_costs
    out[M_INTEREST] = interest
    out[M_SHORTFALL] = shortfall
    out[M_DIVIDENDS] = dividends
    out[M_DIVIDENDS_PAID] = dividends_paid
    out[M_WITHHOLDING] = withholding
    out[M_SHORTFALL_BARS] = short_bars
    out[M_IMPACT] = impact
    out[M_UNFILLED] = unfilled
    out[M_UNFILLED_BARS] = unfilled_bars
    out[M_CUT_NAME] = cut_name
    out[M_CUT_GROUP] = cut_group
    out[M_CUT_NET] = cut_net
    out[M_CUT_DRAWDOWN] = cut_drawdown
    out[M_DRAWDOWN_BARS] = drawdown_bars
    out[M_STOP_LOSSES] = stop_losses
    out[M_TAKE_PROFITS] = take_profits


@njit(cache=True)
def risk_free_per_bar_nb(rates, ppy):
    """Return ``[T]`` per-bar risk-free returns: ``(1 + annual rate) ** (1 / ppy) - 1``."""
    out = np.empty(rates.shape[0], dtype=np.float64)
    for t in range(rates.shape[0]):
        out[t] = (1.0 + rates[t, RATE_RISK_FREE]) ** (1.0 / ppy) - 1.0
    return out


# --- targets: a strategy's decisions on the schedule, lagged ---------------------------
#
# One implementation for a run and a sweep. A run hands the strategy's weights in
# (`RULE_GIVEN`); a sweep of a signal strategy hands in feature arrays and a rule, so it
# never holds [K, T, N] weights: each portfolio's targets are built into a scratch array
# of its own, simulated, and dropped.

RULE_GIVEN = 0  # the decision of bar t is ``raw[t, j]``
RULE_CROSS = 1  # ``up`` while features[a] > features[b], else ``down``; NaN while b is NaN
RULE_SIGN = 2  # ``up`` while features[a] > 0, else ``down``; NaN while a is NaN


@njit(cache=True, inline="always")
def decision_nb(rule, raw, features, a, b, up, down, t, j):
    """The weight a strategy decides for asset `j` at bar `t` (NaN: no instruction)."""
    if rule == RULE_GIVEN:
        return raw[t, j]
    if rule == RULE_CROSS:
        slow = features[b, t, j]
        if np.isnan(slow):
            return np.nan
        return up if features[a, t, j] > slow else down
    x = features[a, t, j]
    if np.isnan(x):
        return np.nan
    return up if x > 0.0 else down


@njit(cache=True)
def schedule_nb(
    rule, raw, features, a, b, up, down, keep, on_change, lag, decide, first, closing, limit,
    rows, out, rows_out,
):  # fmt: skip
    """Targets ``out[T, N]`` of one portfolio over the simulated bars: its decisions on
    the schedule's bars, lagged. Returns the first row whose gross exceeds `limit`
    (-1: none) and that gross.

    Decisions cover the whole market, ``T0`` bars, the first `first` of them warm-up.
    The schedule runs over the window of bars from `decide` (``first - lag``, or 0) on:
    its first row holds each asset's last decision at or before `decide` (so a window
    cut from a longer history starts from what the strategy last asked for); a later
    row counts where ``keep[w]`` (calendar schedules, ``keep[0]`` always), or with
    `on_change` where any decision differs from the previous row's (NaN equals NaN).
    Window row w becomes target row ``w + lag - (first - decide)``. ``closing[j]`` is
    the bar a series ends (-1: none): its target there is 0 and none follows.
    ``rows[2, N]`` is scratch; ``rows_out[T]`` gets the non-NaN count of each row.
    """
    n_bars, n_assets = out.shape
    n_window = keep.shape[0]
    shift = lag - (first - decide)
    prev = rows[0]
    cur = rows[1]
    for t in range(n_bars):
        for j in range(n_assets):
            out[t, j] = np.nan
    for j in range(n_assets):  # the carried first row: each asset's last decision
        prev[j] = np.nan
        for t in range(decide, -1, -1):
            x = decision_nb(rule, raw, features, a, b, up, down, t, j)
            if not np.isnan(x):
                prev[j] = x
                break
    if 0 <= shift < n_bars:
        for j in range(n_assets):
            out[shift, j] = prev[j]
    for w in range(1, n_window):
        changed = False
        for j in range(n_assets):
            x = decision_nb(rule, raw, features, a, b, up, down, decide + w, j)
            p = prev[j]
            if x != p and not (np.isnan(x) and np.isnan(p)):
                changed = True
            cur[j] = x
        t = w + shift
        if (changed if on_change else keep[w]) and 0 <= t < n_bars:
            for j in range(n_assets):
                out[t, j] = cur[j]
        for j in range(n_assets):
            prev[j] = cur[j]
    for j in range(n_assets):
        c = closing[j]
        if c >= 0:
            out[c, j] = 0.0
            for t in range(c + 1, n_bars):
                out[t, j] = np.nan
    over = -1
    over_gross = 0.0
    for t in range(n_bars):
        count = 0
        gross = 0.0
        for j in range(n_assets):
            x = out[t, j]
            if not np.isnan(x):
                count += 1
                gross += abs(x)
        rows_out[t] = count
        if over < 0 and gross > limit:
            over = t
            over_gross = gross
    return over, over_gross


@njit(cache=True)
def targets_nb(
    raw, keep, on_change, lag, decide, first, closing, limit, out, rows_out, over_out, gross_out
):
    """`schedule_nb` for K portfolios given their decisions ``raw[K, T0, N]``: writes
    ``out[K, T, N]``, ``rows_out[K, T]``, ``over_out[K]`` and ``gross_out[K]``."""
    unused = np.empty((1, 1, 1), dtype=np.float64)
    rows = np.empty((2, raw.shape[2]), dtype=np.float64)
    for k in range(raw.shape[0]):  # serial: cheap next to a simulation, and compiles fast
        over, gross = schedule_nb(
            RULE_GIVEN, raw[k], unused, 0, 0, 0.0, 0.0, keep, on_change, lag, decide, first,
            closing, limit, rows, out[k], rows_out[k],
        )  # fmt: skip
        over_out[k] = over
        gross_out[k] = gross


# --- drivers: K portfolios over one market --------------------------------------------


@njit(cache=True, parallel=True)
def simulate_nb(
    market,
    targets,
    target_rows,
    size_type,
    init_cash,
    max_leverage,
    stats_out,
    records,
    rec_start,
    rec_count_out,
    status_out,
    fail_bar_out,
):
    """Simulate the K portfolios of ``targets[K, T, N]`` in parallel; keep everything.

    ``target_rows[K, T]`` (non-NaN targets per row), ``init_cash[K]``, ``max_leverage[K]``;
    writes ``stats_out[K, T, N_STATS]``, the fills of portfolio k into
    ``records[rec_start[k]:rec_start[k + 1]]`` (sized as `simulate_one_nb` needs),
    ``rec_count_out[K]``, ``status_out[K]`` and ``fail_bar_out[K]``. Returns None.
    """
    rows = market[7].shape[0]  # rows of ``segment``: 1, or one per portfolio
    for k in prange(targets.shape[0]):
        p = np.int64(k) if rows > 1 else np.int64(0)
        used, status, fail_bar = simulate_one_nb(
            market, p, targets[k], target_rows[k], size_type, init_cash[k], max_leverage[k], k,
            stats_out[k], records[rec_start[k] : rec_start[k + 1]],
        )  # fmt: skip
        rec_count_out[k] = used
        status_out[k] = status
        fail_bar_out[k] = fail_bar


@njit(cache=True, inline="always")
def measure_one_nb(
    market, p, targets, target_rows, size_type, init_cash, max_leverage, k, ppy, rf_bar,
    metrics_out, values_out,
):  # fmt: skip
    """Simulate portfolio `k` into scratch arrays of its own and keep its metrics
    (``metrics_out[k]``) and, when ``values_out`` has a row per portfolio, its value
    curve. Returns (status, the bar the status was set or -1)."""
    n_bars = targets.shape[0]
    stats = np.empty((n_bars, N_STATS), dtype=np.float64)  # each bar zeroes its row
    records = np.empty(record_slots_nb(market, target_rows), dtype=TRADE_DTYPE)
    used, status, fail_bar = simulate_one_nb(
        market, p, targets, target_rows, size_type, init_cash, max_leverage, k, stats, records
    )
    portfolio_metrics_nb(stats, init_cash, used, ppy, rf_bar, metrics_out[k])
    if values_out.shape[0] > k:
        for t in range(n_bars):
            values_out[k, t] = stats[t, STAT_VALUE]
    return status, fail_bar


@njit(cache=True, parallel=True)
def sweep_nb(
    market,
    targets,
    target_rows,
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

    ``target_rows[K, T]`` counts the non-NaN targets of each row. Memory grows with K x
    metrics, not K x bars: each portfolio runs into scratch arrays of its own. Writes
    ``metrics_out[K, N_METRICS]``, ``status_out[K]``, ``fail_bar_out[K]``, and
    ``values_out[K, T]`` unless it is ``[0, 0]``. Returns None.
    """
    rf_bar = risk_free_per_bar_nb(market[9], ppy)
    rows = market[7].shape[0]
    for k in prange(targets.shape[0]):
        p = np.int64(k) if rows > 1 else np.int64(0)
        status, fail_bar = measure_one_nb(
            market, p, targets[k], target_rows[k], size_type, init_cash[k], max_leverage[k], k,
            ppy, rf_bar, metrics_out, values_out,
        )  # fmt: skip
        status_out[k] = status
        fail_bar_out[k] = fail_bar


@njit(cache=True, parallel=True)
def sweep_rule_nb(
    market,
    features,
    rule,
    a,
    b,
    up,
    down,
    plan,
    size_type,
    init_cash,
    max_leverage,
    ppy,
    metrics_out,
    values_out,
    status_out,
    fail_bar_out,
    over_out,
    gross_out,
):
    """`sweep_nb` for K portfolios of a signal strategy: portfolio k's decisions are
    `rule` on ``features[F, T0, N]`` with ``a[k]``, ``b[k]``, ``up[k]``, ``down[k]``
    (`decision_nb`), put on the schedule and lagged by `schedule_nb` with ``plan`` (its
    arguments after the decisions), into a scratch array of its own: no [K, T, N]
    array exists. A portfolio whose targets ask for more gross exposure than the plan's
    limit is not simulated: ``over_out[k]`` is that row (else -1), ``gross_out[k]`` its
    gross, and its metrics are NaN. Other outputs as `sweep_nb`.
    """
    keep, on_change, lag, decide, first, closing, limit = plan
    n_bars = market[0].shape[0]
    n_assets = market[0].shape[1]
    rf_bar = risk_free_per_bar_nb(market[9], ppy)
    rows = market[7].shape[0]
    unused = np.empty((1, 1), dtype=np.float64)
    for k in prange(a.shape[0]):
        targets = np.empty((n_bars, n_assets), dtype=np.float64)
        target_rows = np.empty(n_bars, dtype=np.int64)
        scratch = np.empty((2, n_assets), dtype=np.float64)
        over, gross = schedule_nb(
            rule, unused, features, a[k], b[k], up[k], down[k], keep, on_change, lag, decide,
            first, closing, limit, scratch, targets, target_rows,
        )  # fmt: skip
        over_out[k] = over
        gross_out[k] = gross
        if over >= 0:
            for m in range(metrics_out.shape[1]):
                metrics_out[k, m] = np.nan
            status_out[k] = STATUS_OK
            fail_bar_out[k] = -1
            continue
        p = np.int64(k) if rows > 1 else np.int64(0)
        status, fail_bar = measure_one_nb(
            market, p, targets, target_rows, size_type, init_cash[k], max_leverage[k], k, ppy,
            rf_bar, metrics_out, values_out,
        )  # fmt: skip
        status_out[k] = status
        fail_bar_out[k] = fail_bar
