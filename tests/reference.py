"""A slow, plain-Python oracle of the simulation semantics, for one portfolio.

Written from the rules in DESIGN.md and the kernel's module docstring, in a different
shape from the kernel (orders as small dicts, one helper per rule), so that the two can
be held to the same numbers. No numba, no engine imports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

LOT_TOL = 1e-9
NOISE = 1e-12


@dataclass
class ReferenceResult:
    value: np.ndarray
    cash: np.ndarray
    qty: np.ndarray
    fills: list[dict] = field(default_factory=list)
    fail_bar: int = -1  # the bar the value fell to zero or below
    dividends: np.ndarray | None = None  # received by longs, before withholding, per bar
    dividends_paid: np.ndarray | None = None  # paid by shorts, per bar
    withholding: np.ndarray | None = None  # withheld from longs' dividends, per bar


def to_lot(q: float, lot: float) -> float:
    if lot <= 0:
        return q
    whole = math.floor(abs(q) / lot + LOT_TOL) * lot
    return math.copysign(whole, q) if whole else 0.0


def fee(value: float, cost: dict, fx: float) -> float:
    """Commission plus charges on a base-currency `value`; money amounts are in the
    asset's currency, so they convert at `fx`."""
    extra = sum(min(max(r * value, lo * fx), hi * fx) for r, lo, hi in cost["charges"])
    return max(cost["fee_rate"] * value, cost["fee_min"] * fx) + cost["fee_fixed"] * fx + extra


def scaled(size: float, k: float, order: dict, value_before: float) -> float:
    """Scale an order by k, round to lots, and drop what is left as float noise."""
    new = to_lot(size * k, order["lot"])
    return 0.0 if abs(new) * order["px"] * order["fx"] <= NOISE * value_before else new


