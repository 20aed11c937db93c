"""Performance, risk, benchmark-relative and trading metrics, as functions of arrays.

One definition per metric. The kernel (``engine/kernel/sim_nb.py``) computes the
metrics of ``METRIC_NAMES`` for every simulated portfolio, so a sweep row and a single
run of the same settings are the same numbers bit for bit; the functions here that
share a name with a kernel metric (`total_return`, `cagr`, `volatility`, `sharpe`,
`sortino`, `max_drawdown`, `simulation_metrics`) call the kernel's. This module adds only
what the kernel does not compute: drawdown episodes, calendar months, the distribution
of returns, and metrics against a benchmark. Functions of returns or values take a
``(T,)`` array or a ``(T, K)`` array of K curves and reduce along axis 0.

Definitions follow empyrical with ``annualization`` set to the data's own bars per year
(and quantstats where empyrical has no such metric); the test suite cross-checks each
one against those libraries on random and real series. Where eastwind differs on
purpose, the item says so:

- Returns are simple per-bar returns, the first measured from the initial cash.
- Annualisation uses the data's own bar frequency, ``ppy`` = bars per year over the
  calendar span (`engine.periods.periods_per_year`): about 252 for one exchange's
  trading days, about 259 on the union of the Hong Kong and New York calendars, where
  a bar is a day either market traded. empyrical's default for daily data is a fixed
  252; passing it ``annualization=ppy`` gives eastwind's numbers.
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
- Information ratio: mean active return over its sample std, times ``sqrt(ppy)``: the
  annualised ratio of active return to tracking error, as it is quoted to investors.
  Differs on purpose from empyrical's ``excess_sharpe`` and quantstats'
  ``information_ratio``, the same ratio per bar (without the ``sqrt(ppy)``).
- Up/down capture: the strategy's CAGR over the benchmark's, both on the bars where the
  benchmark rose (fell): empyrical's ``up_capture``/``down_capture`` with
  ``annualization=ppy`` (its default 252 gives 2.86 where ppy = 259 gives 2.94 on the
  flagship's union calendar).
- Turnover: traded value over the value before trading, summed and scaled to one year;
  buying a full book and later selling it counts 2.
- A bankrupt portfolio (its value fell to zero or below; the simulation closed its
  positions and its curve is flat after) keeps its total return, CAGR (-100%) and
  drawdown, but the ratios of `BANKRUPT_UNDEFINED` are NaN: no return-to-risk ratio
  describes money that is gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.kernel import sim_nb as nb
from engine.kernel.metrics_nb import drawdown_episodes_nb
from engine.periods import periods_per_year, rf_per_bar

if TYPE_CHECKING:
    from engine.results import SimulationResult

Array = npt.NDArray[np.float64]
VAR_CUTOFF = 0.05
VALUE_METRICS = nb.METRIC_NAMES[: nb.M_CALMAR + 1]  # the kernel's metrics of a value curve
# Ratios of return to risk, or of return to the benchmark's: undefined (NaN) for a
# portfolio whose value fell to zero or below. The kernel leaves its own three NaN.
BANKRUPT_UNDEFINED = (
    "sharpe",
    "sortino",
    "calmar",
    "information_ratio",
    "up_capture",
    "down_capture",
)


def _arr(x: npt.ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def _kernel_array(x: npt.ArrayLike) -> Array:
    """`x` as a C-ordered, writable float64 array, the one layout the kernels are given.

    numba compiles a kernel once per argument type, and a read-only array (pandas hands
    out read-only views) is another type than a writable one: one layout, one compile.
    """
    return np.require(x, dtype=np.float64, requirements=["C", "W"])


def _scalar(x: Array | float) -> float | Array:
    return float(x) if np.ndim(x) == 0 else x


def _rf_bars(risk_free: float | npt.ArrayLike, ppy: float, n: int) -> Array:
    """Per-bar risk-free returns: an annual scalar converted, or an array taken as is."""
    if np.ndim(risk_free) == 0:
        return np.full(n, rf_per_bar(float(risk_free), ppy), dtype=np.float64)
    return _kernel_array(risk_free)


def returns_from_value(value: npt.ArrayLike, init_cash: float) -> Array:
    """Return simple per-bar returns; the first is measured from `init_cash`.

    A bar whose value did not change returns 0, also at a value of 0 (a bankrupt book).
    """
    v = _arr(value)
    previous = np.empty_like(v)
    previous[0] = init_cash
    previous[1:] = v[:-1]
    changed = v != previous
    out = np.zeros_like(v)
    np.divide(v, previous, out=out, where=changed)
    out[changed] -= 1.0
    return out


# --- the kernel's metrics -------------------------------------------------------------


def _value_columns(
    value: npt.ArrayLike, init_cash: float, ppy: float, rf_bar: Array | None = None
) -> Array:
    """Kernel value metrics ``[K, M]`` of each column of `value` (a 1-D curve is K = 1)."""
    v = _arr(value)
    columns = v.reshape(len(v), -1)
    rf = np.zeros(len(v)) if rf_bar is None else rf_bar
    out = np.full((columns.shape[1], nb.N_METRICS), np.nan)
    for k in range(columns.shape[1]):
        nb.value_metrics_nb(_kernel_array(columns[:, k]), float(init_cash), float(ppy), rf, out[k])
    return out


def _pick(table: Array, metric: int, one_d: bool) -> float | Array:
    return float(table[0, metric]) if one_d else table[:, metric]


def value_metrics(
    value: npt.ArrayLike, init_cash: float, ppy: float, rf_bar: npt.ArrayLike | None = None
) -> dict[str, float]:
    """Return the kernel's metrics of one value curve (`VALUE_METRICS`).

    `rf_bar` is the risk-free return of each bar (None: zero).
    """
    rf = None if rf_bar is None else _rf_bars(rf_bar, ppy, len(_arr(value)))
    row = _value_columns(value, init_cash, ppy, rf)[0]
    return {name: float(row[i]) for i, name in enumerate(VALUE_METRICS)}


def total_return(value: npt.ArrayLike, init_cash: float) -> float | Array:
    """Return the final value over the initial cash, minus one."""
    return _pick(_value_columns(value, init_cash, 252.0), nb.M_TOTAL_RETURN, _arr(value).ndim == 1)


def cagr(value: npt.ArrayLike, init_cash: float, ppy: float) -> float | Array:
    """Return the compound annual growth rate over ``len(value) / ppy`` years (-1 if wiped out)."""
    return _pick(_value_columns(value, init_cash, ppy), nb.M_CAGR, _arr(value).ndim == 1)


def max_drawdown(value: npt.ArrayLike, init_cash: float) -> float | Array:
    """Return the deepest fall from a running peak, as a negative fraction (0 if none)."""
    return _pick(_value_columns(value, init_cash, 252.0), nb.M_MAX_DRAWDOWN, _arr(value).ndim == 1)


def _return_stats(
    returns: npt.ArrayLike, ppy: float, risk_free: float, which: int
) -> float | Array:
    r = _arr(returns)
    columns = r.reshape(len(r), -1)
    rf = _rf_bars(risk_free, ppy, len(r))
    stats = [nb.return_stats_nb(_kernel_array(c), rf, float(ppy))[which] for c in columns.T]
    return float(stats[0]) if r.ndim == 1 else np.asarray(stats)


def volatility(returns: npt.ArrayLike, ppy: float) -> float | Array:
    """Return the annualised sample standard deviation of `returns`."""
    return _return_stats(returns, ppy, 0.0, 0)


def sharpe(returns: npt.ArrayLike, ppy: float, risk_free: float = 0.0) -> float | Array:
    """Return the annualised Sharpe ratio of `returns` over an annual `risk_free` rate."""
    return _return_stats(returns, ppy, risk_free, 1)


def sortino(returns: npt.ArrayLike, ppy: float, risk_free: float = 0.0) -> float | Array:
    """Return the annualised Sortino ratio: mean excess return over downside deviation."""
    return _return_stats(returns, ppy, risk_free, 2)


def simulation_metrics(
    sim: SimulationResult, ppy: float, rf_bar: npt.ArrayLike
) -> dict[str, float]:
    """Return every kernel metric of a simulated portfolio (``sim_nb.METRIC_NAMES``).

    The same function a sweep runs on each of its portfolios, so the numbers are equal
    bit for bit to that portfolio's sweep row.
    """
    out = np.full(nb.N_METRICS, np.nan)
    nb.portfolio_metrics_nb(
        _kernel_array(sim.stats),
        float(sim.init_cash),
        float(len(sim.records)),
        float(ppy),
        _rf_bars(rf_bar, ppy, len(sim.index)),
        True,  # a result's unused columns are zeros (`run_portfolios`)
        out,
    )
    return {name: float(out[i]) for i, name in enumerate(nb.METRIC_NAMES)}


# --- what the kernel does not compute -------------------------------------------------


def drawdown(value: npt.ArrayLike, init_cash: float) -> Array:
    """Return the fall from the running peak at each bar (0 at a peak, negative below)."""
    v = _arr(value)
    peak = np.maximum(np.maximum.accumulate(v, axis=0), init_cash)
    return v / peak - 1.0


def drawdown_episodes(value: pd.Series, init_cash: float) -> pd.DataFrame:
    """Return one row per drawdown: first and last bar under water, valley, recovery, depth.

    ``days`` is ``last - first + 1`` calendar days; ``recovery`` is NaT and
    ``recovery_days`` NaN for a drawdown the curve has not recovered from.
    """
    first, valley, last, recovery, depth = drawdown_episodes_nb(
        _kernel_array(value.to_numpy()), float(init_cash)
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
    returns: npt.ArrayLike,
    bench: npt.ArrayLike,
    ppy: float,
    risk_free: float | npt.ArrayLike = 0.0,
) -> float:
    """Return Jensen's alpha, annualised by compounding the mean per-bar excess.

    `risk_free` is an annual rate, or an array of per-bar risk-free returns.
    """
    rf = _rf_bars(risk_free, ppy, len(_arr(returns)))
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
    bench_rate = cagr(np.cumprod(1.0 + b[mask]), 1.0, ppy)
    return float(cagr(np.cumprod(1.0 + r[mask]), 1.0, ppy) / bench_rate) if bench_rate else np.nan


# --- whole-curve summaries ------------------------------------------------------------


def extras(value: pd.Series, init_cash: float) -> dict[str, float]:
    """Return the metrics of a value curve that the kernel does not compute.

    Drawdown episodes (length, recovery), the distribution of returns, calendar months,
    and ``periods_per_year``.
    """
    index = pd.DatetimeIndex(value.index)
    r = returns_from_value(_arr(value.to_numpy()), init_cash)
    episodes = drawdown_episodes(value, init_cash)
    worst = episodes.loc[episodes["depth"].idxmin()] if len(episodes) else None
    months = period_returns(r, month_labels(index))
    return {
        "max_drawdown_days": float(worst["days"]) if worst is not None else 0.0,
        "max_drawdown_recovery_days": (float(worst["recovery_days"]) if worst is not None else 0.0),
        "longest_drawdown_days": float(episodes["days"].max()) if len(episodes) else 0.0,
        "skew": float(skew(r)),
        "kurtosis": float(kurtosis(r)),
        "var_95": float(value_at_risk(r)),
        "cvar_95": float(conditional_value_at_risk(r)),
        "best_day": float(r.max()),
        "worst_day": float(r.min()),
        "best_month": float(months.max()),
        "worst_month": float(months.min()),
        "hit_rate": float(hit_rate(r)),
        "periods_per_year": periods_per_year(index),
    }


def performance(
    value: pd.Series, init_cash: float, risk_free: float | npt.ArrayLike = 0.0
) -> dict[str, float]:
    """Return the absolute metrics of a value curve indexed by date.

    `risk_free` is an annual rate, or an array of per-bar risk-free returns.
    """
    ppy = periods_per_year(pd.DatetimeIndex(value.index))
    rf = _rf_bars(risk_free, ppy, len(value))
    return value_metrics(value.to_numpy(), init_cash, ppy, rf) | extras(value, init_cash)


def relative(
    returns: npt.ArrayLike,
    bench: npt.ArrayLike,
    ppy: float,
    risk_free: float | npt.ArrayLike = 0.0,
) -> dict[str, float]:
    """Return the metrics of `returns` against the benchmark's returns on the same bars.

    `risk_free` (for alpha) is an annual rate, or an array of per-bar risk-free returns.
    """
    return {
        "beta": beta(returns, bench),
        "alpha": alpha(returns, bench, ppy, risk_free),
        "correlation": correlation(returns, bench),
        "tracking_error": tracking_error(returns, bench, ppy),
        "information_ratio": information_ratio(returns, bench, ppy),
        "up_capture": capture(returns, bench, ppy, "up"),
        "down_capture": capture(returns, bench, ppy, "down"),
    }
