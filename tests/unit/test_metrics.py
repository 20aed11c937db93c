"""Metrics on tiny hand-computed value curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine import metrics


def test_total_return_with_value_curve_returns_last_over_initial_cash():
    # 100 -> 120: +20%
    assert metrics.total_return([110.0, 99.0, 120.0], 100.0) == pytest.approx(0.2)


def test_max_drawdown_with_value_curve_measures_from_running_peak():
    # peak 110, trough 99: 99 / 110 - 1 = -0.1
    assert metrics.max_drawdown([110.0, 99.0, 120.0], 100.0) == pytest.approx(-0.1)


def test_max_drawdown_with_loss_on_first_bar_counts_initial_cash_as_peak():
    # initial cash 100 is the first peak: 90 / 100 - 1 = -0.1
    assert metrics.max_drawdown([90.0, 95.0], 100.0) == pytest.approx(-0.1)


def test_returns_from_value_with_initial_cash_measures_first_bar_from_cash():
    # 100 -> 110 -> 99: +10%, -10%
    np.testing.assert_allclose(metrics.returns_from_value([110.0, 99.0], 100.0), [0.1, -0.1])


def test_cagr_with_doubling_over_two_years_returns_sqrt_two_minus_one():
    # 504 bars at 252 per year = 2 years; doubling -> 2 ** 0.5 - 1
    value = np.linspace(101.0, 200.0, 504)
    assert metrics.cagr(value, 100.0, 252.0) == pytest.approx(np.sqrt(2.0) - 1.0)


def test_sharpe_and_volatility_with_alternating_returns_match_closed_form():
    # returns +1%, -0.5% repeated: mean 0.0025, sample std of the pair pattern
    returns = np.array([0.01, -0.005] * 50)
    std = np.std(returns, ddof=1)
    assert metrics.volatility(returns, 252.0) == pytest.approx(std * np.sqrt(252.0))
    assert metrics.sharpe(returns, 252.0) == pytest.approx(0.0025 / std * np.sqrt(252.0))


def test_periods_per_year_with_business_days_is_about_261():
    index = pd.bdate_range("2020-01-01", "2023-12-31")
    assert metrics.periods_per_year(index) == pytest.approx(261, abs=1.0)


def test_summary_metrics_with_value_series_returns_the_five_headline_numbers():
    value = pd.Series([110.0, 99.0, 120.0], index=pd.bdate_range("2024-01-01", periods=3))
    summary = metrics.summary_metrics(value, 100.0)
    assert set(summary) == {"total_return", "cagr", "volatility", "sharpe", "max_drawdown"}
    assert summary["total_return"] == pytest.approx(0.2)
    assert summary["max_drawdown"] == pytest.approx(-0.1)
