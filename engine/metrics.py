"""Performance, risk, benchmark-relative and trading metrics, as functions of arrays.

Every function of returns takes a ``(T,)`` array or a ``(T, K)`` array of K curves and
reduces along axis 0, so a sweep can reuse them on a whole batch at once.

Definitions follow empyrical (and quantstats where empyrical has no such metric); the
test suite cross-checks each one against those libraries on random and real series:

- Returns are simple per-bar returns, the first measured from the initial cash.
- Annualisation uses the data's own bar frequency, ``ppy`` = bars per year over the
  calendar span (about 252 for one exchange's trading days, more on a union calendar).
- An annual risk-free rate ``rf`` becomes ``(1 + rf) ** (1 / ppy) - 1`` per bar.
- Volatility, tracking error: sample standard deviation (ddof=1) times ``sqrt(ppy)``.
- Sharpe: mean excess return over its sample std, times ``sqrt(ppy)``. Sortino: mean
  excess return times ``ppy`` over the downside deviation ``sqrt(mean(min(r - rf, 0)²))``
  times ``sqrt(ppy)`` (all bars in the mean, as empyrical and quantstats do).
- CAGR: growth ``** (ppy / T) - 1`` (T bars = T / ppy years); Calmar: CAGR / |max DD|.
- Drawdown: from the running peak of the value curve, the initial cash being the first
  peak. A drawdown episode runs from the first bar under water to the last one;
  its length in days is ``last - first + 1`` calendar days (quantstats' ``days``), its
  recovery is trough to the first bar back at the peak, in calendar days.
- Skew and kurtosis: bias-corrected sample skewness and excess kurtosis (pandas').
- VaR and CVaR 95%: historical, per bar: the 5th percentile of returns (linear
  interpolation) and the mean of the worst ``int((T - 1) * 0.05) + 1`` returns; a loss
  is negative. (quantstats' ``value_at_risk`` is the parametric normal one instead.)
- Best/worst month: returns compounded within calendar months.
- Hit rate: bars with a positive return over bars with a non-zero return.
- Beta: cov(r, b) / var(b). Alpha: ``(1 + mean(r - rf - beta (b - rf))) ** ppy - 1``.
- Information ratio: mean active return over its sample std, times ``sqrt(ppy)``
  (quantstats' ``information_ratio`` is the same ratio without the ``sqrt(ppy)``).
- Up/down capture: the strategy's CAGR over the benchmark's, both on the bars where the
  benchmark rose (fell).
- Turnover: traded value over the value before trading, summed and scaled to one year;
  buying a full book and later selling it counts 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.kernel.metrics_nb import drawdown_episodes_nb
from engine.periods import periods_per_year, rf_per_bar

if TYPE_CHECKING:
    from engine.results import SimulationResult

Array = npt.NDArray[np.float64]
VAR_CUTOFF = 0.05


def _arr(x: npt.ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def _scalar(x: Array | float) -> float | Array:
    return float(x) if np.ndim(x) == 0 else x


def returns_from_value(value: npt.ArrayLike, init_cash: float) -> Array:
    """Return simple per-bar returns; the first is measured from `init_cash`."""
    v = _arr(value)
    previous = np.empty_like(v)
    previous[0] = init_cash
    previous[1:] = v[:-1]
    return v / previous - 1.0


# --- absolute performance -------------------------------------------------------------


def total_return(value: npt.ArrayLike, init_cash: float) -> float | Array:
    """Return the final value over the initial cash, minus one."""
    return _scalar(_arr(value)[-1] / init_cash - 1.0)


def cagr(value: npt.ArrayLike, init_cash: float, ppy: float) -> float | Array:
    """Return the compound annual growth rate over ``len(value) / ppy`` years (-1 if wiped out)."""
    v = _arr(value)
    growth = np.maximum(v[-1] / init_cash, 0.0)
    return _scalar(growth ** (ppy / len(v)) - 1.0)


def _growth_rate(returns: Array, ppy: float) -> float | Array:
    growth = np.maximum(np.prod(1.0 + returns, axis=0), 0.0)
    return _scalar(growth ** (ppy / len(returns)) - 1.0) if len(returns) else np.nan


def volatility(returns: npt.ArrayLike, ppy: float) -> float | Array:
    """Return the annualised sample standard deviation of `returns`."""
    r = _arr(returns)
    if len(r) < 2:
        return np.nan
    return _scalar(np.std(r, axis=0, ddof=1) * np.sqrt(ppy))


def _ratio(numerator: Array, denominator: Array) -> float | Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        return _scalar(np.where(denominator > 0.0, numerator / denominator, np.nan))


def sharpe(returns: npt.ArrayLike, ppy: float, risk_free: float = 0.0) -> float | Array:
    """Return the annualised Sharpe ratio of `returns` over an annual `risk_free` rate."""
    r = _arr(returns) - rf_per_bar(risk_free, ppy)
    if len(r) < 2:
        return np.nan
    return _ratio(np.mean(r, axis=0) * np.sqrt(ppy), np.std(r, axis=0, ddof=1))


def sortino(returns: npt.ArrayLike, ppy: float, risk_free: float = 0.0) -> float | Array:
    """Return the annualised Sortino ratio: mean excess return over downside deviation."""
    r = _arr(returns) - rf_per_bar(risk_free, ppy)
    if len(r) < 2:
        return np.nan
    downside = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2, axis=0))
    return _ratio(np.mean(r, axis=0) * np.sqrt(ppy), downside)


def drawdown(value: npt.ArrayLike, init_cash: float) -> Array:
    """Return the fall from the running peak at each bar (0 at a peak, negative below)."""
    v = _arr(value)
    peak = np.maximum(np.maximum.accumulate(v, axis=0), init_cash)
    return v / peak - 1.0


def max_drawdown(value: npt.ArrayLike, init_cash: float) -> float | Array:
    """Return the deepest fall from a running peak, as a negative fraction (0 if none)."""
    return _scalar(np.minimum(np.min(drawdown(value, init_cash), axis=0), 0.0))


def drawdown_episodes(value: pd.Series, init_cash: float) -> pd.DataFrame:
    """Return one row per drawdown: first and last bar under water, valley, recovery, depth.

    ``days`` is ``last - first + 1`` calendar days; ``recovery`` is NaT and
    ``recovery_days`` NaN for a drawdown the curve has not recovered from.
    """
    first, valley, last, recovery, depth = drawdown_episodes_nb(
        _arr(value.to_numpy()), float(init_cash)
    )
    index = pd.DatetimeIndex(value.index)
    recovered = recovery >= 0
    recovery_date = pd.DatetimeIndex(
        np.where(recovered, index[np.maximum(recovery, 0)].to_numpy(), np.datetime64("NaT"))
    )
    frame = pd.DataFrame(
        {
            "start": index[first],
            "valley": index[valley],
            "end": index[last],
            "recovery": recovery_date,
            "depth": depth,
        }
    )
    frame["days"] = (frame["end"] - frame["start"]).dt.days + 1
    frame["recovery_days"] = (frame["recovery"] - frame["valley"]).dt.days.astype(float)
    return frame


def calmar(cagr_value: float, max_dd: float) -> float:
    """Return CAGR over the absolute max drawdown (NaN without a drawdown)."""
    return cagr_value / -max_dd if max_dd < 0.0 else np.nan


def skew(returns: npt.ArrayLike) -> float | Array:
    """Return the bias-corrected sample skewness (G1), as pandas computes it."""
    r = _arr(returns)
    n = len(r)
    if n < 3:
        return np.nan
    d = r - np.mean(r, axis=0)
    m2, m3 = np.mean(d**2, axis=0), np.mean(d**3, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g1 = np.where(m2 > 0.0, m3 / m2**1.5, np.nan)
    return _scalar(g1 * np.sqrt(n * (n - 1.0)) / (n - 2.0))


def kurtosis(returns: npt.ArrayLike) -> float | Array:
    """Return the bias-corrected sample excess kurtosis (G2), as pandas computes it."""
    r = _arr(returns)
    n = len(r)
    if n < 4:
        return np.nan
    d = r - np.mean(r, axis=0)
    m2, m4 = np.mean(d**2, axis=0), np.mean(d**4, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g2 = np.where(m2 > 0.0, m4 / m2**2 - 3.0, np.nan)
    return _scalar(((n + 1.0) * g2 + 6.0) * (n - 1.0) / ((n - 2.0) * (n - 3.0)))


def value_at_risk(returns: npt.ArrayLike, cutoff: float = VAR_CUTOFF) -> float | Array:
    """Return the historical per-bar VaR: the `cutoff` quantile of returns."""
    return _scalar(np.percentile(_arr(returns), 100.0 * cutoff, axis=0))


def conditional_value_at_risk(returns: npt.ArrayLike, cutoff: float = VAR_CUTOFF) -> float | Array:
    """Return the historical CVaR: the mean of the worst ``int((T-1)*cutoff) + 1`` returns."""
    r = _arr(returns)
    k = int((len(r) - 1) * cutoff)
    return _scalar(np.mean(np.partition(r, k, axis=0)[: k + 1], axis=0))


def period_returns(returns: npt.ArrayLike, labels: npt.ArrayLike) -> Array:
    """Compound `returns` within runs of equal `labels` (e.g. year*12 + month)."""
    r, lab = _arr(returns), np.asarray(labels)
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    return np.multiply.reduceat(1.0 + r, starts, axis=0) - 1.0


def month_labels(index: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    """Return ``year * 12 + month - 1`` for each date: the label `period_returns` groups on."""
    return np.asarray(index.year * 12 + index.month - 1, dtype=np.int64)


def hit_rate(returns: npt.ArrayLike) -> float | Array:
    """Return the share of non-zero returns that are positive."""
    r = _arr(returns)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _scalar(np.sum(r > 0.0, axis=0) / np.sum(r != 0.0, axis=0))


# --- relative to a benchmark ----------------------------------------------------------


def beta(returns: npt.ArrayLike, bench: npt.ArrayLike) -> float:
    """Return cov(returns, bench) / var(bench)."""
    r, b = _arr(returns), _arr(bench)
    b_dev = b - b.mean()
    var = float(np.mean(b_dev**2))
    return float(np.mean(b_dev * (r - r.mean())) / var) if var > 0.0 else np.nan


def alpha(
    returns: npt.ArrayLike, bench: npt.ArrayLike, ppy: float, risk_free: float = 0.0
) -> float:
    """Return Jensen's alpha, annualised by compounding the mean per-bar excess."""
    rf = rf_per_bar(risk_free, ppy)
    r, b = _arr(returns) - rf, _arr(bench) - rf
    return float((1.0 + np.mean(r - beta(r, b) * b)) ** ppy - 1.0)


