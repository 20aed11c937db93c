"""How sure the numbers are: bootstrap confidence intervals and the probabilistic Sharpe.

`bootstrap_metrics` resamples a run's daily returns with the stationary block bootstrap
of Politis & Romano (1994): each path is made of blocks that start at a uniformly drawn
bar and run on (wrapping around the end) for a geometric number of bars with mean
``block``, so that a few days of autocorrelation and volatility clustering survive the
resampling. The returns and the risk-free return of the same bar move together.
Each path gives Sharpe, CAGR, volatility and max drawdown, defined as the kernel
defines them (`engine.kernel.sim_nb.value_metrics_nb`); the 5th and 95th percentiles
over the paths bound a 90% interval (``sharpe_p05`` .. ``sharpe_p95``).

The draws follow ``arch.bootstrap.StationaryBootstrap`` exactly (per path: start bars
``integers(T)``, then uniforms ``random(T)``; a new block where the uniform is at most
1 / block), so with the same seed both give the same paths; the test suite holds the two
equal. arch itself is not imported here: it costs seconds of start-up for a few lines.

`probabilistic_sharpe` is the probabilistic Sharpe ratio of Bailey & López de Prado
(2012, "The Sharpe ratio efficient frontier"): the probability that the true Sharpe
exceeds a benchmark (0), from the observed per-bar Sharpe, the number of bars and the
skewness and kurtosis of the excess returns.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

PERCENTILES = (5.0, 95.0)
INTERVAL_METRICS = ("sharpe", "cagr", "volatility", "max_drawdown")
_CHUNK = 200  # paths resampled at once: memory is chunk x bars


def block_length(n_bars: int, setting: int | str = "auto") -> int:
    """The mean block length: `setting`, or ``ceil(n_bars ** (1/3))`` for ``auto``."""
    if setting == "auto":
        return max(1, math.ceil(n_bars ** (1.0 / 3.0) - 1e-9))
    return int(setting)


def stationary_indices(
    rng: np.random.Generator, n_bars: int, n_paths: int, block: int
) -> npt.NDArray[np.int64]:
    """``[n_paths, n_bars]`` bar indices of stationary-bootstrap paths drawn from `rng`."""
    starts = np.empty((n_paths, n_bars), dtype=np.int64)
    uniforms = np.empty((n_paths, n_bars), dtype=np.float64)
    for k in range(n_paths):  # arch's order of draws, path after path
        starts[k] = rng.integers(n_bars, size=n_bars, dtype=np.int64)
        uniforms[k] = rng.random(n_bars)
    new_block = uniforms <= 1.0 / block
    new_block[:, 0] = True
    position = np.arange(n_bars)
    # the bar where each bar's block began, and how far into the block it is
    began = np.maximum.accumulate(np.where(new_block, position, 0), axis=1)
    first = np.take_along_axis(starts, began, axis=1)
    return (first + (position - began)) % n_bars


def path_metrics(
    returns: npt.NDArray[np.float64], excess: npt.NDArray[np.float64], ppy: float
) -> npt.NDArray[np.float64]:
    """``[paths, 4]``: Sharpe, CAGR, volatility and max drawdown of each row of returns."""
    n = returns.shape[1]
    root = math.sqrt(ppy)
    with np.errstate(divide="ignore", invalid="ignore"):
        std_x = excess.std(axis=1, ddof=1)
        sharpe = np.where(std_x > 0.0, excess.mean(axis=1) / std_x * root, np.nan)
        volatility = returns.std(axis=1, ddof=1) * root
        value = np.cumprod(1.0 + returns, axis=1)
        growth = np.maximum(value[:, -1], 0.0)
        cagr = growth ** (ppy / n) - 1.0
        peak = np.maximum.accumulate(np.maximum(value, 1.0), axis=1)  # the start is a peak
        drawdown = (value / peak - 1.0).min(axis=1)
    return np.column_stack([sharpe, cagr, volatility, np.minimum(drawdown, 0.0)])


def probabilistic_sharpe(excess: npt.NDArray[np.float64], benchmark: float = 0.0) -> float:
    """The probability that the true per-bar Sharpe of `excess` exceeds `benchmark`.

    ``PSR = Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))`` with SR
    the per-bar Sharpe (sample std), g3 the skewness and g4 the (non-excess) kurtosis.
    NaN with fewer than 3 bars or no variation.
    """
    n = excess.shape[0]
    if n < 3:
        return math.nan
    deviation = excess - excess.mean()
    m2 = float(np.mean(deviation**2))
    std = float(excess.std(ddof=1))
    if m2 <= 0.0 or std <= 0.0:
        return math.nan
    sharpe = float(excess.mean()) / std
    skew = float(np.mean(deviation**3)) / m2**1.5
    kurtosis = float(np.mean(deviation**4)) / m2**2
    spread = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if spread <= 0.0:
        return math.nan
    z = (sharpe - benchmark) * math.sqrt(n - 1) / math.sqrt(spread)
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def bootstrap_metrics(
    value: npt.NDArray[np.float64],
    init_cash: float,
    rf_bar: npt.NDArray[np.float64],
    ppy: float,
    *,
    samples: int = 1000,
    block: int | str = "auto",
    seed: int = 0,
) -> dict[str, float]:
    """Confidence intervals of a value curve ``[T]`` (from `init_cash`) and its PSR.

    `samples` paths of mean block length `block` (`block_length`) drawn from `seed`
    (``report.bootstrap``, `engine.config.confidence.BootstrapConfig`). Returns ``psr``,
    and unless `samples` is 0, ``<metric>_p05`` and
    ``<metric>_p95`` for each of `INTERVAL_METRICS`, ``bootstrap_block`` and
    ``bootstrap_samples``. A curve that reaches zero has no Sharpe: its Sharpe interval
    and PSR are NaN.
    """
    value = np.asarray(value, dtype=np.float64)
    previous = np.concatenate(([init_cash], value[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.where(value == previous, 0.0, value / previous - 1.0)
    excess = returns - rf_bar
    wiped = bool((value <= 0.0).any())
    out = {"psr": math.nan if wiped else probabilistic_sharpe(excess)}
    n_bars = len(value)
    if samples == 0 or n_bars < 2:
        return out
    mean_block = block_length(n_bars, block)
    rng = np.random.default_rng(seed)
    rows = []
    for done in range(0, samples, _CHUNK):
        indices = stationary_indices(rng, n_bars, min(_CHUNK, samples - done), mean_block)
        rows.append(path_metrics(returns[indices], excess[indices], ppy))
    stats = np.concatenate(rows)
    for column, name in enumerate(INTERVAL_METRICS):
        finite = stats[:, column][np.isfinite(stats[:, column])]
        low, high = np.percentile(finite, PERCENTILES) if len(finite) else (math.nan,) * 2
        if name == "sharpe" and wiped:
            low = high = math.nan
        out[f"{name}_p05"], out[f"{name}_p95"] = float(low), float(high)
    out["bootstrap_block"] = float(mean_block)
    out["bootstrap_samples"] = float(samples)
    return out
