"""The keyword arguments of `engine.simulate` turned into the oracle's plain inputs.

`reference_inputs(close, weights, kwargs)` gives `tests.reference.simulate_reference`
the same market and settings that ``engine.simulate(close, weights, **kwargs)`` runs,
for one portfolio: dated cost schedules become per-bar grids, per-asset settings lists,
group limits lists of asset positions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from tests.reference_risk import Group

COST_ARGS = {
    "fee_rate": "fees",
    "fee_min": "min_fees",
    "fee_fixed": "fixed_fees",
    "buy_tax": "buy_tax",
    "sell_tax": "sell_tax",
    "slippage": "slippage",
    "fx_cost": "fx_cost",
    "half_spread": "half_spread",
}


def in_force(value, index: pd.Index, columns: pd.Index) -> np.ndarray:
    """A cost setting as ``[T, N]``: a dated schedule looked up by date, else broadcast."""
    if isinstance(value, pd.DataFrame):
        return np.array(
            [value.loc[: index[t], list(columns)].iloc[-1] for t in range(len(index))], float
        )
    if isinstance(value, Mapping | pd.Series):
        value = [value[s] for s in columns]
    return np.broadcast_to(np.asarray(value, dtype=float), (len(index), len(columns)))


def _per_asset(value, columns: pd.Index, default: float) -> list[float]:
    if value is None:
        return [default] * len(columns)
    if isinstance(value, Mapping | pd.Series):
        return [float(value[s]) for s in columns]
    return [float(x) for x in np.broadcast_to(np.asarray(value, dtype=float), (len(columns),))]


def _array(frame) -> np.ndarray | None:
    return None if frame is None else np.asarray(frame, dtype=float)


def reference_inputs(close: pd.DataFrame, weights: pd.DataFrame, kw: dict) -> dict:
    """The arguments of `simulate_reference` for ``engine.simulate(close, weights, **kw)``."""
    prices = close.to_numpy()
    n_bars, n_assets = prices.shape
    index, columns = close.index, close.columns
    if "fx" in kw:
        fx = np.column_stack([np.ones(n_bars), kw["fx"]["HKD"].to_numpy()])
        asset_ccy = np.array([1 if kw["currency"][s] == "HKD" else 0 for s in columns])
    else:
        fx, asset_ccy = np.ones((n_bars, 1)), np.zeros(n_assets, dtype=int)
    grids = {field: in_force(kw.get(arg, 0.0), index, columns) for field, arg in COST_ARGS.items()}
    grids["fx_cost"] = grids["fx_cost"] * (asset_ccy != 0)
    charges = [
        tuple(in_force(getattr(c, f), index, columns) for f in ("rate", "minimum", "maximum"))
        for c in kw.get("charges", ())
    ]

    def cost_of(t: int, j: int) -> dict:
        cost = {field: float(grid[t, j]) for field, grid in grids.items()}
        cost["charges"] = [(r[t, j], lo[t, j], hi[t, j]) for r, lo, hi in charges]
        return cost

    credit = np.full(n_bars, kw.get("cash_rate", 0.0))
    debit = credit if kw.get("cash_debit_rate") is None else np.full(n_bars, kw["cash_debit_rate"])
    size_types = {"target_weight": 0, "target_quantity": 1, "target_value": 2}
    position = {s: j for j, s in enumerate(columns)}
    groups = [
        Group([position[s] for s in g.symbols], float(g.gross), tuple(map(float, g.net)))
        for g in kw.get("group_limits", {}).values()
    ]
    rule = kw.get("drawdown")
    lots = 0.0 if kw.get("lot_size") is None else kw["lot_size"]
    return {
        "close": prices,
        "exec_price": kw["exec_price"].to_numpy() if "exec_price" in kw else prices,
        "fx": fx,
        "asset_ccy": asset_ccy,
        "targets": weights.to_numpy(dtype=float),
        "size_type": size_types[kw.get("size_type", "target_weight")],
        "lot_size": in_force(lots, index, columns)[0],
        "cost_of": cost_of,
        "borrow_rate": in_force(kw.get("borrow_rate", 0.0), index, columns),
        "cash_credit": credit,
        "cash_debit": debit,
        "year_frac": np.concatenate(([0.0], np.diff(index.normalize()) / pd.Timedelta(days=365))),
        "init_cash": kw.get("init_cash", 1_000_000.0),
        "max_leverage": kw.get("max_leverage") or math.inf,
        "dividends": kw["dividends"].to_numpy() if "dividends" in kw else None,
        "withholding": np.broadcast_to(np.asarray(kw.get("withholding", 0.0)), (n_assets,)),
        "volume": _array(kw.get("volume")),
        "participation": kw.get("participation"),
        "execution": kw.get("execution", "close"),
        "impact": _per_asset(kw.get("impact"), columns, 0.0),
        "impact_window": kw.get("impact_window", 20),
        "volatility": _array(kw.get("volatility")),
        "adv": _array(kw.get("adv")),
        "max_weight": _per_asset(kw.get("max_weight"), columns, math.inf),
        "net_exposure": None if kw.get("net_exposure") is None else tuple(kw["net_exposure"]),
        "groups": groups,
        "drawdown": None if rule is None else (rule.trigger, rule.fraction, rule.recovery),
        "stop_loss": _per_asset(kw.get("stop_loss"), columns, math.inf),
        "take_profit": _per_asset(kw.get("take_profit"), columns, math.inf),
    }
