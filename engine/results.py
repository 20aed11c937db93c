"""Pandas views over the arrays the simulation kernel writes.

A `SimulationResult` is one portfolio; a `BatchResult` is K portfolios simulated in one
call over the same market. Both hold the kernel's arrays and build pandas objects on
demand, so a sweep that only needs `value` never pays for the trade table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.kernel import sim_nb as nb

_COST_COLUMNS = {
    "fees": nb.STAT_FEES,
    "taxes": nb.STAT_TAXES,
    "fx_costs": nb.STAT_FX_COSTS,
    "slippage": nb.STAT_SLIPPAGE,
    "impact": nb.STAT_IMPACT,
    "borrow": nb.STAT_BORROW,
    "interest": nb.STAT_INTEREST,
    "dividends": nb.STAT_DIVIDENDS,
    "dividends_paid": nb.STAT_DIVIDENDS_PAID,
    "withholding": nb.STAT_WITHHOLDING,
}

_RISK_COLUMNS = {
    "cut_name": nb.STAT_CUT_NAME,
    "cut_group": nb.STAT_CUT_GROUP,
    "cut_net": nb.STAT_CUT_NET,
    "cut_drawdown": nb.STAT_CUT_DRAWDOWN,
    "drawdown_cutting": nb.STAT_DRAWDOWN_CUTTING,
    "stop_losses": nb.STAT_STOP_LOSSES,
    "take_profits": nb.STAT_TAKE_PROFITS,
    "unfilled": nb.STAT_UNFILLED,
}


def _per_value(amount: npt.NDArray[np.float64], value: npt.NDArray[np.float64]) -> np.ndarray:
    """``amount / value``, 0 where the amount is 0 (a bankrupt book holds nothing, and its
    value may be 0)."""
    out = np.zeros_like(amount)
    np.divide(amount, value, out=out, where=amount != 0.0)
    return out


def day_label(label: object) -> str:
    """A bar's index label for messages: ``2024-01-02`` for a midnight timestamp."""
    if isinstance(label, pd.Timestamp) and label == label.normalize():
        return str(label.date())
    return str(label)


