"""The tables a portfolio manager reads first, computed from a run's returns and trades.

Definitions (the page's footnotes say the same):

- Yearly return: per-bar returns compounded within each calendar year (the first bar's
  return is measured from the initial cash).
- Trailing returns, measured back from the last bar: MTD from the first bar of its
  month, YTD from the first bar of its year, 1Y, 3Y and 5Y over the bars dated after
  the last date less 1, 3 or 5 calendar years, since inception over every bar. MTD,
  YTD and 1Y are cumulative; 3Y, 5Y and since inception are annualised (CAGR over the
  window: growth ``** (ppy / bars) - 1``, -100% when the value fell to zero or below).
  A window longer than the run is n/a.
- Worst drawdowns: the drawdown episodes of `engine.metrics.drawdown_episodes`, deepest
  first: start (first bar under water), trough, recovery (first bar back at the peak)
  and length in calendar days.
- Rolling volatility: sample standard deviation of the returns over the window, times
  ``sqrt(ppy)``.
- Round trips (`engine.round_trips`): win rate = round trips with pnl > 0 over all;
  profit factor = gross profit over gross loss (sum of pnl > 0 over minus the sum of pnl
  < 0; n/a without losses); expectancy = mean pnl per round trip, base currency.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine import metrics as m

TRAILING = ("MTD", "YTD", "1Y", "3Y", "5Y", "Since inception")
ANNUALISED = frozenset({"3Y", "5Y", "Since inception"})


def yearly_returns(returns: pd.Series) -> pd.Series:
    """Return each calendar year's compounded return, indexed by year."""
    index = pd.DatetimeIndex(returns.index)
    years = np.asarray(index.year, dtype=np.int64)
    values = m.period_returns(returns.to_numpy(), years)
    return pd.Series(values, index=pd.Index(np.unique(years), name="year"), name=returns.name)


def _window_start(index: pd.DatetimeIndex, label: str) -> int | None:
    """First bar of the trailing window `label`, None when the run is shorter."""
    last = index[-1]
    if label == "Since inception":
        return 0
    if label == "MTD":
        cut = pd.Timestamp(last.year, last.month, 1)
        return int(index.searchsorted(cut, side="left"))
    if label == "YTD":
        return int(index.searchsorted(pd.Timestamp(last.year, 1, 1), side="left"))
    years = int(label[0])
    cut = last - pd.DateOffset(years=years)
    if cut < index[0]:
        return None
    return int(index.searchsorted(cut, side="right"))


def trailing_returns(returns: pd.Series, ppy: float) -> pd.Series:
    """Return MTD, YTD, 1Y, 3Y, 5Y and since-inception returns (module docstring)."""
    index = pd.DatetimeIndex(returns.index)
    r = returns.to_numpy()
    out = {}
    for label in TRAILING:
        start = _window_start(index, label)
        if start is None or start >= len(r):
            out[label] = np.nan
            continue
        growth = float(np.prod(1.0 + r[start:]))
        bars = len(r) - start
        if label not in ANNUALISED:
            out[label] = growth - 1.0
        else:  # money that is gone (a bankrupt run) compounds at -100%, as its CAGR does
            out[label] = growth ** (ppy / bars) - 1.0 if growth > 0.0 else -1.0
    return pd.Series(out, name=returns.name)


def worst_drawdowns(value: pd.Series, init_cash: float, n: int = 5) -> pd.DataFrame:
    """Return the `n` deepest drawdown episodes, deepest first (module docstring)."""
    episodes = m.drawdown_episodes(value, init_cash)
    worst = episodes.sort_values(["depth", "start"], kind="stable").head(n)
    return worst.reset_index(drop=True)


def rolling_volatility(returns: pd.Series, window: int, ppy: float) -> pd.Series:
    """Return the annualised volatility over each trailing `window` of bars."""
    return returns.rolling(window).std() * np.sqrt(ppy)


def trip_stats(trips: pd.DataFrame) -> dict[str, float]:
    """Return count, win rate, profit factor, expectancy, mean win and mean loss of trips."""
    pnl = trips["pnl"].to_numpy(dtype=float)
    wins, losses = pnl[pnl > 0.0], pnl[pnl < 0.0]
    n = len(pnl)
    return {
        "round_trips": float(n),
        "win_rate": len(wins) / n if n else np.nan,
        "profit_factor": wins.sum() / -losses.sum() if len(losses) else np.nan,
        "expectancy": float(pnl.mean()) if n else np.nan,
        "average_win": float(wins.mean()) if len(wins) else np.nan,
        "average_loss": float(losses.mean()) if len(losses) else np.nan,
    }


def trips_by_asset(trips: pd.DataFrame) -> pd.DataFrame:
    """Return `trip_stats` per symbol (in order of first exit) and for all symbols."""
    rows = {str(s): trip_stats(group) for s, group in trips.groupby("symbol", sort=False)}
    rows["All"] = trip_stats(trips)
    return pd.DataFrame(rows).T
