"""Performance metrics on a value curve, as plain functions of arrays.

Conventions (the ones empyrical and quantstats use for the same names):
returns are simple per-bar returns, the first measured from the initial cash;
annualisation uses the data's own bar frequency, estimated as bars per year over the
calendar span (about 252 for one exchange's trading days, more for a union calendar);
volatility uses the sample standard deviation (ddof=1); the drawdown is measured from
the running peak of the value curve, with the initial cash as the first peak.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

_DAYS_PER_YEAR = 365.25


def periods_per_year(index: pd.DatetimeIndex) -> float:
    """Return the number of bars per year implied by `index` (252 if it spans one day)."""
    if len(index) < 2:
        return 252.0
    span_years = (index[-1] - index[0]) / pd.Timedelta(days=_DAYS_PER_YEAR)
    return (len(index) - 1) / span_years if span_years > 0 else 252.0


def returns_from_value(value: npt.ArrayLike, init_cash: float) -> npt.NDArray[np.float64]:
    """Return simple per-bar returns; the first is measured from `init_cash`."""
    v = np.asarray(value, dtype=np.float64)
    return v / np.concatenate(([init_cash], v[:-1])) - 1.0


def total_return(value: npt.ArrayLike, init_cash: float) -> float:
    """Return the final value over the initial cash, minus one."""
    return float(np.asarray(value, dtype=np.float64)[-1] / init_cash - 1.0)


def cagr(value: npt.ArrayLike, init_cash: float, ppy: float) -> float:
    """Return the compound annual growth rate over ``len(value) / ppy`` years."""
    v = np.asarray(value, dtype=np.float64)
    growth = v[-1] / init_cash
    if growth <= 0.0:
        return -1.0
    return float(growth ** (ppy / len(v)) - 1.0)


def volatility(returns: npt.ArrayLike, ppy: float) -> float:
    """Return the annualised sample standard deviation of `returns`."""
    r = np.asarray(returns, dtype=np.float64)
    return float(np.std(r, ddof=1) * np.sqrt(ppy)) if len(r) > 1 else float("nan")


def sharpe(returns: npt.ArrayLike, ppy: float, risk_free: float = 0.0) -> float:
    """Return the annualised Sharpe ratio of `returns` over an annual `risk_free` rate."""
    r = np.asarray(returns, dtype=np.float64) - risk_free / ppy
    if len(r) < 2:
        return float("nan")
    std = np.std(r, ddof=1)
    return float(np.mean(r) / std * np.sqrt(ppy)) if std > 0.0 else float("nan")


def max_drawdown(value: npt.ArrayLike, init_cash: float) -> float:
    """Return the deepest fall from a running peak, as a negative fraction (0 if none)."""
    v = np.concatenate(([init_cash], np.asarray(value, dtype=np.float64)))
    return float(np.min(v / np.maximum.accumulate(v) - 1.0))


def summary_metrics(value: pd.Series, init_cash: float) -> dict[str, float]:
    """Return total return, CAGR, volatility, Sharpe and max drawdown of a value curve."""
    ppy = periods_per_year(value.index)  # type: ignore[arg-type]
    rets = returns_from_value(value.to_numpy(), init_cash)
    return {
        "total_return": total_return(value, init_cash),
        "cagr": cagr(value, init_cash, ppy),
        "volatility": volatility(rets, ppy),
        "sharpe": sharpe(rets, ppy),
        "max_drawdown": max_drawdown(value, init_cash),
    }
