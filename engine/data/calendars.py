"""Exchange sessions from exchange-calendars, cached on disk.

Building a calendar computes its holidays from rules, which takes about half a second
per exchange; the sessions of 2000-2035 are therefore computed once per installed
exchange-calendars version and kept as a small ``.npy`` file in the user's cache folder
(``$EASTWIND_CACHE`` or ``~/.cache/eastwind``). A missing or unwritable cache only costs
the recomputation.

`known_sessions` and `is_session` answer for any exchange code: one exchange-calendars
does not know (or none), and dates outside 2000-2035, have no known sessions, and
every date there counts as a session.
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

SPAN_START = pd.Timestamp("2000-01-03")
SPAN_END = pd.Timestamp("2035-12-31")


def cache_root() -> Path:
    """Return eastwind's cache folder."""
    root = os.environ.get("EASTWIND_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(root) / "eastwind" if root else Path.home() / ".cache" / "eastwind"


@lru_cache(maxsize=16)
def all_sessions(mic: str) -> pd.DatetimeIndex:
    """Return every session of exchange `mic` from 2000-01-03 to 2035-12-31.

    Raises
    ------
    exchange_calendars.errors.InvalidCalendarName
        For an exchange code exchange-calendars does not know.
    """
    path = cache_root() / "calendars" / f"{mic}-{_calendars_version()}.npy"
    try:
        return pd.DatetimeIndex(np.load(path).astype("datetime64[ns]"))
    except (OSError, ValueError):
        pass
    import exchange_calendars as xcals  # only on a cache miss: the import takes ~0.15 s

    calendar = xcals.get_calendar(mic, start=SPAN_START, end=SPAN_END)
    sessions = pd.DatetimeIndex(calendar.sessions).tz_localize(None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy")
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, sessions.to_numpy(dtype="datetime64[D]"))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: recompute next time
    return sessions


def _calendars_version() -> str:
    """The installed exchange-calendars version, read without importing the package."""
    try:
        return metadata.version("exchange-calendars")
    except metadata.PackageNotFoundError:  # a source checkout on sys.path
        import exchange_calendars as xcals

        return str(xcals.__version__)


def sessions(mic: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Return the sessions of `mic` in [start, end] (within 2000-2035)."""
    every = all_sessions(mic)
    return every[(every >= start) & (every <= end)]


def known_sessions(mic: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex | None:
    """Return the sessions of `mic` in [start, end], or None where they are unknown.

    Unknown: an empty or unknown exchange code, or a range that leaves 2000-2035.
    Callers fall back to the market's own dates then.
    """
    every = _every_session(mic)
    if every is None or start < SPAN_START or end > SPAN_END:
        return None
    return every[(every >= start) & (every <= end)]


def is_session(mic: str, dates: pd.DatetimeIndex) -> npt.NDArray[np.bool_]:
    """Return, per date, whether it is a session of `mic`.

    A date whose status cannot be known (an empty or unknown exchange code, a date
    outside 2000-2035) counts as a session, so that no row is dropped on a guess.
    """
    every = _every_session(mic)
    if every is None:
        return np.ones(len(dates), dtype=np.bool_)
    outside = (dates < SPAN_START) | (dates > SPAN_END)
    return np.asarray(dates.isin(every) | outside, dtype=np.bool_)


def _every_session(mic: str) -> pd.DatetimeIndex | None:
    if not mic:
        return None
    try:
        return all_sessions(mic)
    except Exception as exc:
        import exchange_calendars as xcals  # imported already: only a cache miss raises

        if isinstance(exc, xcals.errors.InvalidCalendarName):
            return None
        raise
