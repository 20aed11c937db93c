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


def test_drawdown_episodes_with_two_dips_give_dates_days_and_recovery():
    # 100 -> 90 -> 95 -> 100 (recovered) -> 110 -> 99 (ends under water)
    index = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-08", "2024-01-09"])
    value = pd.Series([90.0, 95.0, 100.0, 110.0, 99.0], index=index)
    episodes = metrics.drawdown_episodes(value, 100.0)
    assert list(episodes["start"]) == [index[0], index[4]]
    assert list(episodes["end"]) == [index[1], index[4]]
    assert list(episodes["valley"]) == [index[0], index[4]]
    assert list(episodes["days"]) == [2, 1]  # Jan 1..2 under water; Jan 9 only
    assert episodes["recovery"][0] == index[2]
    assert episodes["recovery_days"][0] == 3.0  # valley Jan 1 -> back at 100 on Jan 4
    assert np.isnan(episodes["recovery_days"][1])
    np.testing.assert_allclose(episodes["depth"], [-0.1, -0.1])


def test_performance_with_hand_curve_gives_drawdown_days_hit_rate_and_months():
    index = pd.to_datetime(["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"])
    value = pd.Series([100.0, 110.0, 99.0, 99.0], index=index)  # returns 0, +10%, -10%, 0
    perf = metrics.performance(value, 100.0)
    assert perf["hit_rate"] == pytest.approx(0.5)  # one up bar of two that moved
    assert perf["best_month"] == pytest.approx(0.10)  # January: 100 -> 110
    assert perf["worst_month"] == pytest.approx(-0.10)  # February: 110 -> 99
    assert perf["max_drawdown"] == pytest.approx(-0.10)
    assert perf["max_drawdown_days"] == 2.0  # Feb 1 and Feb 2 under water
    assert np.isnan(perf["max_drawdown_recovery_days"])
    assert perf["best_day"] == pytest.approx(0.10)
    assert perf["worst_day"] == pytest.approx(-0.10)


def test_var_and_cvar_with_twenty_one_returns_take_the_worst_tail():
    # 21 returns -10%..+10%: 5th percentile at position 1 of 20 -> -9%; CVaR: worst
    # int(20 * 0.05) + 1 = 2 returns, mean(-10%, -9%)
    returns = np.arange(-10, 11) / 100.0
    assert metrics.value_at_risk(returns) == pytest.approx(-0.09)
    assert metrics.conditional_value_at_risk(returns) == pytest.approx(-0.095)


def test_beta_and_capture_with_twice_the_benchmark_are_two():
    bench = np.array([0.01, -0.02, 0.015, -0.005, 0.01])
    rel = metrics.relative(2.0 * bench, bench, 252.0)
    assert rel["beta"] == pytest.approx(2.0)
    assert rel["correlation"] == pytest.approx(1.0)
    assert rel["alpha"] == pytest.approx(0.0, abs=1e-12)
    # up bars: +1%, +1.5%, +1% vs +2%, +3%, +2%: ratio of the two annualised growth rates
    up = ((1.02 * 1.03 * 1.02) ** (252 / 3) - 1) / ((1.01 * 1.015 * 1.01) ** (252 / 3) - 1)
    assert rel["up_capture"] == pytest.approx(up)


def test_simulation_metrics_with_one_round_trip_counts_turnover_trades_and_fees():
    import engine

    index = pd.bdate_range("2024-01-01", periods=252 * 2 + 1)  # 2 years of business days
    close = pd.DataFrame({"A": 10.0}, index=index)
    weights = pd.DataFrame({"A": np.nan}, index=index)
    weights.iloc[0, 0] = 1.0  # buy the whole book
    weights.iloc[-1, 0] = 0.0  # sell it all
    sim = engine.simulate(close, weights, init_cash=1000.0, fees=0.001)
    ppy = metrics.periods_per_year(index)
    trade = metrics.simulation_metrics(sim, ppy, 0.0)
    assert trade["n_trades"] == 2.0
    # the buy is sized so that it and its fee fit in the cash: v * 1.001 = 1000; the
    # sell trades all of the value there is then: turnover 1/1.001 + 1 over two years
    bought = 1000.0 / 1.001
    assert trade["turnover"] == pytest.approx((bought / 1000.0 + 1.0) * ppy / len(index))
    assert trade["fees"] == pytest.approx(2 * 0.001 * bought)
    assert trade["avg_gross_exposure"] == pytest.approx(1.0, abs=0.01)


def test_value_metrics_with_curve_that_reaches_zero_leave_ratios_undefined():
    # 100 -> 50 -> -10 (bankrupt) -> -10: the return and drawdown say what happened;
    # Sharpe, Sortino and Calmar of a portfolio that no longer exists mean nothing
    perf = metrics.value_metrics([50.0, -10.0, -10.0], 100.0, 252.0)
    assert perf["total_return"] == pytest.approx(-1.1)
    assert perf["cagr"] == -1.0
    assert perf["max_drawdown"] == pytest.approx(-1.1)
    assert np.isnan(perf["sharpe"]) and np.isnan(perf["sortino"]) and np.isnan(perf["calmar"])


def test_returns_from_value_with_flat_curve_at_zero_are_zero_not_nan():
    # 100 -> 0 -> 0: -100%, then no change (not 0 / 0)
    np.testing.assert_array_equal(metrics.returns_from_value([0.0, 0.0], 100.0), [-1.0, 0.0])


def test_simulation_metrics_with_unfunded_buys_count_the_bars_they_fell_short():
    import engine

    index = pd.bdate_range("2024-01-01", periods=4)
    close = pd.DataFrame({"A": [10.0, 10.0, 10.0, 10.0], "B": [10.0, 10.0, 10.0, 10.0]}, index)
    weights = pd.DataFrame(np.nan, index=index, columns=["A", "B"])
    weights.iloc[0] = [0.6, 0.6]  # 1200 of buys on 1000 of cash: 200 not funded
    weights.iloc[2] = [0.5, 0.5]  # already held (50 of each): no order
    weights.iloc[3] = [0.9, 0.9]  # 800 more of buys with no cash left: 800 not funded
    sim = engine.simulate(close, weights, init_cash=1000.0)
    trade = metrics.simulation_metrics(sim, 252.0, 0.0)
    np.testing.assert_allclose(sim.shortfall, [200.0, 0.0, 0.0, 800.0])
    assert trade["shortfall"] == pytest.approx(1000.0)
    assert trade["shortfall_bars"] == 2.0
