"""P&L attribution: hand-computed cases and the sum test on the configured runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import engine
from engine.attribution import CASH, attribute
from engine.inputs import prepare_market
from engine.kernel import sim_nb
from engine.simulation import run_portfolios


def _one(close, weights, init_cash=1000.0, **kwargs):
    market = prepare_market(close, **kwargs)
    sim = run_portfolios(market, weights.to_numpy()[None], init_cash=init_cash)[0]
    return sim, attribute(sim, market)


def test_attribution_of_a_foreign_long_splits_price_fx_and_slippage_by_hand():
    index = pd.date_range("2024-01-01", periods=3)
    close = pd.DataFrame({"HK": [10.0, 11.0, 12.0]}, index=index)
    fx = pd.DataFrame({"HKD": [0.1, 0.1, 0.2]}, index=index)
    weights = pd.DataFrame({"HK": [0.5, np.nan, np.nan]}, index=index)
    sim, parts = _one(
        close, weights, fx=fx, currency={"HK": "HKD"}, base_currency="USD", slippage=0.01
    )
    # bar 0: 500 shares at 10.10 (quote 10): worth 500 at the close, slippage 5
    # bar 1: +1 HKD a share at 0.1 = 50; bar 2: +1 HKD = 50 at the old rate, and the
    # rate doubling on 500 * 12 HKD = 600 USD
    np.testing.assert_allclose(parts.parts["price"][:, 0], [0.0, 50.0, 50.0], atol=1e-9)
    np.testing.assert_allclose(parts.parts["fx"][:, 0], [0.0, 0.0, 600.0], atol=1e-9)
    np.testing.assert_allclose(parts.parts["slippage"][:, 0], [5.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(parts.pnl[:, 0], [-5.0, 50.0, 650.0], atol=1e-9)
    np.testing.assert_allclose(sim.value, [995.0, 1045.0, 1695.0], atol=1e-9)


def test_attribution_with_impact_books_half_spread_and_square_root_impact_by_hand():
    index = pd.date_range("2024-01-01", periods=3)
    close = pd.DataFrame({"A": [10.0, 10.0, 11.0]}, index=index)
    weights = pd.DataFrame({"A": [0.5, np.nan, np.nan]}, index=index)
    sigma = pd.DataFrame({"A": [0.02, 0.02, 0.02]}, index=index)
    adv = pd.DataFrame({"A": [10_000.0] * 3}, index=index)
    sim, parts = _one(
        close, weights, slippage=0.001, half_spread=0.001, impact=1.0,
        volatility=sigma, adv=adv,
    )  # fmt: skip
    # 50 shares (0.5 * 1000 / 10, from the quote): c = 1 * 0.02 / sqrt(10000) = 0.0002,
    # so the price moves by 0.001 + 0.001 + 0.0002 * sqrt(50); slippage 50 * 10 * 0.001
    # = 0.5, impact 50 * 10 * (0.001 + 0.0002 * sqrt(50)) = 0.5 + 0.1 * sqrt(50)
    impact = 0.5 + 0.1 * np.sqrt(50.0)
    np.testing.assert_allclose(parts.parts["slippage"][:, 0], [0.5, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(parts.parts["impact"][:, 0], [impact, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(parts.parts["price"][:, 0], [0.0, 0.0, 50.0], atol=1e-9)
    np.testing.assert_allclose(sim.value, 1000.0 - 0.5 - impact + np.array([0, 0, 50.0]))
    np.testing.assert_allclose(sim.trades["impact"], [impact], atol=1e-12)
    assert parts.by_asset()["contribution"].sum() == pytest.approx(sim.value.iloc[-1] / 1e3 - 1)


def test_attribution_of_a_short_charges_borrow_on_the_previous_close_by_hand():
    index = pd.date_range("2024-01-01", periods=3)  # one calendar day a bar
    close = pd.DataFrame({"US": [100.0, 100.0, 110.0]}, index=index)
    weights = pd.DataFrame({"US": [-0.5, np.nan, np.nan]}, index=index)
    sim, parts = _one(close, weights, borrow_rate=0.365, fees=0.001)
    # short 5 at 100 (fee 0.50); 5 * 100 * 0.365 / 365 = 0.50 of borrow a day;
    # the rise to 110 costs 5 * 10 = 50
    np.testing.assert_allclose(parts.parts["fees"][:, 0], [0.5, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(parts.parts["borrow"][:, 0], [0.0, 0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(parts.parts["price"][:, 0], [0.0, 0.0, -50.0], atol=1e-9)
    np.testing.assert_allclose(sim.stats[:, sim_nb.STAT_BORROW], [0.0, 0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(sim.value, [999.5, 999.0, 948.5], atol=1e-9)


def test_attribution_with_open_execution_measures_price_from_the_quote_to_the_close():
    index = pd.date_range("2024-01-01", periods=2)
    close = pd.DataFrame({"A": [10.0, 10.0]}, index=index)
    opens = pd.DataFrame({"A": [10.0, 8.0]}, index=index)
    weights = pd.DataFrame({"A": [np.nan, 0.8]}, index=index)
    sim, parts = _one(close, weights, exec_price=opens)
    # 100 shares bought at the open of 8 are worth 10 each at the close: +200
    assert parts.parts["price"][1, 0] == pytest.approx(200.0)
    assert sim.value.iloc[-1] == pytest.approx(1200.0)


def test_attribution_of_dividends_books_them_on_the_asset_less_withholding_by_hand():
    index = pd.date_range("2024-01-01", periods=3)
    close = pd.DataFrame({"L": [10.0, 10.0, 10.0], "S": [20.0, 20.0, 20.0]}, index=index)
    fx = pd.DataFrame({"HKD": [0.1, 0.1, 0.2]}, index=index)
    weights = pd.DataFrame({"L": [0.5, np.nan, np.nan], "S": [-0.5, np.nan, np.nan]}, index=index)
    dividends = pd.DataFrame({"L": [0.0, 1.0, 0.0], "S": [0.0, 0.0, 2.0]}, index=index)
    sim, parts = _one(
        close, weights, fx=fx, currency={"L": "HKD", "S": "USD"}, base_currency="USD",
        dividends=dividends, withholding=[0.2, 0.0],
    )  # fmt: skip
    # 500 L (HKD 10 at 0.1) and -25 S (USD 20): L pays HKD 1 a share on bar 1 at 0.1 = 50
    # USD, 10 withheld; the short pays USD 2 a share on bar 2 = 50
    np.testing.assert_allclose(parts.parts["dividends"][:, 0], [0.0, 50.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(parts.parts["withholding"][:, 0], [0.0, 10.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(parts.parts["dividends_paid"][:, 1], [0.0, 0.0, 50.0], atol=1e-9)
    value = sim.value.to_numpy()
    change = np.diff(np.concatenate(([1000.0], value)))
    np.testing.assert_allclose(parts.pnl.sum(axis=1) + parts.interest, change, atol=1e-9)
    stats = sim.stats
    np.testing.assert_allclose(
        parts.parts["dividends"].sum(), stats[:, sim_nb.STAT_DIVIDENDS].sum()
    )


def test_attribution_with_cash_interest_books_it_on_the_cash_row():
    index = pd.date_range("2024-01-01", periods=3)
    close = pd.DataFrame({"A": [10.0, 10.0, 10.0]}, index=index)
    weights = pd.DataFrame({"A": [0.5, np.nan, np.nan]}, index=index)
    sim, parts = _one(close, weights, cash_rate=0.365)
    table = parts.by_asset()
    assert table.loc[CASH, "interest"] == pytest.approx(500.0 * 0.001 + 500.5 * 0.001)  # compounds
    assert table["contribution"].sum() == pytest.approx(sim.value.iloc[-1] / 1000.0 - 1.0)


@pytest.fixture(scope="module")
def flagship() -> engine.BacktestResult:
    config = engine.load_config("configs/hk_ai_vs_nasdaq.yaml", ["data.source=synthetic"])
    return engine.run(config)


def test_flagship_attribution_sums_to_value_change_borrow_and_total_return(flagship):
    sim, parts = flagship.simulation, flagship.attribution
    value = sim.stats[:, sim_nb.STAT_VALUE]
    change = np.diff(np.concatenate(([sim.init_cash], value)))
    np.testing.assert_allclose(parts.pnl.sum(axis=1) + parts.interest, change, atol=1e-6)
    borrow = sim.stats[:, sim_nb.STAT_BORROW]
    assert borrow.sum() > 0.0  # the QQQ short pays
    np.testing.assert_allclose(parts.parts["borrow"].sum(axis=1), borrow, rtol=1e-9, atol=0.0)
    groups = flagship.config.data.groups
    by_group = parts.by_group(groups)
    assert list(by_group.index) == ["hk_ai", "hedge", CASH]
    total = flagship.metrics["total_return"]
    assert by_group["contribution"].sum() == pytest.approx(total, abs=1e-12)
    assert parts.by_asset(groups)["contribution"].sum() == pytest.approx(total, abs=1e-12)
    # the HK leg carries the currency, the USD hedge none; only the short pays borrow
    assert by_group.loc["hk_ai", "fx"] != 0.0 and by_group.loc["hedge", "fx"] == 0.0
    assert by_group.loc["hk_ai", "borrow"] == 0.0 and by_group.loc["hedge", "borrow"] > 0.0
    daily = parts.daily_groups(groups)
    np.testing.assert_allclose(daily.sum(), by_group["pnl"], rtol=1e-12)