def simulate_reference(
    close,
    exec_price,
    fx,
    asset_ccy,
    targets,
    size_type,
    lot_size,
    cost_of,
    borrow_rate,
    cash_credit,
    cash_debit,
    year_frac,
    init_cash,
    max_leverage,
    dividends=None,
    withholding=None,
) -> ReferenceResult:
    """Simulate one portfolio.

    ``cost_of(t, j)`` returns the cost settings of asset j in force at bar t, a dict with
    ``fee_rate, fee_min, fee_fixed, buy_tax, sell_tax, slippage, fx_cost`` and
    ``charges``, a list of (rate, minimum, maximum); money amounts in the asset's
    currency. ``borrow_rate[t][j]``, ``cash_credit[t]``, ``cash_debit[t]`` are annual
    rates for (t-1, t]. ``size_type``: 0 weight, 1 quantity, 2 value. ``max_leverage``:
    ``math.inf`` for none. ``dividends[t][j]`` (optional) is the cash dividend per share
    of ex-date t in the asset's currency, ``withholding[j]`` the rate withheld from a
    long's dividend.

    Dividends: whoever holds the asset when bar t begins (the quantity carried from t-1)
    is entitled; a long is credited the dividend less withholding, a short is debited
    the whole dividend, both at bar t's fx (the last known rate when bar t has none),
    before bar t's orders.

    Bankruptcy: when the value at a bar's close is zero or below, every position is
    bought or sold back at that close (the last known one), paying its costs, and from
    the next bar on nothing happens: no orders, no interest, no borrow.
    """
    n_bars, n_assets = close.shape
    cash = float(init_cash)
    qty = [0.0] * n_assets
    last_px: list[float | None] = [None] * n_assets
    last_fx: dict[int, float] = {}
    pending: dict[int, float] = {}
    out = ReferenceResult(np.zeros(n_bars), np.zeros(n_bars), np.zeros((n_bars, n_assets)))
    out.dividends, out.dividends_paid, out.withholding = (np.zeros(n_bars) for _ in range(3))

    def rate_of(j: int) -> float:
        return last_fx.get(int(asset_ccy[j]), math.nan)

    for t in range(n_bars):
        if out.fail_bar >= 0:  # bankrupt: the books are closed
            out.value[t], out.cash[t] = out.value[t - 1], out.cash[t - 1]
            continue
        # accrue over (t-1, t] on what was held, at the previous bar's prices
        if t > 0 and year_frac[t] > 0:
            borrow = sum(
                -qty[j] * last_px[j] * rate_of(j) * borrow_rate[t][j] * year_frac[t]
                for j in range(n_assets)
                if qty[j] < 0
            )
            rate = cash_credit[t] if cash >= 0 else cash_debit[t]
            cash += cash * rate * year_frac[t] - borrow
        if dividends is not None:
            for j in range(n_assets):
                per_share = dividends[t][j]
                if not qty[j] or math.isnan(per_share) or per_share == 0:
                    continue
                today = fx[t][asset_ccy[j]]
                amount = qty[j] * per_share * (rate_of(j) if math.isnan(today) else today)
                if qty[j] > 0:
                    kept_back = amount * withholding[j]
                    out.dividends[t] += amount
                    out.withholding[t] += kept_back
                    cash += amount - kept_back
                else:
                    out.dividends_paid[t] -= amount
                    cash += amount

        for c in range(fx.shape[1]):
            if not math.isnan(fx[t][c]):
                last_fx[c] = float(fx[t][c])
        for j in range(n_assets):
            if not math.isnan(close[t][j]):
                last_px[j] = float(close[t][j])
        for j in range(n_assets):
            if not math.isnan(targets[t][j]):
                pending[j] = float(targets[t][j])

        def quote(j: int, t: int = t) -> float | None:
            p = exec_price[t][j]
            return float(p) if (not math.isnan(p) and p > 0) else last_px[j]

        value_before = cash + sum(qty[j] * quote(j) * rate_of(j) for j in range(n_assets) if qty[j])

        orders = []
        if pending and value_before > 0:
            for j in sorted(pending):
                p, r = exec_price[t][j], rate_of(j)
                if math.isnan(p) or p <= 0 or math.isnan(r) or r <= 0:
                    continue
                goal = pending.pop(j)
                if size_type == 0:
                    goal = goal * value_before / (p * r)
                elif size_type == 2:
                    goal = goal / (p * r)
                size = to_lot(goal, lot_size[j]) - qty[j]
                if abs(size) * p * r <= NOISE * value_before:
                    continue
                toward_zero = 0.0
                if qty[j] and (size > 0) != (qty[j] > 0):
                    toward_zero = math.copysign(min(abs(size), abs(qty[j])), size)
                orders.append(
                    {
                        "j": j,
                        "size": size,
                        "reduce": toward_zero,
                        "px": float(p),
                        "fx": r,
                        "lot": lot_size[j],
                        "cost": cost_of(t, j),
                    }
                )

        def fill(o: dict, t: int = t) -> None:
            nonlocal cash
            j, size, c = o["j"], o["size"], o["cost"]
            s = c["slippage"]
            price = o["px"] * (1 + s) if size > 0 else o["px"] * (1 - s)
            traded = abs(size) * price * o["fx"]
            paid = fee(traded, c, o["fx"])
            tax = (c["buy_tax"] if size > 0 else c["sell_tax"]) * traded
            conv = c["fx_cost"] * traded
            cash -= size * price * o["fx"] + paid + tax + conv
            qty[j] += size
            if last_px[j] is None:
                last_px[j] = o["px"]
            out.fills.append(
                {"bar": t, "asset": j, "qty": size, "price": price, "fees": paid, "tax": tax}
            )

        shortfall = 0.0
        if orders:
            if math.isfinite(max_leverage):
                full_costs = 0.0
                for o in orders:
                    c, v = o["cost"], abs(o["size"]) * o["px"] * o["fx"]
                    v_fill = v * (1 + c["slippage"])
                    tax = c["buy_tax"] if o["size"] > 0 else c["sell_tax"]
                    full_costs += fee(v_fill, c, o["fx"])
                    full_costs += (tax + c["fx_cost"]) * v_fill + v * c["slippage"]
                by_asset = {o["j"]: o for o in orders}
                kept = added = 0.0
                for j in range(n_assets):
                    o = by_asset.get(j)
                    if not qty[j] and o is None:
                        continue
                    px = o["px"] if o else quote(j)
                    red = o["reduce"] if o else 0.0
                    kept += abs(qty[j] + red) * px * rate_of(j)
                    if o:
                        added += abs(o["size"] - red) * px * rate_of(j)
                room = max_leverage * (value_before - full_costs) - kept
                if added > 0 and added > room:
                    k = max(room, 0.0) / added
                    for o in orders:
                        grow = o["size"] - o["reduce"]
                        if grow:
                            new = scaled(grow, k, o, value_before)
                            shortfall += abs(grow - new) * o["px"] * o["fx"]
                            o["size"] = o["reduce"] + new

            orders.sort(key=lambda o: o["size"] * o["px"] * o["fx"])

            for o in orders:
                if o["size"] < 0:
                    fill(o)
            buys = [o for o in orders if o["size"] > 0]
            if buys and not math.isfinite(max_leverage):
                need = 0.0
                variable = fixed = 0.0
                for o in buys:
                    c = o["cost"]
                    v = o["size"] * o["px"] * (1 + c["slippage"]) * o["fx"]
                    need += v + fee(v, c, o["fx"]) + (c["buy_tax"] + c["fx_cost"]) * v
                    extra_rate = sum(r for r, _, _ in c["charges"])
                    variable += v * (1 + c["fee_rate"] + c["buy_tax"] + c["fx_cost"] + extra_rate)
                    money = c["fee_fixed"] + c["fee_min"] + sum(lo for _, lo, _ in c["charges"])
                    fixed += money * o["fx"]
                if need > cash and variable > 0:
                    k = max(cash - fixed, 0.0) / variable
                    for o in buys:
                        new = scaled(o["size"], k, o, value_before)
                        shortfall += (o["size"] - new) * o["px"] * o["fx"]
                        o["size"] = new
            for o in buys:
                if o["size"] > 0:
                    fill(o)

        held = sum(qty[j] * last_px[j] * rate_of(j) for j in range(n_assets) if qty[j])
        if cash + held <= 0:  # bankrupt: close every position at this close, with costs
            out.fail_bar = t
            for j in range(n_assets):
                if qty[j]:
                    fill(
                        {
                            "j": j,
                            "size": -qty[j],
                            "px": last_px[j],
                            "fx": rate_of(j),
                            "cost": cost_of(t, j),
                        }
                    )
            held = 0.0
        out.value[t] = cash + held
        out.cash[t] = cash
        out.qty[t] = qty
    return out
