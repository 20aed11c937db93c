"""Southbound Stock Connect series derived from per-stock holdings, and their
publication lag.

A holdings table (one per Hong Kong stock, on its publication dates) has the shares
held through Stock Connect (``holding_shares``), their value (``holding_value``, HKD),
their share of the issued shares (``holding_ratio``, a fraction) and the day's close
(``close``). From it:

- ``net_buy``: daily net buying, HKD millions, estimated as the change in shares held
  times that day's close, ``(shares[d] - shares[d-1]) * close[d] / 1e6``. Biases: buys
  and sells happen through the day at other prices than the close, so a day that buys
  on a rally is overstated; a change spanning days without a publication (a mainland
  holiday) lands on the next published day; a split or bonus issue changes the share
  count without any trade, so a day whose share count moves by a factor of 1.5 or more
  while the share of issued shares moves by less than 5% is read as a corporate action
  and has no estimate (NaN).
- ``net_buy_sum``: ``net_buy`` summed over `window` published days (needs all of them).
- ``net_buy_z``: the z-score of ``net_buy_sum`` against its own last `z_window` values.
- ``holding_shares``, ``holding_value``, ``holding_ratio``: as published.
- ``market_net_buy``: the market-wide daily southbound net buying (HKD millions), from
  its own table, not from holdings.

Publication lag: Hong Kong's Stock Connect holdings dated d are the holdings at the close
of d and are published the next morning, so a strategy may first use them on the bar
after d (`lag` = 1 by default; `on_bars`). The derived series are computed on the
publication dates and then placed on the market's bars: a level (holdings, sums,
z-scores) is carried to the next publication, a flow (``net_buy``, ``market_net_buy``)
is zero on bars without one once it has started (Stock Connect closed: nothing bought),
and flows published for several dates that reach the same bar are added.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

HOLDING_COLUMNS = ("close", "holding_shares", "holding_value", "holding_ratio")
HOLDING_SERIES = (
    "holding_shares",
    "holding_value",
    "holding_ratio",
    "net_buy",
    "net_buy_sum",
    "net_buy_z",
)
FLOW_SERIES = ("net_buy", "market_net_buy")
SPLIT_STEP = 1.5  # a share count moving by this factor or more ...
SPLIT_RATIO_MOVE = 0.05  # ... while the share of issued shares moves less: a corporate action


def estimated_net_buy(holdings: pd.DataFrame) -> pd.Series:
    """Return net buying in HKD millions per publication date: the change in shares held
    times the close; NaN on the first date and on a corporate action (module docstring)."""
    shares = holdings["holding_shares"].astype(np.float64)
    ratio = holdings["holding_ratio"].astype(np.float64)
    flow = shares.diff() * holdings["close"].astype(np.float64) / 1e6
    step = shares / shares.shift()
    moved = (ratio / ratio.shift() - 1.0).abs()
    action = ((step >= SPLIT_STEP) | (step <= 1.0 / SPLIT_STEP)) & (moved < SPLIT_RATIO_MOVE)
    return flow.mask(action).rename("net_buy")


def rolling_sum(series: pd.Series, window: int) -> pd.Series:
    """Sum over the last `window` values; NaN until `window` values are known."""
    return series.rolling(window, min_periods=window).sum()


def zscore(series: pd.Series, window: int) -> pd.Series:
    """(value - mean) / standard deviation over the last `window` values (NaN before,
    and where the deviation is zero)."""
    mean = series.rolling(window, min_periods=window).mean()
    std = series.rolling(window, min_periods=window).std()
    return (series - mean) / std.where(std > 0)


def holding_series(holdings: pd.DataFrame, series: str, window: int, z_window: int) -> pd.Series:
    """Return one of `HOLDING_SERIES` on the holdings' own publication dates."""
    if series in ("holding_shares", "holding_value", "holding_ratio"):
        return holdings[series].astype(np.float64)
    flow = estimated_net_buy(holdings)
    if series == "net_buy":
        return flow
    total = rolling_sum(flow, window)
    if series == "net_buy_sum":
        return total
    if series == "net_buy_z":
        return zscore(total, z_window)
    raise ValueError(f"unknown southbound series {series!r}; one of {HOLDING_SERIES}")


def on_bars(series: pd.Series, bars: pd.DatetimeIndex, lag: int, flow: bool) -> pd.Series:
    """Place a series dated by publication date on `bars`: the value for date d is first
    usable on the `lag`-th bar strictly after d (`lag` 0: on d's own bar, or the first
    bar after d when d is not a bar).

    A level is carried forward to the next value; a flow is summed when several dates
    reach one bar and is zero on bars without one between its first and last value.
    """
    values = series.dropna()
    if values.empty:
        return pd.Series(np.nan, index=bars, dtype=np.float64)
    side = "right" if lag >= 1 else "left"
    position = bars.searchsorted(values.index, side=side) + max(lag - 1, 0)
    inside = position < len(bars)
    placed = pd.Series(values.to_numpy()[inside], index=position[inside])
    if flow:
        grouped = placed.groupby(level=0).sum()
    else:
        grouped = placed.groupby(level=0).last()
    out = pd.Series(np.nan, index=np.arange(len(bars)), dtype=np.float64)
    out[grouped.index] = grouped.to_numpy()
    if flow:
        span = out.notna()
        started, ended = span.cummax(), span[::-1].cummax()[::-1]
        out = out.fillna(0.0).where(started & ended)
    else:
        out = out.ffill()
    return pd.Series(out.to_numpy(), index=bars, dtype=np.float64)


def southbound_frame(
    holdings: Mapping[str, pd.DataFrame],
    bars: pd.DatetimeIndex,
    symbols: list[str],
    series: str,
    *,
    window: int,
    z_window: int,
    lag: int,
) -> pd.DataFrame:
    """Return a per-stock series ``[bars, symbols]``: NaN for a symbol without holdings."""
    columns = {
        s: on_bars(holding_series(h, series, window, z_window), bars, lag, series in FLOW_SERIES)
        for s, h in holdings.items()
    }
    return pd.DataFrame(columns, index=bars).reindex(columns=symbols).astype(np.float64)
