"""Portfolio simulation kernel. NumPy in, NumPy out; no pandas, no I/O, no project imports.

Shapes: T = bars, N = assets, C = currencies, K = portfolios, P = 1 or K: the rows of
every cost array (the same P for all of them; the wrapper broadcasts).
Float arrays are float64; integer arrays int64.

Semantics (DESIGN.md, "Simulation semantics"), per portfolio and bar ``t``:

1. Accrual over the interval (t-1, t]: cash earns ``cash_rate[t] * year_frac[t]`` (a
   negative balance pays it); every short position pays
   ``borrow_rate[t, j] * year_frac[t]`` on its market value at the previous bar.
2. Last known close and fx are updated; a NaN keeps the previous value, so a price gap
   is valued at the last known price.
3. A non-NaN target at row t replaces any pending target of that asset. A pending
   target executes at the asset's next tradable bar: finite positive execution price and
   a known fx rate. Pending *weights* are resolved with the value at the bar where they
   execute, not at the bar they were given.
4. Value before trading marks each asset at its execution price where it trades this bar
   and at its last known close otherwise. Target quantity =
   weight * value_before / (exec_price * fx), rounded toward zero to whole board lots.
   Slippage moves the fill price, not the target.
5. Each order is split into a part that reduces the existing position and a part that
   opens or increases one. With a leverage cap, the increasing parts are scaled by one
   common factor so that gross exposure stays within ``max_leverage`` times the value
   after costs. Sells execute first, then buys; without a cap, buys that cash cannot fund
   are scaled down pro rata by one common factor. Scaling never drops an order silently:
   the base-currency value not bought is recorded as shortfall.
6. Costs per fill, in base currency: fee = max(fee_rate * v, min_fee) + fixed_fee
   + sum over charges m of clip(rate_m * v, min_m, max_m) (exchange and regulatory
   charges with their own minimum and maximum, e.g. a settlement fee);
   tax = buy_tax or sell_tax times v; conversion cost = fx_cost * v, where v is the
   traded value at the fill price. Short-sale proceeds are credited to cash.
7. End-of-bar value = cash + sum(qty * last close * last fx). A value at or below zero
   marks the portfolio bankrupt: it stops trading and keeps accruing.

Numerics: quantities are rounded to lots with a 1e-9 lot tolerance, so a target of
299.9999999999 shares with lot 100 rounds to 300, not 200. Orders whose traded value is
below 1e-12 of the portfolio value are skipped (float noise, not a trade).

Reference: tests/reference.py::simulate_reference (a plain-Python loop with the same
semantics) and vectorbt ``Portfolio.from_orders(size_type="targetpercent",
group_by=True, cash_sharing=True, call_seq="auto")`` in the cases where they coincide.
"""

import numpy as np
from numba import njit, prange

SIZE_TARGET_WEIGHT = 0
SIZE_TARGET_QUANTITY = 1
SIZE_TARGET_VALUE = 2

STATUS_OK = 0
STATUS_BANKRUPT = 1

# Columns of the per-bar statistics array ``stats_out[K, T, N_STATS]``; money is in base currency.
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

_LOT_TOL = 1e-9
_NOISE = 1e-12


@njit(cache=True)
def round_to_lot_nb(q: float, lot: float) -> float:
    """Round quantity `q` toward zero to a whole multiple of `lot` (no rounding if lot <= 0)."""
    if lot <= 0.0:
        return q
    n = np.floor(abs(q) / lot + _LOT_TOL)
    return n * lot if q >= 0.0 else -n * lot


@njit(cache=True)
def fee_nb(value: float, rate: float, fixed: float, minimum: float, charges) -> float:
    """Return the fee on one fill of traded value `value` (>= 0).

    `charges` is ``(M, 3)``: rate, minimum and maximum of each extra charge.
    """
    fee = max(rate * value, minimum) + fixed
    for m in range(charges.shape[0]):
        fee += min(max(charges[m, 0] * value, charges[m, 1]), charges[m, 2])
    return fee


@njit(cache=True)
def _scaled_nb(q, scale, lot, unit_value, value_pre):
    # Scale an order and round it to lots; what is left of a near-zero scale is float
    # noise, not an order (it would still pay the fixed fee).
    scaled = round_to_lot_nb(q * scale, lot)
    if abs(scaled) * unit_value <= _NOISE * value_pre:
        return 0.0
    return scaled


