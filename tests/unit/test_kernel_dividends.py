"""Cash dividends in the kernel: who is entitled, withholding, shorts, fx, gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import engine
from engine.errors import SimulationError
from engine.inputs import prepare_market

INDEX = pd.bdate_range("2024-01-01", periods=3)
NAN = np.nan


def _frame(rows, columns=("A",)) -> pd.DataFrame:
    return pd.DataFrame(np.array(rows, dtype=float), index=INDEX, columns=list(columns))


def test_long_with_dividend_and_withholding_receives_dividend_less_tax():
    # buy 10 @ 10 at bar 0; 0.50 a share on bar 1: 5.00 gross, 30% = 1.50 withheld
    result = engine.simulate(
        _frame([[10.0], [10.0], [10.0]]),
        _frame([[1.0], [NAN], [NAN]]),
        init_cash=100.0,
        dividends=_frame([[0.0], [0.5], [0.0]]),
        withholding=0.3,
    )
    np.testing.assert_allclose(result.value, [100.0, 103.5, 103.5])
    np.testing.assert_allclose(result.costs["dividends"], [0.0, 5.0, 0.0])
    np.testing.assert_allclose(result.costs["withholding"], [0.0, 1.5, 0.0])
    np.testing.assert_allclose(result.costs["dividends_paid"], [0.0, 0.0, 0.0])


def test_short_with_dividend_pays_the_full_dividend_without_withholding():
    # short 10 @ 10: cash 200; bar 1 pays the lender 10 * 0.50 = 5.00
    result = engine.simulate(
        _frame([[10.0], [10.0], [10.0]]),
        _frame([[-1.0], [NAN], [NAN]]),
        init_cash=100.0,
        dividends=_frame([[0.0], [0.5], [0.0]]),
        withholding=0.3,
    )
    np.testing.assert_allclose(result.cash, [200.0, 195.0, 195.0])
    np.testing.assert_allclose(result.value, [100.0, 95.0, 95.0])
    np.testing.assert_allclose(result.costs["dividends_paid"], [0.0, 5.0, 0.0])
    np.testing.assert_allclose(result.costs["withholding"], 0.0)


def test_dividend_with_no_position_entering_the_ex_date_pays_nothing():
    # bought on the ex-date itself: the seller, who held it entering the bar, is owed it
    result = engine.simulate(
        _frame([[10.0], [10.0], [10.0]]),
        _frame([[NAN], [1.0], [NAN]]),
        init_cash=100.0,
        dividends=_frame([[0.0], [0.5], [0.0]]),
    )
    np.testing.assert_allclose(result.value, [100.0, 100.0, 100.0])
    np.testing.assert_allclose(result.costs[["dividends", "dividends_paid"]], 0.0)


def test_position_sold_on_the_ex_date_still_receives_the_dividend():
    result = engine.simulate(
        _frame([[10.0], [10.0], [10.0]]),
        _frame([[1.0], [0.0], [NAN]]),
        init_cash=100.0,
        dividends=_frame([[0.0], [0.5], [0.0]]),
    )
    np.testing.assert_allclose(result.positions["A"], [10.0, 0.0, 0.0])
    np.testing.assert_allclose(result.value, [100.0, 105.0, 105.0])


def test_foreign_dividend_converts_at_the_ex_date_rate_or_the_last_known_one():
    # 100 shares of an HKD stock at HK$10 bought with US$128 at 0.128; HK$1 a share on
    # bar 1 at 0.13 = US$13.00 less 20% = 10.40; HK$0.5 on bar 2, which has no rate:
    # the last one, 0.13 -> US$6.50 less 20% = 5.20
    close = _frame([[10.0], [10.0], [10.0]])
    result = engine.simulate(
        close,
        _frame([[1.0], [NAN], [NAN]]),
        init_cash=128.0,
        fx=pd.DataFrame({"HKD": [0.128, 0.13, NAN]}, index=INDEX),
        currency={"A": "HKD"},
        base_currency="USD",
        dividends=_frame([[0.0], [1.0], [0.5]]),
        withholding={"A": 0.2},
    )
    np.testing.assert_allclose(result.costs["dividends"], [0.0, 13.0, 6.5])
    np.testing.assert_allclose(result.costs["withholding"], [0.0, 2.6, 1.3])
    np.testing.assert_allclose(result.cash, [0.0, 10.4, 15.6], atol=1e-12)
    np.testing.assert_allclose(result.value, [128.0, 140.4, 145.6])


def test_dividend_on_a_bar_without_a_price_is_paid_and_the_position_valued_at_last_close():
    result = engine.simulate(
        _frame([[10.0], [NAN], [11.0]]),
        _frame([[1.0], [NAN], [NAN]]),
        init_cash=100.0,
        dividends=_frame([[0.0], [0.5], [0.0]]),
    )
    np.testing.assert_allclose(result.value, [100.0, 105.0, 115.0])
    np.testing.assert_allclose(result.costs["dividends"], [0.0, 5.0, 0.0])


def test_dividends_per_asset_with_withholding_per_asset_settle_each_asset_alone():
    # A long 5 @ 10, B short 2 @ 20 (weights 0.5, -0.4 of 100)
    result = engine.simulate(
        _frame([[10.0, 20.0], [10.0, 20.0], [10.0, 20.0]], ("A", "B")),
        _frame([[0.5, -0.4], [NAN, NAN], [NAN, NAN]], ("A", "B")),
        init_cash=100.0,
        dividends=_frame([[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]], ("A", "B")),
        withholding=[0.1, 0.3],
    )
    np.testing.assert_allclose(result.costs["dividends"], [0.0, 5.0, 0.0])  # 5 x 1
    np.testing.assert_allclose(result.costs["withholding"], [0.0, 0.5, 0.0])  # A's 10%
    np.testing.assert_allclose(result.costs["dividends_paid"], [0.0, 4.0, 0.0])  # 2 x 2
    np.testing.assert_allclose(result.value, [100.0, 100.5, 100.5])


def test_dividends_of_zero_or_none_give_bit_identical_results_and_one_kernel_row():
    close = _frame([[10.0], [10.5], [10.2]])
    weights = _frame([[1.0], [NAN], [-0.5]])
    plain = engine.simulate(close, weights)
    zeros = engine.simulate(close, weights, dividends=close * 0.0, withholding=0.3)
    np.testing.assert_array_equal(plain.stats, zeros.stats)
    assert prepare_market(close, dividends=close * 0.0).dividends.shape == (1, 1)
    assert prepare_market(close).dividends.shape == (1, 1)
    assert prepare_market(close, dividends=close * 0.0 + 0.1).dividends.shape == (3, 1)


def test_negative_dividend_is_an_error_naming_symbol_and_date():
    with pytest.raises(SimulationError, match=r"dividends of A on 2024-01-02.*-0\.5"):
        prepare_market(_frame([[10.0], [10.0], [10.0]]), dividends=_frame([[0.0], [-0.5], [0]]))


def test_withholding_above_one_is_an_error():
    with pytest.raises(SimulationError, match=r"withholding must be a rate in \[0, 1\]"):
        prepare_market(_frame([[10.0], [10.0], [10.0]]), withholding=1.5)


def test_window_with_dividends_keeps_the_dividends_of_its_bars():
    close = _frame([[10.0], [10.0], [10.0]])
    market = prepare_market(close, dividends=_frame([[0.0], [0.5], [0.25]]))
    np.testing.assert_array_equal(market.window(1, 3).dividends, [[0.5], [0.25]])
