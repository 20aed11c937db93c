"""Bring a per-symbol parquet cache up to a wanted date range: the rules every
downloading source shares (yahoo prices, akshare holdings and indices).

- A symbol whose cache covers the range is read with no network.
- A top-up downloads the missing dates together with `overlap` cached rows next to
  them and compares one column on the rows both hold; a value that moved by more than
  `tolerance` (relative) means the provider restated the past (Yahoo re-adjusts for
  each dividend, Eastmoney revises a holding), so the whole range is downloaded again
  and replaces the file instead of joining two versions at the seam.
- Offline, or when a download fails, a symbol keeps what its cache has and says why
  (`Coverage.cause`); `covered_until` decides whether that is an error.
- A corrupt cache file is downloaded again when online; offline it is an error naming
  the file.

The download itself is a function passed in, ``download(symbol, start, end) -> (frame
or None, cause)``: the only place a source touches the network.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from engine.data.yahoo_cache import Range, YahooCache
from engine.errors import DataError, DataWarning

Download = Callable[[str, pd.Timestamp, pd.Timestamp], tuple[pd.DataFrame | None, str]]
Missing = Callable[[str, YahooCache, str], str]


@dataclass(frozen=True)
class Coverage:
    """What the cache holds for one symbol after a top-up: its rows, the range it
    vouches for, the range the request needs (ending no later than the last completed
    session) and, when it covers less, why it could not be topped up (``"offline"``,
    ``"no network: ..."``, ...)."""

    symbol: str
    frame: pd.DataFrame
    covered: Range
    wanted: Range
    cause: str | None = None

    @property
    def short(self) -> bool:
        """True when the cache covers less than `wanted`, at either end."""
        return self.covered[0] > self.wanted[0] or self.covered[1] < self.wanted[1]


def why_missing(cause: str, otherwise: str) -> tuple[str, str]:
    """How a download that a cache needed failed, and what fixes it, in the words every
    downloading source's message uses: offline, no network, or `cause` itself (then the
    source's own fix, `otherwise`)."""
    if cause == "offline":
        return "(offline)", "run `eastwind data fetch CONFIG` with network"
    if cause.startswith("no network: "):
        how = f"and no network to download it ({cause.removeprefix('no network: ')})"
        return how, "connect and run `eastwind data fetch CONFIG`"
    return f"and {cause}", otherwise


def seam_moved(cached: pd.DataFrame, got: pd.DataFrame, column: str, tolerance: float) -> bool:
    """Whether `column` of `got` moved by more than `tolerance` on the dates it shares
    with `cached` (True when they share no value: the seam cannot be vouched for)."""
    common = cached.index.intersection(got.index)
    old, new = cached[column].reindex(common), got[column].reindex(common)
    both = old.notna() & new.notna()
    if not both.any():
        return True
    scale = old[both].abs().where(old[both] != 0, 1.0)
    return bool(((new[both] - old[both]).abs() / scale > tolerance).any())


@dataclass(frozen=True)
class TopUp:
    """How one source tops up its cache: its download, the column compared at a seam,
    the tolerance, the cached rows downloaded again, and its missing-symbol message."""

    download: Download
    column: str
    tolerance: float
    overlap: int
    missing: Missing

    def update(
        self,
        symbol: str,
        wanted: Range,
        cache: YahooCache,
        offline: bool,
        today: pd.Timestamp,
    ) -> Coverage:
        """Bring the cache of `symbol` up to `wanted` as far as it can; say how far.

        Raises
        ------
        DataError
            For a symbol neither the cache nor the download has; offline, for a
            corrupt cache file.
        """
        cached, problem = cache.inspect(symbol)
        if cached is None:
            if problem and offline:
                raise DataError(cache.corrupt(symbol, problem))
            got, cause = (None, "offline") if offline else self.download(symbol, *wanted)
            if got is None:
                if problem:
                    raise DataError(cache.corrupt(symbol, problem, cause))
                raise DataError(self.missing(symbol, cache, cause))
            cache.write(symbol, got, *wanted, fetched=today)
            return Coverage(symbol, got, wanted, wanted)
        frame, covered = cached
        if not Coverage(symbol, frame, covered, wanted).short:
            return Coverage(symbol, frame, covered, wanted)
        if offline:
            return Coverage(symbol, frame, covered, wanted, "offline")
        overlap = min(self.overlap, len(frame))
        pieces = []
        if wanted[0] < covered[0]:
            pieces.append((wanted[0], frame.index[overlap - 1]))
        if wanted[1] > covered[1]:
            pieces.append((frame.index[-overlap], wanted[1]))
        for start, end in pieces:
            got, cause = self.download(symbol, start, end)
            if got is not None and seam_moved(frame, got, self.column, self.tolerance):
                # the provider restated the past since the cache was written: all of it again
                whole = (min(wanted[0], covered[0]), max(wanted[1], covered[1]))
                got, cause = self.download(symbol, *whole)
                if got is not None:
                    cache.write(symbol, got, *whole, fetched=today)
                    return Coverage(symbol, got, whole, wanted)
            if got is None:
                return Coverage(symbol, frame, covered, wanted, cause)
            merged = pd.concat([frame, got]).sort_index(kind="stable")
            frame = merged[~merged.index.duplicated(keep="first")]  # the cached rows stay
            covered = (min(covered[0], start), max(covered[1], end))
            cache.write(symbol, frame, *covered, fetched=today)
        return Coverage(symbol, frame, covered, wanted)


def covered_until(
    found: Iterable[Coverage], cache: YahooCache, allow_partial: bool = False
) -> pd.Timestamp | None:
    """Return the date every symbol's data must end on: None when each is covered.

    With `allow_partial`, a symbol covered to an earlier date ends all of them there
    (a `DataWarning` says so): a run never holds a price frozen past its cache. A
    cache short at its head is left to the warm-up check.

    Raises
    ------
    DataError
        Without `allow_partial`, when a cache covers less than wanted: one line naming
        the first such symbol, its dates and why, and how many more are short.
    """
    short = [f for f in found if f.short]
    if not short:
        return None
    first = short[0]
    if not allow_partial:
        rest = [f.symbol for f in short[1:]]
        more = f"; {len(rest)} more symbols are short: {', '.join(rest)}" if rest else ""
        if len(rest) == 1:
            more = f"; 1 more symbol is short: {rest[0]}"
        (have_start, have_end), (want_start, want_end) = first.covered, first.wanted
        raise DataError(
            f"{first.symbol}: the cache {cache.path(first.symbol)} covers "
            f"{have_start.date()}..{have_end.date()}, not the "
            f"{want_start.date()}..{want_end.date()} the run needs ({first.cause}){more}; "
            "run `eastwind data fetch CONFIG` with network, or set data.allow_partial: "
            "true to end the run where every symbol is covered"
        )
    ends = [f for f in short if f.covered[1] < f.wanted[1]]
    if not ends:
        return None
    first = min(ends, key=lambda f: f.covered[1])
    until = first.covered[1]
    warnings.warn(
        f"{first.symbol}: the cache covers to {until.date()}, not {first.wanted[1].date()} "
        f"({first.cause}); data.allow_partial: the run's data ends on {until.date()} "
        f"({len(ends)} symbol(s) short)",
        DataWarning,
        stacklevel=2,
    )
    return until