@njit(cache=True)
def _execute_nb(
    k,
    t,
    j,
    d,
    px,
    fxj,
    slip,
    fee_rate,
    fixed,
    minimum,
    charges,
    tax_rate,
    fxc_rate,
    qty,
    stats_t,
    records,
    r,
):
    # Fill one order of signed size d; update qty and stats_t; write record r; return cash delta.
    fill = px * (1.0 + slip) if d > 0.0 else px * (1.0 - slip)
    traded = abs(d) * fill * fxj
    fee = fee_nb(traded, fee_rate, fixed, minimum, charges)
    tax = tax_rate * traded
    fxc = fxc_rate * traded
    slip_cost = abs(d) * px * slip * fxj
    qty[j] += d
    stats_t[STAT_TRADED] += traded
    stats_t[STAT_FEES] += fee
    stats_t[STAT_TAXES] += tax
    stats_t[STAT_FX_COSTS] += fxc
    stats_t[STAT_SLIPPAGE] += slip_cost
    rec = records[r]
    rec["portfolio"] = k
    rec["bar"] = t
    rec["asset"] = j
    rec["qty"] = d
    rec["price"] = fill
    rec["fx"] = fxj
    rec["value"] = d * fill * fxj
    rec["fees"] = fee
    rec["tax"] = tax
    rec["fx_cost"] = fxc
    rec["slippage"] = slip_cost
    return -(d * fill * fxj) - fee - tax - fxc


