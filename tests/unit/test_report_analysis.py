"""The PM tables of a run's page: hand-computed cases and cross-checks with quantstats and
empyrical on random series; the vendored plotly.js bundle has every trace type used."""

from __future__ import annotations

import re
import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from engine.report import analysis as a
from engine.report.html import PLOTLY_BUNDLE

ep = pytest.importorskip("empyrical")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    qs = pytest.importorskip("quantstats")


def _returns(seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(400, 2000))
    index = pd.bdate_range("2016-03-07", periods=n)
    return pd.Series(rng.standard_t(4, n) * 0.01 + 0.0003, index=index)


def test_yearly_returns_by_hand_compound_within_each_calendar_year():
    index = pd.DatetimeIndex(["2023-12-28", "2023-12-29", "2024-01-02", "2024-01-03"])
    r = pd.Series([0.10, -0.10, 0.05, 0.02], index=index)
    yearly = a.yearly_returns(r)
    assert list(yearly.index) == [2023, 2024]
    np.testing.assert_allclose(yearly, [1.1 * 0.9 - 1.0, 1.05 * 1.02 - 1.0], rtol=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_yearly_returns_with_random_series_match_empyrical(seed):
    r = _returns(seed)
    theirs = ep.aggregate_returns(r, "yearly")
    np.testing.assert_allclose(a.yearly_returns(r).to_numpy(), theirs.to_numpy(), rtol=1e-12)


def test_trailing_returns_by_hand_windows_end_at_the_last_bar():
    index = pd.DatetimeIndex(["2022-12-30", "2023-06-30", "2024-01-31", "2024-02-01", "2024-02-02"])
    r = pd.Series([0.5, 0.1, 0.2, -0.1, 0.1], index=index)
    t = a.trailing_returns(r, ppy=252.0)
    assert t["MTD"] == pytest.approx(0.9 * 1.1 - 1.0)
    assert t["YTD"] == pytest.approx(1.2 * 0.9 * 1.1 - 1.0)
    # 1Y: bars after 2023-02-02
    assert t["1Y"] == pytest.approx(1.1 * 1.2 * 0.9 * 1.1 - 1.0)
    assert np.isnan(t["3Y"]) and np.isnan(t["5Y"])  # the run is shorter
    growth = 1.5 * 1.1 * 1.2 * 0.9 * 1.1
    assert t["Since inception"] == pytest.approx(growth ** (252.0 / 5) - 1.0)


def test_trailing_returns_of_a_value_that_fell_below_zero_annualise_to_minus_100_percent():
    index = pd.bdate_range("2024-01-01", periods=3)
    t = a.trailing_returns(pd.Series([0.1, -1.5, 0.0], index=index), ppy=252.0)
    assert t["Since inception"] == -1.0 and t["YTD"] == pytest.approx(1.1 * -0.5 - 1.0)


@pytest.mark.parametrize("seed", range(5))
def test_trailing_returns_with_random_series_match_quantstats_on_the_same_windows(seed):
    r = _returns(seed)
    ppy = 252.0
    last = r.index[-1]
    t = a.trailing_returns(r, ppy)
    assert t["MTD"] == pytest.approx(qs.stats.comp(r[r.index >= last.replace(day=1)]))
    assert t["YTD"] == pytest.approx(qs.stats.comp(r[r.index >= pd.Timestamp(last.year, 1, 1)]))
    one = r[r.index > last - pd.DateOffset(years=1)]
    assert t["1Y"] == pytest.approx(qs.stats.comp(one), rel=1e-12)
    if r.index[0] <= last - pd.DateOffset(years=3):
        three = r[r.index > last - pd.DateOffset(years=3)]
        cagr = ep.cagr(three, annualization=ppy)
        assert t["3Y"] == pytest.approx(cagr, rel=1e-9)
    assert t["Since inception"] == pytest.approx(ep.cagr(r, annualization=ppy), rel=1e-9)


def test_worst_drawdowns_by_hand_are_deepest_first_with_trough_and_recovery():
    index = pd.bdate_range("2024-01-01", periods=8)
    value = pd.Series([100.0, 90.0, 100.0, 100.0, 70.0, 80.0, 100.0, 95.0], index=index)
    worst = a.worst_drawdowns(value, 100.0)
    assert list(worst["depth"]) == pytest.approx([-0.3, -0.1, -0.05])
    assert worst.loc[0, "valley"] == index[4] and worst.loc[0, "recovery"] == index[6]
    assert pd.isna(worst.loc[2, "recovery"])  # the last one has not recovered


# seed 3 is under water from its first bar to its end, which quantstats reports as no episode
@pytest.mark.parametrize("seed", (0, 1, 2, 4))
def test_worst_drawdowns_with_random_series_match_quantstats_five_deepest(seed):
    r = _returns(seed)
    value = 1e6 * (1.0 + r).cumprod()
    mine = a.worst_drawdowns(value, 1e6)
    details = qs.stats.drawdown_details(qs.stats.to_drawdown_series(r))
    theirs = details.sort_values("max drawdown").head(5)
    assert len(mine) == 5
    np.testing.assert_allclose(mine["depth"] * 100.0, theirs["max drawdown"], rtol=1e-9)
    for column in ("start", "valley"):
        assert list(mine[column].dt.strftime("%Y-%m-%d")) == list(theirs[column]), column


@pytest.mark.parametrize("seed", range(4))
def test_rolling_volatility_with_random_series_matches_empyrical(seed):
    r = _returns(seed)
    mine = a.rolling_volatility(r, 63, 259.0)
    theirs = ep.roll_annual_volatility(r, window=63, annualization=259.0)
    np.testing.assert_allclose(mine.dropna().to_numpy(), theirs.dropna().to_numpy(), rtol=1e-10)


def test_trip_stats_by_hand_win_rate_profit_factor_and_expectancy():
    trips = pd.DataFrame({"symbol": ["A", "A", "B", "B"], "pnl": [30.0, -10.0, 20.0, -20.0]})
    stats = a.trip_stats(trips)
    assert stats["win_rate"] == 0.5
    assert stats["profit_factor"] == pytest.approx(50.0 / 30.0)
    assert stats["expectancy"] == pytest.approx(5.0)
    assert stats["average_win"] == 25.0 and stats["average_loss"] == -15.0
    by_asset = a.trips_by_asset(trips)
    assert by_asset.loc["A", "profit_factor"] == pytest.approx(3.0)
    assert by_asset.loc["All", "round_trips"] == 4
    assert np.isnan(a.trip_stats(trips[trips["pnl"] > 0])["profit_factor"])  # no losses


def test_vendored_plotly_bundle_registers_every_trace_type_the_pages_draw():
    bundle = resources.files("engine.report").joinpath("vendor", PLOTLY_BUNDLE).read_text()
    registered = set(re.findall(r'moduleType:"trace",name:"(\w+)"', bundle))
    source = "".join(
        resources.files("engine.report").joinpath(name).read_text()
        for name in ("html.py", "sections.py", "compare_page.py", "sweep_page.py", "notebook.py")
    )
    used = {t.lower() for t in re.findall(r"go\.(Scatter|Bar|Heatmap|Histogram|Pie|Box)\(", source)}
    used |= set(re.findall(r"add_(scatter|bar|heatmap|histogram)\(", source))
    assert used >= {"scatter", "bar", "heatmap", "histogram"}
    assert used <= registered, used - registered
    assert "v4.1.1" in bundle[:300]  # the version plotly's Python package embeds


def test_sweep_fold_table_formats_train_and_test_metrics_as_the_metric():
    from engine.report.sweep_page import _table_html

    folds = pd.DataFrame(
        {"fast": [10], "train_sharpe": [0.71461], "test_sharpe": [1.48213], "test_return": [0.0312]}
    )
    page = _table_html(folds)
    assert "+3.12%" in page  # test_return reads as total_return
    assert "0.71" in page and "0.71461" not in page and "1.48" in page
