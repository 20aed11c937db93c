"""Every metric of `engine.metrics` against empyrical or quantstats, on random and real series.

Where the libraries define a metric differently, the test converts between the two
definitions explicitly (documented in `engine.metrics`); nothing is compared loosely.
The real series come from the shared data folder and skip when it is absent.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine import metrics as m

ep = pytest.importorskip("empyrical")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    qs = pytest.importorskip("quantstats")

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
INIT = 1_000_000.0
RF = 0.03


def _random_pair(seed: int) -> tuple[pd.Series, pd.Series]:
    """Fat-tailed daily returns with flat days, and a correlated benchmark."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(300, 1500))
    index = pd.bdate_range("2015-01-05", periods=n)
    bench = rng.standard_t(4, n) * 0.01 + 0.0003
    strat = 0.0004 * rng.uniform() + rng.uniform(0.2, 1.5) * bench + rng.normal(0, 0.008, n)
    strat[rng.uniform(size=n) < 0.05] = 0.0  # days with no change count for the hit rate
    return pd.Series(strat, index=index), pd.Series(bench, index=index)


def _real_pair(stock: str, bench: str) -> tuple[pd.Series, pd.Series]:
    def returns(path: Path) -> pd.Series:
        close = pd.read_csv(path, index_col="date", parse_dates=True)["close"]
        return close.loc["2016":"2024"].pct_change()

    frame = pd.concat(
        [returns(REAL / "us" / f"{stock}.csv"), returns(REAL / "us" / f"{bench}.csv")], axis=1
    ).dropna()
    return frame.iloc[:, 0], frame.iloc[:, 1]


def _cases() -> Iterator[object]:
    for seed in range(6):
        yield pytest.param(("random", seed), id=f"random-{seed}")
    for stock, bench in (("AAPL", "QQQ"), ("NVDA", "SPY"), ("TSLA", "QQQ")):
        yield pytest.param(
            ("real", (stock, bench)),
            id=f"real-{stock}-vs-{bench}",
            marks=pytest.mark.skipif(not REAL.exists(), reason="shared real data is absent"),
        )


@pytest.fixture(params=list(_cases()))
def pair(request: pytest.FixtureRequest) -> tuple[pd.Series, pd.Series]:
    kind, arg = request.param
    return _random_pair(arg) if kind == "random" else _real_pair(*arg)


def _value(returns: pd.Series) -> pd.Series:
    return INIT * (1.0 + returns).cumprod()


def test_performance_with_any_series_matches_empyrical(pair):
    r, _ = pair
    ppy = m.periods_per_year(r.index)
    rf_bar = (1.0 + RF) ** (1.0 / ppy) - 1.0
    got = m.performance(_value(r), INIT, RF)
    np.testing.assert_allclose(m.returns_from_value(_value(r).to_numpy(), INIT), r, atol=1e-12)
    expected = {
        "total_return": ep.cum_returns_final(r),
        "cagr": ep.annual_return(r, annualization=ppy),
        "volatility": ep.annual_volatility(r, annualization=ppy),
        "sharpe": ep.sharpe_ratio(r, risk_free=rf_bar, annualization=ppy),
        "sortino": ep.sortino_ratio(r, required_return=rf_bar, annualization=ppy),
        "max_drawdown": ep.max_drawdown(r),
        "calmar": ep.calmar_ratio(r, annualization=ppy),
        "var_95": ep.value_at_risk(r, cutoff=0.05),
        "cvar_95": ep.conditional_value_at_risk(r, cutoff=0.05),
        "best_month": ep.aggregate_returns(r, "monthly").max(),
        "worst_month": ep.aggregate_returns(r, "monthly").min(),
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), name


def test_performance_with_any_series_matches_quantstats(pair):
    r, _ = pair
    ppy = m.periods_per_year(r.index)
    got = m.performance(_value(r), INIT, RF)
    expected = {
        "sharpe": qs.stats.sharpe(r, rf=RF, periods=ppy),
        "sortino": qs.stats.sortino(r, rf=RF, periods=ppy),
        "skew": qs.stats.skew(r),
        "kurtosis": qs.stats.kurtosis(r),
        "best_day": qs.stats.best(r),
        "worst_day": qs.stats.worst(r),
        "hit_rate": qs.stats.win_rate(r),
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), name