@njit(cache=True)
def simulate_one_nb(
    k,  # int: portfolio index (selects targets, cost rows, outputs)
    close,  # (T, N) valuation price, NaN = no price
    exec_price,  # (T, N) execution price, NaN = cannot trade
    fx,  # (T, C) base currency per unit of currency c
    asset_ccy,  # (N,) int64 currency column of each asset
    targets,  # (K, T, N) target per size_type, NaN = no instruction
    size_type,  # int SIZE_*
    lot_size,  # (N,) board lot, <= 0 = fractional
    fees,  # (P, N) proportional fee rate
    fixed_fees,  # (P, N) fixed fee per fill, base currency
    min_fees,  # (P, N) minimum proportional fee per fill, base currency
    charges,  # (P, N, M, 3) extra charges per fill: rate, minimum, maximum (base currency)
    buy_tax,  # (P, N) rate on buys
    sell_tax,  # (P, N) rate on sells
    slippage,  # (P, N) fractional adverse price move
    fx_cost,  # (P, N) conversion cost rate (0 for base-currency assets)
    borrow_rate,  # (B, N) annual borrow rate on short value; B = T, or 1 for constant rates
    cash_rate,  # (T,) annual interest rate on cash
    year_frac,  # (T,) years elapsed since the previous bar (0 at bar 0)
    init_cash,  # (K,)
    max_leverage,  # (K,) gross exposure / value cap; inf = no cap, buys limited by cash
    qty_out,  # (K, T, N) written: quantity held at the end of each bar
    stats_out,  # (K, T, N_STATS) written
    records,  # (R,) TRADE_DTYPE, written from rec_start[k]
    rec_start,  # (K + 1,) record offsets per portfolio
    rec_count_out,  # (K,) written: records used
    status_out,  # (K,) written: STATUS_*
    fail_bar_out,  # (K,) written: first bankrupt bar, -1 if none
):
    """Simulate portfolio `k` over all bars; write its slices of the output arrays."""
    n_bars, n_assets = close.shape
    n_ccy = fx.shape[1]
    p = np.int64(0)
    if fees.shape[0] > 1:
        p = np.int64(k)
    lev = max_leverage[k]
    capped = np.isfinite(lev)

    cash = init_cash[k]
    qty = np.zeros(n_assets, dtype=np.float64)
    last_px = np.full(n_assets, np.nan, dtype=np.float64)
    last_fx = np.full(n_ccy, np.nan, dtype=np.float64)
    pending = np.full(n_assets, np.nan, dtype=np.float64)
    mark = np.zeros(n_assets, dtype=np.float64)
    order = np.zeros(n_assets, dtype=np.float64)
    reduce = np.zeros(n_assets, dtype=np.float64)
    signed_value = np.zeros(n_assets, dtype=np.float64)
    r = rec_start[k]
    status_out[k] = STATUS_OK
    fail_bar_out[k] = -1
    bankrupt = False

    for t in range(n_bars):
        st = stats_out[k, t]
        st[:] = 0.0

        # 1. accrual over (t-1, t], on positions and prices as they stood at t-1
        dt = year_frac[t]
        if t > 0 and dt > 0.0:
            interest = cash * cash_rate[t] * dt
            borrow = 0.0
            bt = t if borrow_rate.shape[0] > 1 else 0
            for j in range(n_assets):
                if qty[j] < 0.0:
                    borrow -= qty[j] * last_px[j] * last_fx[asset_ccy[j]] * borrow_rate[bt, j] * dt
            cash += interest - borrow
            st[STAT_INTEREST] = interest
            st[STAT_BORROW] = borrow

        # 2. last known prices and fx
        for c in range(n_ccy):
            if np.isfinite(fx[t, c]):
                last_fx[c] = fx[t, c]
        for j in range(n_assets):
            if np.isfinite(close[t, j]):
                last_px[j] = close[t, j]

        # 3. new targets replace pending ones
        n_pending = 0
        for j in range(n_assets):
            if not np.isnan(targets[k, t, j]):
                pending[j] = targets[k, t, j]
            if not np.isnan(pending[j]):
                n_pending += 1

        # 4. value before trading, marked at execution prices where the asset trades now
        value_pre = cash
        for j in range(n_assets):
            px = exec_price[t, j]
            mark[j] = px if np.isfinite(px) and px > 0.0 else last_px[j]
            if qty[j] != 0.0:
                value_pre += qty[j] * mark[j] * last_fx[asset_ccy[j]]
        st[STAT_VALUE_PRE] = value_pre

        if n_pending > 0 and not bankrupt and value_pre > 0.0:
            # 5. orders for the assets that can trade now
            n_orders = 0
            cost_full = 0.0
            for j in range(n_assets):
                order[j] = 0.0
                reduce[j] = 0.0
                if np.isnan(pending[j]):
                    continue
                px = exec_price[t, j]
                fxj = last_fx[asset_ccy[j]]
                if not (np.isfinite(px) and px > 0.0 and np.isfinite(fxj) and fxj > 0.0):
                    continue  # wait for the next tradable bar
                if size_type == SIZE_TARGET_WEIGHT:
                    target = pending[j] * value_pre / (px * fxj)
                elif size_type == SIZE_TARGET_VALUE:
                    target = pending[j] / (px * fxj)
                else:
                    target = pending[j]
                pending[j] = np.nan
                d = round_to_lot_nb(target, lot_size[j]) - qty[j]
                if abs(d) * px * fxj <= _NOISE * value_pre:
                    continue
                order[j] = d
                # the part of d that moves the position toward zero, never past it
                if qty[j] != 0.0 and (d > 0.0) != (qty[j] > 0.0):
                    reduce[j] = d if abs(d) <= abs(qty[j]) else -qty[j]
                slip = slippage[p, j]
                fill_value = abs(d) * px * (1.0 + slip) * fxj
                tax_rate = buy_tax[p, j] if d > 0.0 else sell_tax[p, j]
                cost_full += (
                    fee_nb(fill_value, fees[p, j], fixed_fees[p, j], min_fees[p, j], charges[p, j])
                    + (tax_rate + fx_cost[p, j]) * fill_value
                    + abs(d) * px * slip * fxj
                )
                n_orders += 1

            if n_orders > 0:
                shortfall = 0.0
                # 6. leverage cap: scale the position-increasing parts by one common factor
                if capped:
                    gross_kept = 0.0
                    gross_added = 0.0
                    for j in range(n_assets):
                        fxj = last_fx[asset_ccy[j]]
                        if qty[j] != 0.0 or order[j] != 0.0:
                            gross_kept += abs(qty[j] + reduce[j]) * mark[j] * fxj
                            gross_added += abs(order[j] - reduce[j]) * mark[j] * fxj
                    room = lev * (value_pre - cost_full) - gross_kept
                    if gross_added > 0.0 and gross_added > room:
                        scale = max(room, 0.0) / gross_added
                        for j in range(n_assets):
                            inc = order[j] - reduce[j]
                            if inc != 0.0:
                                new_inc = _scaled_nb(
                                    inc,
                                    scale,
                                    lot_size[j],
                                    mark[j] * last_fx[asset_ccy[j]],
                                    value_pre,
                                )
                                shortfall += abs(inc - new_inc) * mark[j] * last_fx[asset_ccy[j]]
                                order[j] = reduce[j] + new_inc

                # 7. sells first (most negative value first), then buys
                for j in range(n_assets):
                    signed_value[j] = 0.0
                    if order[j] != 0.0:
                        signed_value[j] = order[j] * mark[j] * last_fx[asset_ccy[j]]
                seq = np.argsort(signed_value, kind="mergesort")
                for i in range(n_assets):
                    j = seq[i]
                    d = order[j]
                    if d >= 0.0:
                        continue
                    cash += _execute_nb(
                        k,
                        t,
                        j,
                        d,
                        mark[j],
                        last_fx[asset_ccy[j]],
                        slippage[p, j],
                        fees[p, j],
                        fixed_fees[p, j],
                        min_fees[p, j],
                        charges[p, j],
                        sell_tax[p, j],
                        fx_cost[p, j],
                        qty,
                        st,
                        records,
                        r,
                    )
                    r += 1

                if not capped:
                    # buys limited by cash: need(s) <= s * var_need + fixed_need
                    var_need = 0.0
                    fixed_need = 0.0
                    exact_need = 0.0
                    for j in range(n_assets):
                        d = order[j]
                        if d <= 0.0:
                            continue
                        fxj = last_fx[asset_ccy[j]]
                        v = d * mark[j] * (1.0 + slippage[p, j]) * fxj
                        rate = fees[p, j] + buy_tax[p, j] + fx_cost[p, j]
                        fixed_need += fixed_fees[p, j] + min_fees[p, j]
                        for m in range(charges.shape[2]):  # clip(r v, lo, hi) <= r v + lo
                            rate += charges[p, j, m, 0]
                            fixed_need += charges[p, j, m, 1]
                        var_need += v * (1.0 + rate)
                        exact_need += (
                            v
                            + fee_nb(v, fees[p, j], fixed_fees[p, j], min_fees[p, j], charges[p, j])
                            + (buy_tax[p, j] + fx_cost[p, j]) * v
                        )
                    if exact_need > cash and var_need > 0.0:
                        scale = max(cash - fixed_need, 0.0) / var_need
                        for j in range(n_assets):
                            d = order[j]
                            if d > 0.0:
                                new_d = _scaled_nb(
                                    d,
                                    scale,
                                    lot_size[j],
                                    mark[j] * last_fx[asset_ccy[j]],
                                    value_pre,
                                )
                                shortfall += (d - new_d) * mark[j] * last_fx[asset_ccy[j]]
                                order[j] = new_d

                for i in range(n_assets):
                    j = seq[i]
                    d = order[j]
                    if d <= 0.0:
                        continue
                    cash += _execute_nb(
                        k,
                        t,
                        j,
                        d,
                        mark[j],
                        last_fx[asset_ccy[j]],
                        slippage[p, j],
                        fees[p, j],
                        fixed_fees[p, j],
                        min_fees[p, j],
                        charges[p, j],
                        buy_tax[p, j],
                        fx_cost[p, j],
                        qty,
                        st,
                        records,
                        r,
                    )
                    r += 1
                st[STAT_SHORTFALL] = shortfall

                for j in range(n_assets):
                    if order[j] != 0.0 and np.isnan(last_px[j]):
                        last_px[j] = mark[j]  # traded before its first close: value at the quote

        # 8. end-of-bar valuation at the last known close
        gross = 0.0
        net = 0.0
        for j in range(n_assets):
            if qty[j] != 0.0:
                v = qty[j] * last_px[j] * last_fx[asset_ccy[j]]
                gross += abs(v)
                net += v
        value = cash + net
        st[STAT_VALUE] = value
        st[STAT_CASH] = cash
        st[STAT_GROSS] = gross
        st[STAT_NET] = net
        qty_out[k, t, :] = qty
        if value <= 0.0 and not bankrupt:
            bankrupt = True
            status_out[k] = STATUS_BANKRUPT
            fail_bar_out[k] = t

    rec_count_out[k] = r - rec_start[k]


@njit(cache=True, parallel=True)
def simulate_nb(
    close,
    exec_price,
    fx,
    asset_ccy,
    targets,
    size_type,
    lot_size,
    fees,
    fixed_fees,
    min_fees,
    charges,
    buy_tax,
    sell_tax,
    slippage,
    fx_cost,
    borrow_rate,
    cash_rate,
    year_frac,
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
    """Simulate K portfolios over one market, in parallel over portfolios.

    See the module docstring for shapes and semantics; every ``*_out`` array and
    ``records`` are written in place. Returns None.
    """
    for k in prange(targets.shape[0]):
        simulate_one_nb(
            k,
            close,
            exec_price,
            fx,
            asset_ccy,
            targets,
            size_type,
            lot_size,
            fees,
            fixed_fees,
            min_fees,
            charges,
            buy_tax,
            sell_tax,
            slippage,
            fx_cost,
            borrow_rate,
            cash_rate,
            year_frac,
            init_cash,
            max_leverage,
            qty_out,
            stats_out,
            records,
            rec_start,
            rec_count_out,
            status_out,
            fail_bar_out,
        )
