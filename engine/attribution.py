"""P&L attribution: what each asset (and group of assets) earned, split by where it came from.

Per asset ``j`` and bar ``t``, in the base currency, with ``P`` the last known close,
``X`` the last known rate of the asset's currency and ``q`` the quantity held at the
close (so ``q[t-1]`` is what was held into bar ``t``):

- ``price``: the held quantity's move at the previous rate,
  ``q[t-1] * (P[t] - P[t-1]) * X[t-1]``, plus, for each fill of the bar, its quantity's
  move from the quote it traded at to the close, ``d * (P[t] - quote) * X[t]``. The fill
  price includes slippage and impact; the price part is measured against the quote, and
  both are costs.
- ``fx``: the currency's move on the held value, ``q[t-1] * P[t] * (X[t] - X[t-1])``.
- ``fees``, ``taxes``, ``fx_costs``, ``slippage``, ``impact``: the costs of the bar's
  fills, as the kernel charged them (``SimulationResult.records``); ``impact`` is the
  half-spread and the square-root impact, which move the fill price like slippage.
- ``borrow``: the fee the kernel charged on the short, recomputed per asset with its
  rule (``engine/kernel/sim_nb.py``, step 1): ``-q[t-1] * P[t-1] * X[t-1] * borrow[t, j]
  * year_fraction[t]`` for a short. The kernel records only the bar's total
  (``STAT_BORROW``); the per-asset parts sum to it (a test holds them to it).

- ``dividends``, ``dividends_paid``, ``withholding`` (prices that are not total-return
  adjusted, ``data.adjust: price``): on an ex-date, ``q[t-1] * D[t, j] * X[t]``
  received by a long less the withholding on it, or paid in full by a short (the
  kernel's step 1b).

Cash interest belongs to no asset: ``interest[t]`` is the kernel's ``STAT_INTEREST``.
On every bar, ``sum_j (price + fx + dividends - fees - taxes - fx_costs - slippage -
impact - borrow - dividends_paid - withholding) + interest`` is the change in portfolio value
(the first bar's from the initial cash), so the contributions over the initial cash sum
to the total return, up to float rounding.
A bankrupt run's closing fills are fills of its last bar; after it nothing moves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.inputs import KernelMarket
from engine.kernel import sim_nb as nb
from engine.results import SimulationResult

Array = npt.NDArray[np.float64]

COMPONENTS = (
    "price",
    "fx",
    "dividends",
    "fees",
    "taxes",
    "fx_costs",
    "slippage",
    "impact",
    "borrow",
    "dividends_paid",
    "withholding",
)
# subtracted from the P&L
COSTS = (
    *("fees", "taxes", "fx_costs", "slippage", "impact"),
    *("borrow", "dividends_paid", "withholding"),
)
CASH = "cash"  # the row of cash interest in the tables


def _ffill(a: Array) -> Array:
    """Carry the last finite value of each column down over NaN (NaN before the first)."""
    rows = np.where(np.isfinite(a), np.arange(a.shape[0])[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    out = a[rows, np.arange(a.shape[1])]
    seen = np.maximum.accumulate(np.isfinite(a), axis=0)
    return np.where(seen, out, np.nan)


def _previous(a: Array) -> Array:
    return np.vstack([np.full((1, a.shape[1]), np.nan), a[:-1]])


@dataclass(frozen=True, eq=False)
class Attribution:
    """Per-bar P&L parts of every asset, ``[T, N]`` each, and cash interest ``[T]``.

    Money is in the base currency; `COMPONENTS` name the parts, costs are positive
    amounts paid. ``init_cash`` turns amounts into contributions to the total return.
    """

    index: pd.Index
    columns: pd.Index
    init_cash: float
    parts: dict[str, Array]
    interest: Array

    @cached_property
    def pnl(self) -> Array:
        """``[T, N]`` net P&L of each asset: price + fx + dividends - costs."""
        out = self.parts["price"] + self.parts["fx"] + self.parts["dividends"]
        for name in COSTS:
            out = out - self.parts[name]
        return out

    def by_asset(self, groups: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
        """Totals over the run: one row per asset and a ``cash`` row for the interest.

        Columns: the components, ``interest``, ``pnl`` (in base currency) and
        ``contribution`` (``pnl`` over the initial cash; the column sums to the total
        return), with each asset's ``group`` first when `groups` are given.
        """
        data = {name: self.parts[name].sum(axis=0) for name in COMPONENTS}
        frame = pd.DataFrame(data, index=pd.Index(self.columns, name="asset"))
        frame["interest"] = 0.0
        frame.loc[CASH] = 0.0
        frame.loc[CASH, "interest"] = float(self.interest.sum())
        frame["pnl"] = np.append(self.pnl.sum(axis=0), self.interest.sum())
        frame["contribution"] = frame["pnl"] / self.init_cash
        if groups:
            member = _group_of(groups)
            frame.insert(0, "group", [member.get(str(s), "") for s in frame.index])
            frame.loc[CASH, "group"] = CASH
        return frame

    def by_group(self, groups: Mapping[str, Sequence[str]]) -> pd.DataFrame:
        """`by_asset` summed by group (in the order of `groups`), with the ``cash`` row.

        An asset in two groups counts in each; assets in none form ``other``, so the
        contributions of the rows sum to the total return when every asset is in one.
        """
        assets = self.by_asset().drop(index=CASH)
        rows = {}
        for name, members in _with_other(groups, self.columns).items():
            rows[name] = assets.loc[[s for s in assets.index if s in set(members)]].sum()
        frame = pd.DataFrame(rows).T.rename_axis("group")
        frame.loc[CASH] = self.by_asset().loc[CASH]
        return frame

    def daily(self) -> pd.DataFrame:
        """Net P&L of each asset on each bar, and the bar's cash interest, base currency."""
        frame = pd.DataFrame(self.pnl, index=self.index, columns=self.columns)
        frame[CASH] = self.interest
        return frame.rename_axis("date")

    def daily_groups(self, groups: Mapping[str, Sequence[str]]) -> pd.DataFrame:
        """`daily` summed by group (as `by_group`), with the cash interest column."""
        daily = self.daily()
        frame = pd.DataFrame(
            {
                name: daily[[s for s in self.columns if s in set(members)]].sum(axis=1)
                for name, members in _with_other(groups, self.columns).items()
            }
        )
        frame[CASH] = daily[CASH]
        return frame.rename_axis("date")


