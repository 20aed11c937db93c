"""Warm-up history before ``data.start``: how far back to load, and whether each series has it.

A signal with a window (a 200-day average, a 250-day z-score) needs that much history
before its first decision. The pipeline asks the strategy how many bars it needs,
loads them before ``start`` and starts the simulation at ``start``. Bars are counted
in each asset's own exchange sessions (exchange-calendars; weekdays for an exchange it
does not know), so a Hong Kong stock gets its 200 Hong Kong sessions whatever the
other assets' calendars. ``data.warmup`` overrides the strategy with a number of bars
or a calendar span (``18M``).

A series that starts inside the warm-up was listed late: its signal starts when it can,
with a warning. A series cut short by the source (a file or cache that starts after the
history the strategy needs) cannot give a correct signal at ``start``: an error.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from engine.data import calendars
from engine.data.market import Market
from engine.errors import DataError, DataWarning
from engine.periods import calendar_span


@dataclass(frozen=True)
class Warmup:
    """History to load before ``start`` (`load`) and the part of it a run cannot do
    without (`required`): bars of each asset's sessions, or a calendar span."""

    load: int | pd.DateOffset
    required: int | pd.DateOffset

    @classmethod
    def of(cls, setting: int | str | None, history: int, lag: int) -> Warmup:
        """The warm-up for a ``data.warmup`` `setting` (None: the strategy's), a strategy
        that needs `history` bars up to its decision bar, and an execution `lag`.

        The strategy's signal is complete at ``start`` after ``history - 1`` earlier bars
        (required); `lag` more let the decision that fills at ``start`` be taken before it.
        """
        if setting is None:
            return cls(load=max(history - 1, 0) + lag, required=max(history - 1, 0))
        span: int | pd.DateOffset = setting if isinstance(setting, int) else parse_span(setting)
        return cls(load=span, required=span)

    @property
    def none(self) -> bool:
        """True when nothing is loaded before ``start``."""
        return isinstance(self.load, int) and self.load == 0


def parse_span(text: str) -> pd.DateOffset:
    """``400D``, ``52W``, ``18M`` or ``2Y`` as a calendar offset (`calendar_span`).

    Raises
    ------
    DataError
        For any other text.
    """
    span = calendar_span(text)
    if span is None:
        raise DataError(f"data.warmup {text!r}: give bars (250) or a span (400D, 52W, 18M, 2Y)")
    return span


def _sessions(mic: str) -> pd.DatetimeIndex | None:
    try:
        return calendars.all_sessions(mic) if mic else None
    except Exception:  # exchange-calendars' own error for a code it does not know
        return None


def history_start(start: pd.Timestamp, span: int | pd.DateOffset, exchange: str) -> pd.Timestamp:
    """The first day of `span` before `start`: that many sessions of `exchange` before its
    first session on or after `start`, or the first session of the calendar span."""
    every = _sessions(exchange)
    if not isinstance(span, int):  # the first session on or after the span's first day
        day = start - span
        at = every.searchsorted(day) if every is not None else 0
        if every is None or at >= len(every):
            return pd.offsets.BDay().rollforward(day)
        return every[at]
    if span == 0:
        return start
    first = every.searchsorted(start) if every is not None else 0
    if every is None or first - span < 0:  # unknown exchange or before 2000: weekdays
        return start - pd.offsets.BDay(span)
    return every[first - span]


def load_start(start: pd.Timestamp, warmup: Warmup, exchanges: Iterable[str]) -> pd.Timestamp:
    """The earliest date to load so that every exchange gets its warm-up."""
    return min((history_start(start, warmup.load, mic) for mic in set(exchanges)), default=start)


def _sessions_between(exchange: str, first: pd.Timestamp, start: pd.Timestamp) -> int:
    every = _sessions(exchange)
    if every is None:
        return len(pd.bdate_range(first, start - pd.Timedelta(days=1)))
    return int(every.searchsorted(start) - every.searchsorted(first))


def check_history(
    market: Market,
    start: pd.Timestamp,
    warmup: Warmup,
    covered_from: Mapping[str, pd.Timestamp] | None = None,
) -> None:
    """Warn about series listed too late for their warm-up; fail on series cut short.

    `covered_from` gives, per symbol, the first date its source covers (a yahoo cache's
    range); a symbol without one is covered from the earliest first price of any symbol
    (a folder of files covers what its longest file covers).

    Raises
    ------
    DataError
        When a symbol's source starts after the history the strategy cannot do without.

    Warns
    -----
    DataWarning
        For each symbol first priced after its warm-up begins (a late listing).
    """
    if warmup.none:
        return
    firsts = {s: market.close[s].first_valid_index() for s in market.symbols}
    earliest = min((d for d in firsts.values() if d is not None), default=start)
    for symbol, first in firsts.items():
        if first is None:
            continue
        mic = market.exchange.get(symbol, "")
        if first <= history_start(start, warmup.load, mic) or warmup.required == 0:
            continue  # all of it, or all it needs (a listing in the window needs nothing)
        needed = history_start(start, warmup.required, mic)
        covered = (covered_from or {}).get(symbol, earliest)
        span = warmup.required if isinstance(warmup.required, int) else None
        need = (
            f"{span} sessions of history"
            if span is not None
            else f"history back to {needed.date()}"
        )
        if first > needed and covered > needed:
            raise DataError(
                f"{symbol}: the data starts on {first.date()}, but the strategy needs {need} "
                f"before data.start {start.date()}; give history from {needed.date()}, move "
                "data.start later, or set data.warmup (0 starts the signals cold)"
            )
        if first > needed:
            if first >= start:
                when = f"first price on {first.date()}, after data.start {start.date()}"
            else:
                had = _sessions_between(mic, first, start)
                when = f"first price on {first.date()}, {had} sessions before data.start"
            warnings.warn(
                f"{symbol}: listed late: {when}; its signal starts once it has the "
                f"{need} the strategy needs",
                DataWarning,
                stacklevel=2,
            )
