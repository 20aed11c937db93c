"""Round trips: the fills of a run matched first in, first out into opened-and-closed trades.

Each row pairs the part of an opening fill with the part of a later fill that closed it,
so a position built in three buys and sold in one sale gives three rows. A fill that
takes a position through zero closes the old side and opens the new one. What is still
open at the end of the run is not a round trip and is left out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class _Lot:
    """What is still open of one fill: signed quantity, fill price, fx, date, cost per unit."""

    qty: float
    price: float
    fx: float
    date: pd.Timestamp
    unit_cost: float


ROUND_TRIP_COLUMNS = (
    "symbol",
    "side",
    "entry_date",
    "exit_date",
    "qty",
    "entry_price",
    "exit_price",
    "pnl",
    "return",
    "holding_days",
)


def round_trips(trades: pd.DataFrame) -> pd.DataFrame:
    """Match `trades` (`SimulationResult.trades`: one row per fill, in order) FIFO per symbol.

    Prices are fill prices in the asset's currency (slippage included); ``qty`` is
    unsigned and ``side`` is ``long`` or ``short``. ``pnl`` is in the base currency: the
    matched quantity's value at exit less its value at entry (each at its fill's fx),
    less the matched share of both fills' fees, taxes and fx costs; borrow fees and cash
    interest are charged to the portfolio, not to a trade. ``return`` is ``pnl`` over the
    entry value; ``holding_days`` are calendar days.
    """
    symbols = trades["symbol"].to_numpy()
    dates = pd.DatetimeIndex(trades["date"])
    qtys, prices, fxs = (trades[c].to_numpy(dtype=float) for c in ("qty", "price", "fx"))
    costs = (trades["fees"] + trades["tax"] + trades["fx_cost"]).to_numpy(dtype=float)
    rows: list[tuple[object, ...]] = []
    open_lots: dict[object, deque[_Lot]] = {}
    for i in range(len(trades)):
        lots = open_lots.setdefault(symbols[i], deque())
        qty, price, fx, date = qtys[i], prices[i], fxs[i], dates[i]
        unit_cost = costs[i] / abs(qty)
        while qty != 0.0 and lots and np.sign(lots[0].qty) != np.sign(qty):
            lot = lots[0]
            matched = min(abs(lot.qty), abs(qty))
            sign = float(np.sign(lot.qty))
            entry_value = matched * lot.price * lot.fx
            cost = matched * (lot.unit_cost + unit_cost)
            pnl = sign * (matched * price * fx - entry_value) - cost
            side = "long" if sign > 0 else "short"
            trip = (symbols[i], side, lot.date, date, matched, lot.price, price, pnl)
            rows.append((*trip, pnl / entry_value, (date - lot.date).days))
            lot.qty -= sign * matched
            qty += sign * matched
            if abs(lot.qty) <= 1e-12 * matched:  # closed, up to rounding
                lots.popleft()
        if qty != 0.0:
            lots.append(_Lot(qty, price, fx, date, unit_cost))
    frame = pd.DataFrame(rows, columns=list(ROUND_TRIP_COLUMNS))
    return frame.sort_values(["exit_date", "entry_date"], kind="stable", ignore_index=True)
