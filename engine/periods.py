"""Annualisation: bars per year of a date index, and per-bar rates. No numba, no pandas I/O.

Strategies (to annualise a statistic), the metrics and the reports share these, and a
strategy module must import without importing the kernel.
"""

from __future__ import annotations

import re

import pandas as pd

DAYS_PER_YEAR = 365.25


def periods_per_year(index: pd.DatetimeIndex) -> float:
    """Return the number of bars per year implied by `index` (252 if it spans one day).

    ``(T - 1) / years spanned``: about 252 for one exchange's trading days, more on the
    union of two exchanges' calendars (about 259 for Hong Kong and New York).
    """
    if len(index) < 2:
        return 252.0
    span_years = (index[-1] - index[0]) / pd.Timedelta(days=DAYS_PER_YEAR)
    return (len(index) - 1) / span_years if span_years > 0 else 252.0


def rf_per_bar(risk_free: float, ppy: float) -> float:
    """Return the per-bar rate that compounds to the annual rate `risk_free`."""
    return float((1.0 + risk_free) ** (1.0 / ppy) - 1.0)


_SPAN = re.compile(r"(\d+)\s*([DWMY])", re.IGNORECASE)
_UNITS = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}


def calendar_span(text: str) -> pd.DateOffset | None:
    """``400D``, ``52W``, ``18M`` or ``2Y`` as a calendar offset; None for other text.

    The one reading of a span such as ``data.warmup``: the config checks it, the data
    layer applies it.
    """
    match = _SPAN.fullmatch(text.strip())
    if match is None:
        return None
    return pd.DateOffset(**{_UNITS[match.group(2).upper()]: int(match.group(1))})