def correlation(returns: npt.ArrayLike, bench: npt.ArrayLike) -> float:
    """Return the Pearson correlation of the two return series."""
    r, b = _arr(returns), _arr(bench)
    if len(r) < 2 or np.std(r) == 0.0 or np.std(b) == 0.0:
        return np.nan
    return float(np.corrcoef(r, b)[0, 1])


def tracking_error(returns: npt.ArrayLike, bench: npt.ArrayLike, ppy: float) -> float:
    """Return the annualised sample std of active returns."""
    return float(volatility(_arr(returns) - _arr(bench), ppy))


def information_ratio(returns: npt.ArrayLike, bench: npt.ArrayLike, ppy: float) -> float:
    """Return the annualised mean active return over its std."""
    return float(sharpe(_arr(returns) - _arr(bench), ppy))


def capture(returns: npt.ArrayLike, bench: npt.ArrayLike, ppy: float, side: str) -> float:
    """Return up (``side="up"``) or down capture: CAGR ratio on the benchmark's up/down bars."""
    r, b = _arr(returns), _arr(bench)
    mask = b > 0.0 if side == "up" else b < 0.0
    if not mask.any():
        return np.nan
    bench_rate = _growth_rate(b[mask], ppy)
    return float(_growth_rate(r[mask], ppy) / bench_rate) if bench_rate != 0.0 else np.nan


