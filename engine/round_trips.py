"""Round trips: the fills of a run matched first in, first out into opened-and-closed trades.

Each row pairs the part of an opening fill with the part of a later fill that closed it,
so a position built in three buys and sold in one sale gives three rows. A fill that
takes a position through zero closes the old side and opens the new one. What is still
open at the end of the run is not a round trip and is left out.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

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
    trades = trades.reset_index(drop=True)
    rows: list[tuple[object, ...]] = []
    costs = (trades["fees"] + trades["tax"] + trades["fx_cost"]).to_numpy()
    for symbol, fills in trades.groupby("symbol", sort=False):
        # open lots: [remaining signed qty, price, fx, date, cost per unit]
        lots: deque[list[object]] = deque()
        for i in fills.index:
            qty, price, fx = float(trades.at[i, "qty"]), trades.at[i, "price"], trades.at[i, "fx"]
            date, unit_cost = trades.at[i, "date"], costs[i] / abs(qty)
            while qty != 0.0 and lots and np.sign(lots[0][0]) != np.sign(qty):
                lot = lots[0]
                open_qty = float(lot[0])  # type: ignore[arg-type]
                matched = min(abs(open_qty), abs(qty))
                sign = np.sign(open_qty)
                entry_value = matched * lot[1] * lot[2]  # type: ignore[operator]
                exit_value = matched * price * fx
                cost = matched * (lot[4] + unit_cost)  # type: ignore[operator]
                pnl = sign * (exit_value - entry_value) - cost
                rows.append(
                    (
                        symbol,
                        "long" if sign > 0 else "short",
                        lot[3],
                        date,
                        matched,
                        lot[1],
                        price,
                        pnl,
                        pnl / entry_value,
                        (pd.Timestamp(date) - pd.Timestamp(lot[3])).days,  # type: ignore[arg-type]
                    )
                )
                lot[0] = open_qty - sign * matched
                qty += sign * matched
                if lot[0] == 0.0 or abs(lot[0]) < 1e-12 * matched:  # type: ignore[operator]
                    lots.popleft()
            if qty != 0.0:
                lots.append([qty, price, fx, date, unit_cost])
    frame = pd.DataFrame(rows, columns=list(ROUND_TRIP_COLUMNS))
    return frame.sort_values(["exit_date", "entry_date"], kind="stable", ignore_index=True)
