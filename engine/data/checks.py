"""Checks of loaded prices that warn and never change a price: bad prints, early ends.

`bad_prints` looks at each symbol's own priced bars (a gap is skipped, so the move
across a suspension counts as one move) for three kinds of print:

- ``spike``: a close at least `SPIKE_FACTOR` times above (or below) the closes of both
  the bar before and the bar after it, a bad tick that reverses (one 1e12 print makes
  a -100% drawdown);
- ``step``: a close-to-close move of at least `STEP_FACTOR` either way that is no leg
  of a spike, so the new level persists: an unadjusted split (10:1 shows as /10) or a
  change of units (cents for dollars) in adjusted prices;
- ``open``: an open at least `SPIKE_FACTOR` times above (or below) both the bar's close
  and the close before it, which would fill an order at the open at that price.

The thresholds were set on the project's real files (every close and adjusted close
in ``hk``, ``us``, ``index`` and ``hk_raw``, 29 series from 1971 to 2026, plus the
``oracle`` files) and on the synthetic market (seeds 0-5, 2010-2025, 27 symbols). In the
real files the largest move that reverses the next bar is x1.27 each way (NVDA,
2000-03-13), the largest single move x2.08 (AAPL, 2000-09-29, -52%) and the largest open
away from both closes x1.22 (0700.HK, 2008-09-19); in the synthetic market x1.17, x1.38
and x1.09. None comes near the thresholds, while a x3 spike and a x100 or /100 step
reach them.

`assemble_market` warns about each symbol's prints (`DataWarning`, one line), so every
source gets the check; ``eastwind data show`` lists them all.

`series_ends` finds series that stop before the market's last bar while their
exchange keeps trading; what to do about them is the caller's choice.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from engine.data import calendars
from engine.errors import DataError, DataWarning

if TYPE_CHECKING:
    from engine.data.market import Market

SPIKE_FACTOR = 2.5
STEP_FACTOR = 5.0

PrintKind = Literal["spike", "step", "open"]


@dataclass(frozen=True)
class BadPrint:
    """A suspect price: the symbol, the bar's date, the kind, the price and a message.

    ``message`` is one line naming the symbol, the date, the prices around it and what
    to check.
    """

    symbol: str
    date: pd.Timestamp
    kind: PrintKind
    price: float
    message: str


@dataclass(frozen=True)
class SeriesEnd:
    """A series that stops early: its last priced date and the sessions missing after it
    up to the market's last bar."""

    symbol: str
    last: pd.Timestamp
    missing: int


def _day(date: pd.Timestamp) -> str:
    return str(date.date())


def _symbol_prints(
    symbol: str, dates: pd.DatetimeIndex, close: np.ndarray, opened: np.ndarray
) -> list[BadPrint]:
    priced = ~np.isnan(close)
    days, price = dates[priced], close[priced]
    found: list[BadPrint] = []
    if len(price) >= 2:
        move = np.diff(np.log(price))  # move[i]: from bar i to bar i + 1
        spike_size, step_size = np.log(SPIKE_FACTOR), np.log(STEP_FACTOR)
        # bar i + 1 is a spike when the moves into and out of it are large and opposite
        spike = np.zeros(len(price), dtype=np.bool_)
        spike[1:-1] = (np.minimum(np.abs(move[:-1]), np.abs(move[1:])) >= spike_size) & (
            np.sign(move[:-1]) != np.sign(move[1:])
        )
        leg = spike[1:] | spike[:-1]  # move i is a leg of a spike at bar i or i + 1
        for i in np.flatnonzero(spike):
            found.append(
                BadPrint(
                    symbol,
                    days[i],
                    "spike",
                    float(price[i]),
                    f"{symbol}: close on {_day(days[i])} is {price[i]:.6g} between "
                    f"{price[i - 1]:.6g} ({_day(days[i - 1])}) and {price[i + 1]:.6g} "
                    f"({_day(days[i + 1])}), a one-bar spike that reverses; check that row "
                    "of the file for a bad print and correct or delete it",
                )
            )
        for i in np.flatnonzero((np.abs(move) >= step_size) & ~leg):
            after = i + 1
            stays = "and stays there" if after < len(price) - 1 else "on the last bar"
            found.append(
                BadPrint(
                    symbol,
                    days[after],
                    "step",
                    float(price[after]),
                    f"{symbol}: close steps from {price[i]:.6g} ({_day(days[i])}) to "
                    f"{price[after]:.6g} ({_day(days[after])}), x{np.exp(move[i]):.3g} in "
                    f"one bar, {stays}; check for an unadjusted split or a change of units "
                    "(prices must be adjusted), or a bad print",
                )
            )
    found += _open_prints(symbol, dates, close, opened)
    return found