def test_drawdown_episodes_with_any_series_match_quantstats_details(pair):
    r, _ = pair
    value = _value(r)
    np.testing.assert_allclose(
        m.drawdown(value.to_numpy(), INIT), qs.stats.to_drawdown_series(r), atol=1e-12
    )
    mine = m.drawdown_episodes(value, INIT)
    theirs = qs.stats.drawdown_details(qs.stats.to_drawdown_series(r))
    assert len(mine) == len(theirs) > 0
    for column in ("start", "valley", "end"):
        assert list(mine[column].dt.strftime("%Y-%m-%d")) == list(theirs[column]), column
    assert list(mine["days"]) == list(theirs["days"])
    np.testing.assert_allclose(mine["depth"] * 100.0, theirs["max drawdown"], rtol=1e-9)
    got = m.performance(value, INIT)
    worst = theirs.loc[theirs["max drawdown"].idxmin()]
    assert got["max_drawdown_days"] == worst["days"]
    assert got["longest_drawdown_days"] == theirs["days"].max()


def test_relative_with_any_pair_matches_empyrical_and_quantstats(pair):
    r, b = pair
    ppy = m.periods_per_year(r.index)
    rf_bar = (1.0 + RF) ** (1.0 / ppy) - 1.0
    got = m.relative(r.to_numpy(), b.to_numpy(), ppy, RF)
    alpha, beta = ep.alpha_beta(r, b, risk_free=rf_bar, annualization=ppy)
    assert got["alpha"] == pytest.approx(alpha, rel=1e-9)
    assert got["beta"] == pytest.approx(beta, rel=1e-9)
    assert got["correlation"] ** 2 == pytest.approx(qs.stats.r_squared(r, b), rel=1e-9)
    assert np.sign(got["correlation"]) == np.sign(beta)
    assert got["tracking_error"] == pytest.approx(
        ep.annual_volatility(r - b, annualization=ppy), rel=1e-9
    )
    sqrt_ppy = np.sqrt(ppy)
    assert got["information_ratio"] == pytest.approx(ep.excess_sharpe(r, b) * sqrt_ppy, rel=1e-9)
    assert got["information_ratio"] == pytest.approx(
        qs.stats.information_ratio(r, b) * sqrt_ppy, rel=1e-9
    )
    # empyrical's capture annualises with its fixed 252 days a year ('daily')
    for side, theirs in (("up", ep.up_capture(r, b)), ("down", ep.down_capture(r, b))):
        assert m.capture(r.to_numpy(), b.to_numpy(), 252.0, side) == pytest.approx(theirs, rel=1e-9)
    assert got["up_capture"] == m.capture(r.to_numpy(), b.to_numpy(), ppy, "up")
    assert got["down_capture"] == m.capture(r.to_numpy(), b.to_numpy(), ppy, "down")


def test_array_functions_with_2d_input_equal_column_by_column():
    rng = np.random.default_rng(7)
    returns = rng.normal(0.0005, 0.01, size=(400, 5))
    value = INIT * np.cumprod(1.0 + returns, axis=0)
    per_column = {
        "sharpe": lambda x: m.sharpe(x, 252.0, RF),
        "sortino": lambda x: m.sortino(x, 252.0, RF),
        "volatility": lambda x: m.volatility(x, 252.0),
        "skew": m.skew,
        "kurtosis": m.kurtosis,
        "var": m.value_at_risk,
        "cvar": m.conditional_value_at_risk,
        "hit_rate": m.hit_rate,
    }
    for name, fn in per_column.items():
        expected = [fn(returns[:, k]) for k in range(5)]
        np.testing.assert_allclose(fn(returns), expected, rtol=1e-12, err_msg=name)
    expected_dd = [m.max_drawdown(value[:, k], INIT) for k in range(5)]
    np.testing.assert_allclose(m.max_drawdown(value, INIT), expected_dd, rtol=1e-12)
    expected_cagr = [m.cagr(value[:, k], INIT, 252.0) for k in range(5)]
    np.testing.assert_allclose(m.cagr(value, INIT, 252.0), expected_cagr, rtol=1e-12)
