"""The result in Python: `engine.run` on a path with overrides, the result's views,
stats, figure, pages and round trips, validated config updates, and `to_vectorbt`."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engine
from engine import metrics as m
from engine import report
from engine.report.html import run_page

CONFIG = """\
name: small
data:
  source: synthetic
  symbols: [AAPL, MSFT, NVDA]
  start: 2021-01-01
  end: 2023-06-30
  seed: 3
  base_currency: USD
strategy:
  name: equal_weight
portfolio:
  init_cash: 1000000
  rebalance: monthly
  fees: {rate: 0.001}
  slippage: 0.0005
  lots: true
benchmark: QQQ
report:
  risk_free: 0.02
"""


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("result") / "small.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def result(config_path: Path) -> engine.BacktestResult:
    return engine.run(config_path)


def test_run_with_path_and_set_applies_overrides_as_load_config_does(config_path, result):
    changed = engine.run(str(config_path), set=["portfolio.fees.rate=0.004"])
    expected = engine.run(engine.load_config(config_path, ["portfolio.fees.rate=0.004"]))
    assert changed.config.portfolio.fees.rate == 0.004
    pd.testing.assert_series_equal(changed.value, expected.value)
    assert changed.metrics["fees"] > result.metrics["fees"]


def test_run_with_config_and_set_applies_overrides(config_path, result):
    config = engine.load_config(config_path)
    from_strings = engine.run(config, set=["portfolio.fees.rate=0.004"])
    from_mapping = engine.run(config, set={"portfolio.fees.rate": 0.004})
    one_string = engine.run(config, set="portfolio.fees.rate=0.004")
    pd.testing.assert_series_equal(one_string.value, from_mapping.value)
    pd.testing.assert_series_equal(from_strings.value, from_mapping.value)
    assert from_strings.metrics["fees"] > result.metrics["fees"]
    assert config.portfolio.fees.rate == 0.001  # the config itself is unchanged


def test_run_with_invalid_override_raises_config_error(config_path):
    with pytest.raises(engine.ConfigError, match=r"portfolio\.fees\.rate"):
        engine.run(config_path, set=["portfolio.fees.rate=-3"])


def test_returns_give_value_from_init_cash_and_empyrical_sharpe(result):
    init = result.config.portfolio.init_cash
    growth = (1.0 + result.returns).cumprod() * init
    np.testing.assert_allclose(growth, result.value, rtol=1e-12)
    assert isinstance(result.returns.index, pd.DatetimeIndex)
    empyrical = pytest.importorskip("empyrical")
    ppy = result.metrics["periods_per_year"]
    theirs = empyrical.sharpe_ratio(result.returns, risk_free=result.risk_free, annualization=ppy)
    assert theirs == pytest.approx(result.metrics["sharpe"], rel=1e-9)
    drawdown = empyrical.max_drawdown(result.returns)
    assert drawdown == pytest.approx(result.metrics["max_drawdown"], rel=1e-9)


def test_stats_hold_the_numbers_of_metrics_json(result, tmp_path):
    report.write_run(result, tmp_path, html=False)
    document = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    stats = result.stats()
    assert len(stats) == len(document)
    labels = {spec.key: spec.label for spec in report.METRICS}
    for key, value in document.items():
        expected = np.nan if value is None else value  # metrics.json writes NaN as null
        assert stats[labels.get(key, key)] == pytest.approx(expected, rel=1e-15, nan_ok=True)
    assert stats["Sharpe"] == result.metrics["sharpe"]


def test_plot_draws_equity_benchmark_and_drawdown(result):
    fig = result.plot()
    names = [trace.name for trace in fig.data]
    assert names.count("Strategy") == 2 and names.count("QQQ") == 2
    np.testing.assert_array_equal(fig.data[0].y, result.value.to_numpy())
    np.testing.assert_array_equal(fig.data[1].y, result.benchmark.to_numpy())
    init = result.config.portfolio.init_cash
    drawdown = m.drawdown(result.value.to_numpy(), init)
    np.testing.assert_array_equal(fig.data[2].y, drawdown)
    assert min(fig.data[2].y) == pytest.approx(result.metrics["max_drawdown"])


def test_to_html_writes_the_report_page_of_eastwind_run(result, tmp_path):
    written = result.to_html(tmp_path / "page.html")
    report.write_run(result, tmp_path / "run")
    theirs = (tmp_path / "run" / "report.html").read_text()
    unstamped = re.sub(r'<meta name="eastwind-run-id"[^>]*>|<footer>.*?</footer>', "", theirs)
    assert written.read_text() == unstamped == run_page(result)


def test_repr_html_is_a_short_summary_with_key_metrics(result):
    summary = result._repr_html_()
    assert len(summary) < 10_000  # not the multi-megabyte report
    assert "small" in summary and "SYNTHETIC" in summary
    sharpe = report.METRICS[[s.key for s in report.METRICS].index("sharpe")]
    assert f"<td>Sharpe</td><td>{sharpe.format(result.metrics['sharpe'])}</td>" in summary


def test_target_and_held_weights_are_the_targets_and_the_holdings(result):
    pd.testing.assert_frame_equal(result.held_weights, result.simulation.weights)
    rebalanced = result.target_weights.dropna(how="all")
    assert 0 < len(rebalanced) < len(result.target_weights)
    np.testing.assert_allclose(rebalanced.sum(axis=1), 1.0)
    with pytest.warns(DeprecationWarning, match="target_weights"):
        old = result.weights
    assert old is result.target_weights


def test_to_vectorbt_value_matches_the_run_with_lots_and_costs(result):
    pytest.importorskip("vectorbt")
    assert len(result.trades) > 0 and result.trades["qty"].mod(1.0).eq(0.0).all()
    portfolio = result.to_vectorbt()
    theirs = portfolio.value().to_numpy()
    assert np.abs(theirs / result.value.to_numpy() - 1.0).max() < 1e-9
    costs = result.simulation.costs[["fees", "taxes", "fx_costs"]].to_numpy().sum()
    assert portfolio.orders.values["fees"].sum() == pytest.approx(costs, rel=1e-12)


def test_to_vectorbt_without_vectorbt_says_how_to_install_it(result, monkeypatch):
    monkeypatch.setitem(sys.modules, "vectorbt", None)
    with pytest.raises(engine.BacktestError, match="pip install vectorbt"):
        result.to_vectorbt()


def _one_asset(weights: list[float], close: list[float], **kwargs) -> engine.SimulationResult:
    index = pd.date_range("2024-01-01", periods=len(close), freq="D")
    return engine.simulate(
        pd.DataFrame({"X": close}, index=index),
        pd.DataFrame({"X": weights}, index=index),
        init_cash=1000.0,
        **kwargs,
    )


def test_round_trips_match_fills_first_in_first_out_by_hand():
    from engine.round_trips import round_trips

    # buy 50 @10, buy 50 @10, sell 75 @20 (closes 50 + 25), sell 75 @20 (closes 25,
    # opens 50 short), buy 50 @10 (closes the short)
    sim = _one_asset([0.5, 1.0, 0.25, -0.5, 0.0], [10.0, 10.0, 20.0, 20.0, 10.0])
    np.testing.assert_array_equal(sim.trades["qty"], [50, 50, -75, -75, 50])
    trips = round_trips(sim.trades)
    day = pd.Timestamp("2024-01-01")  # bars are calendar days
    expected = pd.DataFrame(
        {
            "symbol": ["X"] * 4,
            "side": ["long", "long", "long", "short"],
            "entry_date": [day + pd.Timedelta(days=d) for d in (0, 1, 1, 3)],
            "exit_date": [day + pd.Timedelta(days=d) for d in (2, 2, 3, 4)],
            "qty": [50.0, 25.0, 25.0, 50.0],
            "entry_price": [10.0, 10.0, 10.0, 20.0],
            "exit_price": [20.0, 20.0, 20.0, 10.0],
            "pnl": [500.0, 250.0, 250.0, 500.0],
            "return": [1.0, 1.0, 1.0, 0.5],
            "holding_days": [2, 1, 2, 1],
        }
    )
    pd.testing.assert_frame_equal(trips, expected, check_dtype=False)
    assert trips["pnl"].sum() == sim.value.iloc[-1] - 1000.0


def test_round_trip_pnl_with_costs_adds_up_to_the_value_change():
    from engine.round_trips import round_trips

    sim = _one_asset(
        [0.5, 0.8, 0.25, -0.5, 0.0], [10.0, 11.0, 19.0, 21.0, 12.0], fees=0.001, slippage=0.002
    )
    trips = round_trips(sim.trades)
    assert sim.positions.iloc[-1, 0] == 0.0
    assert trips["pnl"].sum() == pytest.approx(sim.value.iloc[-1] - 1000.0, rel=1e-12)
    assert set(trips["side"]) == {"long", "short"}


def test_round_trips_of_a_run_add_up_to_its_closed_profit(result):
    trips = result.round_trips
    assert (trips["exit_date"] >= trips["entry_date"]).all()
    assert (trips["holding_days"] >= 0).all()
    bought = result.trades.groupby("symbol")["qty"].apply(lambda q: q[q > 0].sum())
    still_held = result.simulation.positions.iloc[-1]
    closed = trips.groupby("symbol")["qty"].sum()
    np.testing.assert_allclose(closed + still_held[closed.index], bought[closed.index])


def test_run_verify_vectorbt_prints_the_largest_difference(config_path, tmp_path, capsys):
    pytest.importorskip("vectorbt")
    from engine.cli import main

    args = ["run", str(config_path), "--out", str(tmp_path), "--quiet", "--verify", "vectorbt"]
    assert main(args) == 0
    out = capsys.readouterr().out
    found = re.search(r"largest relative difference of the value curves (\S+) on", out)
    assert found is not None, out
    assert float(found.group(1)) < 1e-9
    assert "engines differ on: none" in out


def test_compare_with_vectorbt_names_borrow_and_interest_where_they_differ():
    pytest.importorskip("vectorbt")
    from engine.vectorbt_bridge import compare_with_vectorbt

    plain = _one_asset([0.5, -0.5, -0.5, 0.0], [10.0, 11.0, 12.0, 11.0])
    assert compare_with_vectorbt(plain).max_relative < 1e-12
    assert compare_with_vectorbt(plain).differences == ()
    charged = _one_asset([0.5, -0.5, -0.5, 0.0], [10.0, 11.0, 12.0, 11.0], borrow_rate=0.5)
    agreement = compare_with_vectorbt(charged)
    borrow = charged.costs["borrow"].abs().sum()
    assert agreement.max_relative == pytest.approx(borrow / charged.value.iloc[-1], rel=0.1)
    assert len(agreement.differences) == 1 and "borrow" in agreement.differences[0]
