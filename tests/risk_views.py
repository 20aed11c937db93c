"""One view of a simulation from the kernel and from the oracle, for hand-computed tests.

``both(close, weights, **kwargs)`` yields the oracle's view first, then the kernel's
(``engine.simulate``), so a test's hand-computed numbers are checked against each in
turn with the same assertions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

import engine
from tests.reference import RISK_STATS, simulate_reference
from tests.reference_inputs import reference_inputs


@dataclass
class View:
    source: str
    value: np.ndarray
    cash: np.ndarray
    qty: np.ndarray
    stats: dict[str, np.ndarray]  # RISK_STATS and "slippage", per bar
    fills: list[dict]  # bar, asset, qty, price, slippage, impact


def oracle_view(close: pd.DataFrame, weights: pd.DataFrame, kwargs: dict) -> View:
    ref = simulate_reference(**reference_inputs(close, weights, kwargs))
    stats = {name: getattr(ref, name) for name in RISK_STATS}
    stats["slippage"] = np.zeros(len(close))
    for fill in ref.fills:
        stats["slippage"][fill["bar"]] += fill["slippage"]
    return View("oracle", ref.value, ref.cash, ref.qty, stats, ref.fills)


def engine_view(close: pd.DataFrame, weights: pd.DataFrame, kwargs: dict) -> View:
    result = engine.simulate(close, weights, **kwargs)
    stats = {name: result.risk[name].to_numpy() for name in result.risk.columns}
    stats["impact"] = result.costs["impact"].to_numpy()
    stats["slippage"] = result.costs["slippage"].to_numpy()
    trades = result.trades
    fills = [
        {
            "bar": int(close.index.get_loc(row.date)),
            "asset": int(close.columns.get_loc(row.symbol)),
            "qty": row.qty,
            "price": row.price,
            "slippage": row.slippage,
            "impact": row.impact,
        }
        for row in trades.itertuples()
    ]
    return View(
        "kernel", result.value.to_numpy(), result.cash.to_numpy(), result.quantities, stats, fills
    )


def both(close: pd.DataFrame, weights: pd.DataFrame, **kwargs) -> Iterator[View]:
    """The oracle's view, then the kernel's, of ``engine.simulate(close, weights, **kwargs)``."""
    yield oracle_view(close, weights, kwargs)
    yield engine_view(close, weights, kwargs)


def frame(rows, columns: str = "ABC") -> pd.DataFrame:
    """A ``[T, N]`` frame on business days from 2024-01-01; NaN where a row gives None."""
    data = np.array([[np.nan if x is None else x for x in row] for row in rows], dtype=float)
    index = pd.bdate_range("2024-01-01", periods=len(data))
    return pd.DataFrame(data, index=index, columns=list(columns[: data.shape[1]]))