# --- whole-curve summaries ------------------------------------------------------------


def performance(value: pd.Series, init_cash: float, risk_free: float = 0.0) -> dict[str, float]:
    """Return the absolute metrics of a value curve indexed by date."""
    index = pd.DatetimeIndex(value.index)
    ppy = periods_per_year(index)
    v = _arr(value.to_numpy())
    r = returns_from_value(v, init_cash)
    growth_rate = float(cagr(v, init_cash, ppy))
    max_dd = float(max_drawdown(v, init_cash))
    episodes = drawdown_episodes(value, init_cash)
    worst = episodes.loc[episodes["depth"].idxmin()] if len(episodes) else None
    months = period_returns(r, month_labels(index))
    return {
        "total_return": float(total_return(v, init_cash)),
        "cagr": growth_rate,
        "volatility": float(volatility(r, ppy)),
        "sharpe": float(sharpe(r, ppy, risk_free)),
        "sortino": float(sortino(r, ppy, risk_free)),
        "max_drawdown": max_dd,
        "max_drawdown_days": float(worst["days"]) if worst is not None else 0.0,
        "max_drawdown_recovery_days": (float(worst["recovery_days"]) if worst is not None else 0.0),
        "longest_drawdown_days": float(episodes["days"].max()) if len(episodes) else 0.0,
        "calmar": calmar(growth_rate, max_dd),
        "skew": float(skew(r)),
        "kurtosis": float(kurtosis(r)),
        "var_95": float(value_at_risk(r)),
        "cvar_95": float(conditional_value_at_risk(r)),
        "best_day": float(r.max()),
        "worst_day": float(r.min()),
        "best_month": float(months.max()),
        "worst_month": float(months.min()),
        "hit_rate": float(hit_rate(r)),
        "periods_per_year": ppy,
    }


