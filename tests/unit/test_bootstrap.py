"""Bootstrap confidence intervals and the probabilistic Sharpe ratio (`engine.bootstrap`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from engine.bootstrap import (
    block_length,
    bootstrap_metrics,
    probabilistic_sharpe,
    stationary_indices,
)

arch_bootstrap = pytest.importorskip("arch.bootstrap")


@pytest.fixture
def returns() -> np.ndarray:
    rng = np.random.default_rng(2024)
    return rng.standard_t(4, 400) * 0.01 + 0.0004  # fat tails, a small drift


def test_block_length_auto_is_the_cube_root_of_the_bars_rounded_up():
    assert [block_length(n) for n in (1, 8, 9, 252, 1000, 1032)] == [1, 2, 3, 7, 10, 11]
    assert block_length(1000, 4) == 4


def test_stationary_indices_with_block_one_are_the_drawn_start_bars():
    indices = stationary_indices(np.random.default_rng(5), 6, 2, 1)
    check = np.random.default_rng(5)
    first = check.integers(6, size=6, dtype=np.int64)
    check.random(6)
    np.testing.assert_array_equal(indices[0], first)


def test_stationary_indices_with_endless_blocks_run_on_from_the_start_and_wrap():
    indices = stationary_indices(np.random.default_rng(5), 6, 3, 10**9)
    for row in indices:
        np.testing.assert_array_equal(row, (row[0] + np.arange(6)) % 6)


@pytest.mark.parametrize(("seed", "block"), [(0, 1), (7, 5), (123, 23)])
def test_stationary_indices_with_a_seed_equal_arch_stationary_bootstrap_paths(seed, block):
    n_bars, n_paths = 250, 40
    theirs = arch_bootstrap.StationaryBootstrap(block, np.arange(n_bars), seed=seed)
    expected = np.array([data[0] for data, _ in theirs.bootstrap(n_paths)])
    ours = stationary_indices(np.random.default_rng(seed), n_bars, n_paths, block)
    np.testing.assert_array_equal(ours, expected)


def _plain_metrics(r: np.ndarray, x: np.ndarray, ppy: float) -> np.ndarray:
    """Sharpe, CAGR, volatility, max drawdown of one path, with a plain loop."""
    value, peak, worst = 1.0, 1.0, 0.0
    for step in r:
        value *= 1.0 + step
        peak = max(peak, value)
        worst = min(worst, value / peak - 1.0)
    sharpe = x.mean() / x.std(ddof=1) * math.sqrt(ppy)
    cagr = max(value, 0.0) ** (ppy / len(r)) - 1.0
    return np.array([sharpe, cagr, r.std(ddof=1) * math.sqrt(ppy), worst])


def test_bootstrap_intervals_with_a_seed_equal_arch_apply_and_a_plain_loop(returns):
    rf = np.full(len(returns), 0.0001)
    value = 1e6 * np.cumprod(1.0 + returns)
    ours = bootstrap_metrics(value, 1e6, rf, 252.0, samples=300, block=8, seed=42)

    bs = arch_bootstrap.StationaryBootstrap(8, returns, returns - rf, seed=42)
    paths = bs.apply(lambda r, x: _plain_metrics(r, x, 252.0), 300)
    for column, name in enumerate(("sharpe", "cagr", "volatility", "max_drawdown")):
        low, high = np.percentile(paths[:, column], [5.0, 95.0])
        assert ours[f"{name}_p05"] == pytest.approx(low, rel=1e-10, abs=1e-12), name
        assert ours[f"{name}_p95"] == pytest.approx(high, rel=1e-10, abs=1e-12), name
    assert ours["bootstrap_block"] == 8.0 and ours["bootstrap_samples"] == 300.0


def test_bootstrap_intervals_contain_the_point_estimate_and_rerun_bit_identically(returns):
    value = 1e6 * np.cumprod(1.0 + returns)
    first = bootstrap_metrics(value, 1e6, np.zeros(len(value)), 252.0)
    second = bootstrap_metrics(value, 1e6, np.zeros(len(value)), 252.0)
    assert first == second
    sharpe = returns.mean() / returns.std(ddof=1) * math.sqrt(252.0)
    assert first["sharpe_p05"] < sharpe < first["sharpe_p95"]
    other = bootstrap_metrics(value, 1e6, np.zeros(len(value)), 252.0, seed=1)
    assert other["sharpe_p05"] != first["sharpe_p05"]


def test_bootstrap_with_zero_samples_gives_only_the_psr(returns):
    value = 1e6 * np.cumprod(1.0 + returns)
    out = bootstrap_metrics(value, 1e6, np.zeros(len(value)), 252.0, samples=0)
    assert list(out) == ["psr"]


def test_probabilistic_sharpe_equals_the_formula_with_scipy_moments(returns):
    sr = returns.mean() / returns.std(ddof=1)
    skew = stats.skew(returns)
    kurt = stats.kurtosis(returns, fisher=False)
    z = sr * math.sqrt(len(returns) - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert probabilistic_sharpe(returns) == pytest.approx(stats.norm.cdf(z), rel=1e-12)


def test_probabilistic_sharpe_of_symmetric_two_point_returns_is_hand_computed():
    # +2% / -1% alternating, 4 bars: mean 0.005, sample std 0.01732, SR 0.288675; skew 0,
    # kurtosis 1, so the spread is 1 - 0 + 0 = 1 and z = SR * sqrt(3) = 0.5
    excess = np.array([0.02, -0.01, 0.02, -0.01])
    assert probabilistic_sharpe(excess) == pytest.approx(0.5 * (1 + math.erf(0.5 / math.sqrt(2))))
    assert probabilistic_sharpe(np.zeros(10)) != probabilistic_sharpe(np.zeros(10))  # NaN


def test_bootstrap_of_a_wiped_out_curve_has_no_sharpe_interval():
    value = np.array([1.0, 0.5, 0.0, 0.0])
    out = bootstrap_metrics(value, 1.0, np.zeros(4), 252.0, samples=50)
    assert math.isnan(out["psr"]) and math.isnan(out["sharpe_p05"])
    assert out["max_drawdown_p05"] == -1.0
