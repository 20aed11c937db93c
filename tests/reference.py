"""A slow, plain-Python oracle of the simulation semantics, for one portfolio.

Written from the rules in DESIGN.md and the kernel's module docstring, in a different
shape from the kernel (orders as small dicts, one helper per rule), so that the two can
be held to the same numbers. No numba, no engine imports. The rules of issue 22 (impact,
participation, limits, the drawdown rule, stops) live in `tests/reference_risk.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tests.reference_risk import (
    DrawdownRule,
    entry_after_fill,
    impact_coefficient,
    limit_weights,
    stop_hit,
    trailing_liquidity_reference,
)

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
    # issue 22, per bar: money in base currency, cuts in weights, stops as counts
    impact: np.ndarray | None = None
    unfilled: np.ndarray | None = None
    cut_name: np.ndarray | None = None
    cut_group: np.ndarray | None = None
    cut_net: np.ndarray | None = None
    cut_drawdown: np.ndarray | None = None
    drawdown_cutting: np.ndarray | None = None
    stop_losses: np.ndarray | None = None
    take_profits: np.ndarray | None = None
    limited: list = field(default_factory=list)  # (bar, limited weights) at each application


RISK_STATS = (
    "impact",
    "unfilled",
    "cut_name",
    "cut_group",
    "cut_net",
    "cut_drawdown",
    "drawdown_cutting",
    "stop_losses",
    "take_profits",
)


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
    *,
    volume=None,
    participation=None,
    execution="close",
    impact=None,
    impact_window=20,
    volatility=None,
    adv=None,
    max_weight=None,
    net_exposure=None,
    groups=(),
    drawdown=None,
    stop_loss=None,
    take_profit=None,
) -> ReferenceResult:
    """Simulate one portfolio.

    ``cost_of(t, j)`` returns the cost settings of asset j in force at bar t, a dict with
    ``fee_rate, fee_min, fee_fixed, buy_tax, sell_tax, slippage, fx_cost`` and
    ``charges``, a list of (rate, minimum, maximum); money amounts in the asset's
    currency; an optional ``half_spread`` (0 when absent). ``borrow_rate[t][j]``,
    ``cash_credit[t]``, ``cash_debit[t]`` are annual
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

    Issue 22 (every argument below defaults to off):

    - Impact: ``impact[j]`` is k; with sigma and ADV (``volatility``, ``adv``, else from
      ``close`` and ``volume`` over ``impact_window`` bars) a fill of d units moves its
      price by ``slippage + half_spread + c * sqrt(|d|)``, c = k sigma / sqrt(ADV).
      Slippage is reported as before; half-spread and the sqrt part as ``impact``.
      The leverage cap and the cash bound use the fraction of the order as planned.
    - Participation: an order larger than ``participation * volume`` (the bar's volume
      for ``execution="close"``, the last one before the bar for ``"open"``; NaN or 0:
      no cap) is
      cut to whole lots of the cap; its target stays pending and the value held back is
      ``unfilled``.
    - Limits (weights only): ``max_weight[j]``, ``net_exposure`` (lo, hi), ``groups`` (a
      list of `Group`), ``drawdown`` (trigger, fraction, recovery) apply to the latest
      weights asked for (`limit_weights`) at each bar that brings a row with any
      instruction, or after the drawdown rule changed state; the result is the target of
      the row's assets and of any other asset whose limited weight changed.
    - Stops: ``stop_loss[j]``, ``take_profit[j]`` (fractions, inf for none) against the
      average entry price, checked at each bar's close; a hit sets the target to 0 and
      ignores the asset's rows until the exit has filled. Reading taken: the stop also
      replaces the strategy's standing weight for the asset by 0, so after the exit the
      asset stays flat until a new row names it (a later cut elsewhere never brings
      back the weight the stop overrode).
    """
    n_bars, n_assets = close.shape
    cash = float(init_cash)
    qty = [0.0] * n_assets
    last_px: list[float | None] = [None] * n_assets
    last_fx: dict[int, float] = {}
    pending: dict[int, float] = {}
    out = ReferenceResult(np.zeros(n_bars), np.zeros(n_bars), np.zeros((n_bars, n_assets)))
    out.dividends, out.dividends_paid, out.withholding = (np.zeros(n_bars) for _ in range(3))
    for name in RISK_STATS:
        setattr(out, name, np.zeros(n_bars))

    impact_c = np.zeros((n_bars, n_assets))
    if impact is not None and any(k != 0 for k in impact):
        if volatility is None or adv is None:
            volatility, adv = trailing_liquidity_reference(close, volume, impact_window)
        for t in range(n_bars):
            for j in range(n_assets):
                impact_c[t][j] = impact_coefficient(impact[j], volatility[t][j], adv[t][j])
    caps = np.full((n_bars, n_assets), math.inf)
    if participation is not None and volume is not None:
        for t in range(n_bars):
            for j in range(n_assets):
                if execution == "open":  # the last volume before bar t (a gap skipped)
                    before = [volume[s][j] for s in range(t) if not math.isnan(volume[s][j])]
                    seen = before[-1] if before else math.nan
                else:
                    seen = volume[t][j]
                if not math.isnan(seen) and seen > 0:
                    caps[t][j] = participation * seen
    max_weight = [math.inf] * n_assets if max_weight is None else list(max_weight)
    limits_on = (
        any(math.isfinite(m) for m in max_weight)
        or bool(groups)
        or net_exposure is not None
        or drawdown is not None
    )
    rule = DrawdownRule(*drawdown, start=float(init_cash)) if drawdown is not None else None
    stop_loss = [math.inf] * n_assets if stop_loss is None else list(stop_loss)
    take_profit = [math.inf] * n_assets if take_profit is None else list(take_profit)
    want = [math.nan] * n_assets
    limited_before = [math.nan] * n_assets
    stopped = [False] * n_assets
    entry = [math.nan] * n_assets
    state_changed = False

    def rate_of(j: int) -> float:
        return last_fx.get(int(asset_ccy[j]), math.nan)

    def moved(o: dict, size: float) -> float:
        """Fraction the fill price moves for an order of `size` units."""
        c = o["cost"]
        return c["slippage"] + c.get("half_spread", 0.0) + o["c"] * math.sqrt(abs(size))

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

        named = [j for j in range(n_assets) if not math.isnan(targets[t][j])]
        for j in named:
            if not stopped[j]:  # a stopped asset's rows wait for its exit
                want[j] = float(targets[t][j])
        if not limits_on:
            for j in named:
                if not stopped[j]:
                    pending[j] = want[j]
        elif named or state_changed:
            cutting = rule is not None and rule.cutting
            fraction = rule.fraction if rule is not None else 1.0
            limited, cuts = limit_weights(
                want, stopped, max_weight, list(groups), net_exposure, cutting, fraction
            )
            out.cut_name[t] += cuts.name
            out.cut_group[t] += cuts.group
            out.cut_net[t] += cuts.net
            out.cut_drawdown[t] += cuts.drawdown
            out.limited.append((t, list(limited)))
            for j in range(n_assets):
                if stopped[j] or math.isnan(limited[j]):
                    continue
                if j in named or limited[j] != limited_before[j]:
                    pending[j] = limited[j]
            limited_before = limited
        state_changed = False

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
                asked = goal = pending.pop(j)
                if size_type == 0:
                    goal = goal * value_before / (p * r)
                elif size_type == 2:
                    goal = goal / (p * r)
                size = to_lot(goal, lot_size[j]) - qty[j]
                if abs(size) * p * r <= NOISE * value_before:
                    continue
                if abs(size) > caps[t][j]:  # participation: the rest waits, still pending
                    pending[j] = asked
                    cut = to_lot(math.copysign(caps[t][j], size), lot_size[j])
                    out.unfilled[t] += (abs(size) - abs(cut)) * p * r
                    size = cut
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
                        "c": impact_c[t][j],
                    }
                )

        def fill(o: dict, t: int = t) -> None:
            nonlocal cash
            j, size, c = o["j"], o["size"], o["cost"]
            s = c["slippage"]
            frac = moved(o, size)
            price = o["px"] * (1 + frac) if size > 0 else o["px"] * (1 - frac)
            traded = abs(size) * price * o["fx"]
            paid = fee(traded, c, o["fx"])
            tax = (c["buy_tax"] if size > 0 else c["sell_tax"]) * traded
            conv = c["fx_cost"] * traded
            spread_and_impact = abs(size) * o["px"] * (frac - s) * o["fx"]
            cash -= size * price * o["fx"] + paid + tax + conv
            entry[j] = entry_after_fill(entry[j], qty[j], size, price)
            qty[j] += size
            if last_px[j] is None:
                last_px[j] = o["px"]
            out.impact[t] += spread_and_impact
            out.fills.append(
                {
                    "bar": t,
                    "asset": j,
                    "qty": size,
                    "price": price,
                    "fees": paid,
                    "tax": tax,
                    "slippage": abs(size) * o["px"] * s * o["fx"],
                    "impact": spread_and_impact,
                }
            )

        shortfall = 0.0
        if orders:
            if math.isfinite(max_leverage):
                full_costs = 0.0
                for o in orders:
                    c, v = o["cost"], abs(o["size"]) * o["px"] * o["fx"]
                    frac = moved(o, o["size"])
                    v_fill = v * (1 + frac)
                    tax = c["buy_tax"] if o["size"] > 0 else c["sell_tax"]
                    full_costs += fee(v_fill, c, o["fx"])
                    full_costs += (tax + c["fx_cost"]) * v_fill + v * frac
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
                    v = o["size"] * o["px"] * (1 + moved(o, o["size"])) * o["fx"]
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
        for j in range(n_assets):
            if stopped[j] and not qty[j]:
                stopped[j] = False  # the exit has filled: the next row is taken again

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
                            "c": impact_c[t][j],
                        }
                    )
            held = 0.0
        out.value[t] = cash + held
        out.cash[t] = cash
        out.qty[t] = qty
        if rule is not None:
            state_changed = rule.update(out.value[t])
            out.drawdown_cutting[t] = 1.0 if rule.cutting else 0.0
        for j in range(n_assets):
            if stopped[j] and qty[j] and j not in pending:
                pending[j] = 0.0  # the exit was scaled down for cash: asked again
                continue
            if not qty[j] or stopped[j] or math.isnan(close[t][j]):
                continue
            hit = stop_hit(entry[j], qty[j], close[t][j], stop_loss[j], take_profit[j])
            if hit:
                pending[j] = 0.0
                stopped[j] = True
                want[j] = 0.0
                counts = out.stop_losses if hit == "stop_loss" else out.take_profits
                counts[t] += 1
    return out
