"""A vectorbt ``Portfolio`` replaying a run's own fills, so vectorbt's analytics apply.

vectorbt is a test and benchmark dependency, not a dependency of the engine: it is
imported only when `to_vectorbt` is called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import BacktestError
from engine.results import SimulationResult


def _base_prices(sim: SimulationResult) -> np.ndarray:
    """Closes in the base currency, carried over gaps (and back before an asset's first)."""
    close = pd.DataFrame(sim.close).ffill().bfill().to_numpy()
    fx = pd.DataFrame(sim.fx).ffill().bfill().to_numpy()[:, sim.asset_ccy]
    return close * fx


def to_vectorbt(sim: SimulationResult, freq: str | None = "1D") -> Any:
    """Return ``vbt.Portfolio.from_orders`` over `sim`'s fills, as they were filled.

    Each fill is an order of its signed quantity at its fill price (slippage included)
    times its fx, with its fees, taxes and fx cost as a fixed fee; closes are in the
    base currency; one cash account (``cash_sharing``) in the order of sells first
    (``call_seq="auto"``). vectorbt knows no borrow fees or cash interest, so its value
    equals the run's only where those are zero; board lots need nothing, as the fills
    are given. Two fills of one asset in one bar are merged at their average price.

    Raises
    ------
    BacktestError
        If vectorbt is not installed.
    """
    try:
        import vectorbt as vbt
    except ImportError:
        raise BacktestError(
            "to_vectorbt needs vectorbt, a test dependency of eastwind: pip install vectorbt"
        ) from None
    shape = sim.quantities.shape
    rec = sim.records
    size = np.zeros(shape)
    notional = np.zeros(shape)
    fixed_fees = np.zeros(shape)
    rows, cols = rec["bar"], rec["asset"]
    np.add.at(size, (rows, cols), rec["qty"])
    np.add.at(notional, (rows, cols), rec["qty"] * rec["price"] * rec["fx"])
    np.add.at(fixed_fees, (rows, cols), rec["fees"] + rec["tax"] + rec["fx_cost"])
    filled = size != 0.0
    price = np.full(shape, np.nan)
    np.divide(notional, size, out=price, where=filled)
    frame = pd.DataFrame  # every input has the run's dates and symbols
    return vbt.Portfolio.from_orders(
        close=frame(_base_prices(sim), index=sim.index, columns=sim.columns),
        size=frame(np.where(filled, size, np.nan), index=sim.index, columns=sim.columns),
        size_type="amount",
        price=frame(price, index=sim.index, columns=sim.columns),
        fixed_fees=frame(fixed_fees, index=sim.index, columns=sim.columns),
        init_cash=sim.init_cash,
        cash_sharing=True,
        group_by=True,
        call_seq="auto",
        freq=freq,
    )


@dataclass(frozen=True)
class Agreement:
    """How far vectorbt's value curve of a run is from the run's own, and why.

    ``max_relative`` is the largest ``|theirs / ours - 1|`` over the bars, at ``date``;
    ``differences`` name the run's rules vectorbt does not model (empty: none applied).
    """

    max_relative: float
    date: object
    differences: tuple[str, ...]


def compare_with_vectorbt(sim: SimulationResult) -> Agreement:
    """Replay `sim` in vectorbt (`to_vectorbt`) and measure how far the value curves differ.

    Raises
    ------
    BacktestError
        If vectorbt is not installed.
    """
    theirs = to_vectorbt(sim).value().to_numpy()
    ours = sim.value.to_numpy()
    relative = np.abs(theirs / ours - 1.0)
    relative[~np.isfinite(relative)] = np.inf  # a zero value or NaN is never agreement
    worst = int(np.argmax(relative))
    costs = sim.costs
    differences = []
    for column, rule in (
        ("borrow", "borrow fees on short positions"),
        ("interest", "interest on cash"),
        ("dividends", "cash dividends on long positions"),
        ("dividends_paid", "cash dividends paid on short positions"),
    ):
        paid = float(costs[column].abs().sum())
        if paid != 0.0:
            differences.append(f"{rule} ({paid:,.2f} over the run), which vectorbt does not charge")
    if sim.bankruptcy is not None:
        differences.append("the bankruptcy close-out, after which eastwind stops trading")
    return Agreement(float(relative[worst]), sim.index[worst], tuple(differences))