def _open_prints(
    symbol: str, dates: pd.DatetimeIndex, close: np.ndarray, opened: np.ndarray
) -> list[BadPrint]:
    # the close of the last priced bar before each bar, carried over gaps
    priced_at = np.where(~np.isnan(close), np.arange(len(close)), -1)
    previous_at = np.r_[-1, np.maximum.accumulate(priced_at)[:-1]]
    before = np.where(previous_at >= 0, close[np.maximum(previous_at, 0)], np.nan)
    size = np.log(SPIKE_FACTOR)
    with np.errstate(invalid="ignore", divide="ignore"):
        same_day = np.log(opened / close)
        previous = np.log(opened / before)
    away = np.abs(same_day) >= size
    agree = np.isnan(previous) | (
        (np.abs(previous) >= size) & (np.sign(previous) == np.sign(same_day))
    )
    found = []
    for i in np.flatnonzero(away & agree):
        found.append(
            BadPrint(
                symbol,
                dates[i],
                "open",
                float(opened[i]),
                f"{symbol}: open on {_day(dates[i])} is {opened[i]:.6g} against closes of "
                f"{before[i]:.6g} the bar before and {close[i]:.6g} that day; check that "
                "row of the file for a bad print and correct or delete it",
            )
        )
    return found


def bad_prints(market: Market) -> list[BadPrint]:
    """Return the suspect prices of `market`, by symbol in column order, then by date.

    See the module docstring for the three kinds and their thresholds.
    """
    found: list[BadPrint] = []
    dates = market.index
    for symbol in market.symbols:
        close = market.close[symbol].to_numpy(dtype=np.float64)
        opened = market.open[symbol].to_numpy(dtype=np.float64)
        prints = _symbol_prints(symbol, dates, close, opened)
        found += sorted(prints, key=lambda p: p.date)
    return found


def warn_bad_prints(prints: Sequence[BadPrint], stacklevel: int = 2) -> None:
    """Warn (`DataWarning`) once per symbol with its first bad print and the count of others.

    `stacklevel` counts from the caller, as for `warnings.warn`: 2 names the caller's
    caller as the place of the warning.
    """
    by_symbol: dict[str, list[BadPrint]] = {}
    for found in prints:
        by_symbol.setdefault(found.symbol, []).append(found)
    for symbol_prints in by_symbol.values():
        more = len(symbol_prints) - 1
        tail = f" ({more} more; `eastwind data show` lists them)" if more else ""
        warnings.warn(symbol_prints[0].message + tail, DataWarning, stacklevel=stacklevel + 1)


def series_ends(market: Market) -> list[SeriesEnd]:
    """Return the series that end before the market's last bar while their exchange trades.

    ``missing`` counts the sessions of the symbol's exchange after its last price, up to
    and including the market's last bar; for an exchange exchange-calendars does not
    know (or dates outside 2000-2035), the market's own bars after it. A series whose
    exchange has no session after its last price is not listed.
    """
    if market.close.empty:
        return []
    end = market.index[-1]
    priced = market.close.notna().to_numpy()
    last_at = len(priced) - 1 - np.argmax(priced[::-1], axis=0)  # per column
    found = []
    for column, symbol in enumerate(market.symbols):
        if not priced[:, column].any() or last_at[column] == len(priced) - 1:
            continue
        last = market.index[last_at[column]]
        after = last + pd.Timedelta(days=1)
        sessions = calendars.known_sessions(market.exchange.get(symbol, ""), after, end)
        missing = len(sessions) if sessions is not None else int((market.index > last).sum())
        if missing:
            found.append(SeriesEnd(symbol, last, missing))
    return found


def on_series_end(market: Market, policy: str) -> Market:
    """Report the series of `market` that end before its last bar while their exchange
    trades, and act on ``data.on_series_end``: the market marked to close them
    (``close``), as is (``hold``), or an error.

    Raises
    ------
    DataError
        With ``error``, naming the first such series.
    """
    ends = series_ends(market)
    if not ends:
        return market
    if policy == "error":
        e = ends[0]
        raise DataError(
            f"{e.symbol}: prices end on {e.last.date()}, {e.missing} sessions of its exchange "
            "before the last bar, and data.on_series_end is error; extend its data, drop "
            "the symbol, or set data.on_series_end to close or hold"
        )
    fate = "closed at its last price" if policy == "close" else "held at its last price"
    for e in ends:
        warnings.warn(
            f"{e.symbol}: prices end on {e.last.date()} with {e.missing} sessions of its "
            f"exchange to go; a position is {fate} (data.on_series_end: {policy})",
            DataWarning,
            stacklevel=3,
        )
    if policy == "hold":
        return market
    return replace(market, closing={e.symbol: e.last for e in ends})