@dataclass(frozen=True)
class Bankruptcy:
    """Where a portfolio's value fell to zero or below, and what drove it there.

    ``cause`` names the position that lost the most over that bar (price moves, and
    the costs of its fills), or says the value fell below zero when no position lost.
    """

    date: object
    cause: str


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """One simulated portfolio: equity, cash, positions, trades, exposures and costs.

    Money is in the base currency. ``stats`` is the kernel's per-bar array
    ``[T, N_STATS]`` (columns ``engine.kernel.sim_nb.STAT_*``); ``close`` and ``fx``
    are the kernel's inputs (NaN gaps included), shared by all portfolios of a batch.
    """

    index: pd.Index
    columns: pd.Index
    init_cash: float
    stats: npt.NDArray[np.float64]
    records: np.ndarray
    close: npt.NDArray[np.float64]
    fx: npt.NDArray[np.float64]
    asset_ccy: npt.NDArray[np.int64]
    status: int
    fail_bar: int

    def _series(self, column: int, name: str) -> pd.Series:
        return pd.Series(self.stats[:, column], index=self.index, name=name)

    @cached_property
    def value(self) -> pd.Series:
        """Portfolio value at the end of each bar."""
        return self._series(nb.STAT_VALUE, "value")

    @cached_property
    def cash(self) -> pd.Series:
        """Cash at the end of each bar (negative when borrowing)."""
        return self._series(nb.STAT_CASH, "cash")

    @cached_property
    def returns(self) -> pd.Series:
        """Simple return of each bar; the first bar's is measured from the initial cash.

        A bar whose value did not change returns 0, also when a bankrupt portfolio's
        value is 0.
        """
        value = self.stats[:, nb.STAT_VALUE]
        previous = np.concatenate(([self.init_cash], value[:-1]))
        changed = value != previous
        returns = np.zeros_like(value)
        np.divide(value, previous, out=returns, where=changed)
        returns[changed] -= 1.0
        return pd.Series(returns, index=self.index, name="returns")

    @cached_property
    def quantities(self) -> npt.NDArray[np.float64]:
        """Quantity held of each asset at the end of each bar, ``[T, N]``, from the fills
        (the kernel keeps only what changes)."""
        out = np.empty((len(self.index), len(self.columns)), dtype=np.float64)
        nb.positions_nb(self.records, out)
        return out

    @cached_property
    def positions(self) -> pd.DataFrame:
        """Quantity held of each asset at the end of each bar."""
        return pd.DataFrame(self.quantities, index=self.index, columns=self.columns)

    @cached_property
    def position_values(self) -> pd.DataFrame:
        """Base-currency value of each position at the last known close."""
        close = pd.DataFrame(self.close).ffill().to_numpy()
        asset_fx = pd.DataFrame(self.fx).ffill().to_numpy()[:, self.asset_ccy]
        held = self.quantities != 0.0
        values = np.where(held, self.quantities * close * asset_fx, 0.0)
        return pd.DataFrame(values, index=self.index, columns=self.columns)

    @cached_property
    def weights(self) -> pd.DataFrame:
        """Realised weight of each asset: position value over portfolio value."""
        return self.position_values.div(self.value, axis=0)

    @cached_property
    def gross_exposure(self) -> pd.Series:
        """Sum of absolute position values over portfolio value (gross leverage)."""
        return pd.Series(
            _per_value(self.stats[:, nb.STAT_GROSS], self.stats[:, nb.STAT_VALUE]),
            index=self.index,
            name="gross_exposure",
        )

    @cached_property
    def net_exposure(self) -> pd.Series:
        """Sum of signed position values over portfolio value."""
        return pd.Series(
            _per_value(self.stats[:, nb.STAT_NET], self.stats[:, nb.STAT_VALUE]),
            index=self.index,
            name="net_exposure",
        )

    @cached_property
    def turnover(self) -> pd.Series:
        """Traded value of each bar over the portfolio value before trading."""
        pre = self.stats[:, nb.STAT_VALUE_PRE]
        traded = np.where(pre > 0.0, self.stats[:, nb.STAT_TRADED], 0.0)
        return pd.Series(_per_value(traded, pre), index=self.index, name="turnover")

    @cached_property
    def costs(self) -> pd.DataFrame:
        """Per-bar fees, taxes, fx conversion costs, slippage, impact (half-spread and
        square-root impact), borrow fees, cash interest,
        dividends received by longs (before withholding), paid by shorts, and withheld."""
        data = {name: self.stats[:, col] for name, col in _COST_COLUMNS.items()}
        return pd.DataFrame(data, index=self.index)

    @cached_property
    def risk(self) -> pd.DataFrame:
        """Per bar, what the trading rules did: the weight each limit cut from the bar's
        targets (``cut_name``, ``cut_group``, ``cut_net``, ``cut_drawdown``), whether the
        drawdown rule was cutting at the close, the stops triggered at the close, and
        the value the participation cap held back (``unfilled``, base currency)."""
        data = {name: self.stats[:, col] for name, col in _RISK_COLUMNS.items()}
        return pd.DataFrame(data, index=self.index)

    @cached_property
    def shortfall(self) -> pd.Series:
        """Value of buys (or leverage-increasing orders) that could not be funded, per bar."""
        return self._series(nb.STAT_SHORTFALL, "shortfall")

    @cached_property
    def trades(self) -> pd.DataFrame:
        """One row per fill: date, symbol, signed quantity, fill price, fx and costs."""
        rec = self.records
        frame = pd.DataFrame(
            {
                "date": self.index[rec["bar"]],
                "symbol": self.columns[rec["asset"]],
                "side": np.where(rec["qty"] > 0.0, "buy", "sell"),
                "qty": rec["qty"],
                "price": rec["price"],
                "fx": rec["fx"],
                "value": rec["value"],
                "fees": rec["fees"],
                "tax": rec["tax"],
                "fx_cost": rec["fx_cost"],
                "slippage": rec["slippage"],
                "impact": rec["impact"],
            }
        )
        return frame

    @property
    def bankrupt_at(self) -> object | None:
        """Index label of the bar where value first fell to zero or below, or None."""
        return self.index[self.fail_bar] if self.status == nb.STATUS_BANKRUPT else None

    @cached_property
    def bankruptcy(self) -> Bankruptcy | None:
        """The bar where the value fell to zero or below and what drove it, or None."""
        if self.status != nb.STATUS_BANKRUPT:
            return None
        t = self.fail_bar
        close = pd.DataFrame(self.close[: t + 1]).ffill().to_numpy()
        rate = pd.DataFrame(self.fx[: t + 1]).ffill().to_numpy()[:, self.asset_ccy]
        now = close[-1] * rate[-1]
        held = self.quantities[t - 1] if t > 0 else np.zeros(len(self.columns))
        before = close[-2] * rate[-2] if t > 0 else now
        # the P&L of each asset over the bar: what was held moved from the previous close to
        # this one; each fill of the bar gained its value at this close, less price and costs
        pnl = np.where(held != 0.0, held * (now - before), 0.0)
        for fill in self.records[self.records["bar"] == t]:
            j = fill["asset"]
            costs = fill["fees"] + fill["tax"] + fill["fx_cost"]
            pnl[j] += fill["qty"] * now[j] - fill["value"] - costs
        pnl[np.isnan(pnl)] = 0.0  # an asset with no close yet: its move is unknown
        j = int(np.argmin(pnl))
        if not pnl[j] < 0.0:
            return Bankruptcy(self.index[t], "value fell below zero")
        symbol = self.columns[j]
        side = "short " if held[j] < 0.0 else "long " if held[j] > 0.0 else "the position in "
        cause = f"{side}{symbol} lost {-pnl[j]:,.0f} on the bar"
        if t > 0 and np.isfinite(close[-2, j]) and close[-2, j] != close[-1, j]:
            move = "rose" if close[-1, j] > close[-2, j] else "fell"
            cause += (
                f" as {symbol} {move} from {close[-2, j]:g} to {close[-1, j]:g} "
                f"({close[-1, j] / close[-2, j] - 1.0:+.1%})"
            )
        return Bankruptcy(self.index[t], cause)


class BatchResult(Sequence[SimulationResult]):
    """K portfolios simulated in one kernel call; index it for one `SimulationResult`."""

    def __init__(self, results: list[SimulationResult]) -> None:
        self._results = results

    def __len__(self) -> int:
        return len(self._results)

    def __getitem__(self, k: int) -> SimulationResult:  # type: ignore[override]
        return self._results[k]

    def __iter__(self) -> Iterator[SimulationResult]:
        return iter(self._results)

    def _frame(self, column: int) -> pd.DataFrame:
        first = self._results[0]
        data = np.column_stack([r.stats[:, column] for r in self._results])
        return pd.DataFrame(data, index=first.index, columns=pd.RangeIndex(len(self)))

    @property
    def value(self) -> pd.DataFrame:
        """Value of every portfolio, one column each."""
        return self._frame(nb.STAT_VALUE)

    @property
    def cash(self) -> pd.DataFrame:
        """Cash of every portfolio, one column each."""
        return self._frame(nb.STAT_CASH)

    @property
    def returns(self) -> pd.DataFrame:
        """Per-bar returns of every portfolio, one column each."""
        return pd.concat([r.returns for r in self._results], axis=1, keys=range(len(self)))