def relative(
    returns: npt.ArrayLike, bench: npt.ArrayLike, ppy: float, risk_free: float = 0.0
) -> dict[str, float]:
    """Return the metrics of `returns` against the benchmark's returns on the same bars."""
    return {
        "beta": beta(returns, bench),
        "alpha": alpha(returns, bench, ppy, risk_free),
        "correlation": correlation(returns, bench),
        "tracking_error": tracking_error(returns, bench, ppy),
        "information_ratio": information_ratio(returns, bench, ppy),
        "up_capture": capture(returns, bench, ppy, "up"),
        "down_capture": capture(returns, bench, ppy, "down"),
    }


def trading(sim: SimulationResult) -> dict[str, float]:
    """Return turnover, exposures, trade count and costs paid (base currency) of a simulation."""
    ppy = periods_per_year(pd.DatetimeIndex(sim.index))
    costs = sim.costs.sum()
    return {
        "turnover": float(sim.turnover.sum() * ppy / len(sim.index)),
        "avg_gross_exposure": float(sim.gross_exposure.mean()),
        "avg_net_exposure": float(sim.net_exposure.mean()),
        "n_trades": float(len(sim.records)),
        "fees": float(costs["fees"]),
        "taxes": float(costs["taxes"]),
        "borrow": float(costs["borrow"]),
        "slippage": float(costs["slippage"]),
        "fx_costs": float(costs["fx_costs"]),
        "interest": float(costs["interest"]),
        "shortfall": float(sim.shortfall.sum()),
    }