def _group_of(groups: Mapping[str, Sequence[str]]) -> dict[str, str]:
    member: dict[str, str] = {}
    for name, symbols in groups.items():
        for s in symbols:
            member[s] = f"{member[s]}, {name}" if s in member else name
    return member


def _with_other(groups: Mapping[str, Sequence[str]], columns: pd.Index) -> dict[str, list[str]]:
    out = {name: list(symbols) for name, symbols in groups.items()}
    grouped = {s for symbols in groups.values() for s in symbols}
    other = [str(s) for s in columns if str(s) not in grouped]
    if other:
        out["other"] = other
    return out


def last_prices(sim: SimulationResult, exec_price: Array) -> Array:
    """``[T, N]`` the close each asset is valued at after each bar, as the kernel keeps it.

    The last known close; an asset that trades before its first close is valued at the
    quote it traded at (the kernel's rule) until it has one.
    """
    close = np.array(sim.close, dtype=np.float64)
    known = _ffill(close)
    rec = sim.records
    first_fills = np.isnan(known[rec["bar"], rec["asset"]])
    bars, assets = rec["bar"][first_fills], rec["asset"][first_fills]
    close[bars, assets] = exec_price[bars, assets]
    return _ffill(close)


def borrow_by_asset(sim: SimulationResult, market: KernelMarket) -> Array:
    """``[T, N]`` borrow fee each short paid over (t-1, t], the kernel's rule per asset."""
    qty = sim.quantities
    px = last_prices(sim, market.exec_price)
    rate = _ffill(np.array(sim.fx, dtype=np.float64))[:, sim.asset_ccy]
    held = _previous(qty)
    held[0] = 0.0
    short_value = np.where(held < 0.0, -held * _previous(px) * _previous(rate), 0.0)
    years = market.rates[:, nb.RATE_YEAR_FRAC].copy()
    years[0] = 0.0
    years[years <= 0.0] = 0.0
    borrow = np.broadcast_to(market.borrow, qty.shape)
    return np.where(short_value > 0.0, short_value * borrow * years[:, None], 0.0)


def dividends_by_asset(held: Array, rate: Array, market: KernelMarket) -> dict[str, Array]:
    """``[T, N]`` dividends received by longs (before tax), paid by shorts, and withheld,
    of the quantities `held` into each bar at each bar's rate (the kernel's step 1b)."""
    shape = held.shape
    if market.dividends.shape[0] <= 1:  # no dividends: the kernel skips the step
        zero = np.zeros(shape)
        return {"dividends": zero, "dividends_paid": zero.copy(), "withholding": zero.copy()}
    per_share = np.nan_to_num(market.dividends, nan=0.0)
    amount = np.where((held != 0.0) & (per_share != 0.0), held * per_share * rate, 0.0)
    received = np.where(held > 0.0, amount, 0.0)
    return {
        "dividends": received,
        "dividends_paid": np.where(held < 0.0, -amount, 0.0),
        "withholding": received * market.withholding[None, :],
    }


def attribute(sim: SimulationResult, market: KernelMarket) -> Attribution:
    """Split the P&L of a simulated portfolio by asset and source (module docstring).

    `market` is the kernel market the portfolio was simulated on (for the execution
    prices, borrow rates and year fractions); `sim` must keep every bar's quantities.
    """
    qty = sim.quantities
    n_bars, n_assets = qty.shape
    if n_bars != len(sim.index):
        raise ValueError("attribution needs the quantities of every bar")
    px = last_prices(sim, market.exec_price)
    rate = _ffill(np.array(sim.fx, dtype=np.float64))[:, sim.asset_ccy]
    held = _previous(qty)
    held[0] = 0.0
    px_before, rate_before = _previous(px), _previous(rate)
    holding = held != 0.0
    price = np.where(holding, held * (px - px_before) * rate_before, 0.0)
    fx = np.where(holding, held * px * (rate - rate_before), 0.0)
    parts = {"price": price, "fx": fx}
    for name in ("fees", "taxes", "fx_costs", "slippage", "impact"):
        parts[name] = np.zeros((n_bars, n_assets))
    rec = sim.records
    bars, assets = rec["bar"], rec["asset"]
    impact = rec["impact"]
    # a fill gains its quantity's value at the close less what it paid at the quote:
    # value - slippage - impact is qty * quote * fx, the fill's value at the quote
    at_close = rec["qty"] * px[bars, assets] * rate[bars, assets]
    np.add.at(price, (bars, assets), at_close - (rec["value"] - rec["slippage"] - impact))
    for name, field in (("fees", "fees"), ("taxes", "tax"), ("fx_costs", "fx_cost")):
        np.add.at(parts[name], (bars, assets), rec[field])
    np.add.at(parts["slippage"], (bars, assets), rec["slippage"])
    np.add.at(parts["impact"], (bars, assets), impact)
    parts["borrow"] = borrow_by_asset(sim, market)
    parts.update(dividends_by_asset(held, rate, market))
    interest = np.array(sim.stats[:, nb.STAT_INTEREST], dtype=np.float64)
    return Attribution(sim.index, sim.columns, sim.init_cash, parts, interest)
