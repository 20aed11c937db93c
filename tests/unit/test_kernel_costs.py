"""Hand-computed cases for the kernel's cost table: dated schedules, money amounts in the
asset's own currency converted at each bar's fx, and separate credit and debit rates.

Every expected number is worked out in the comments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import engine
from engine.inputs import prepare_market

NAN = np.nan


def _market(prices: dict[str, list[float]], start: str = "2024-01-01") -> pd.DataFrame:
    n = len(next(iter(prices.values())))
    return pd.DataFrame(prices, index=pd.date_range(start, periods=n, freq="D")).astype(float)


def _targets(close: pd.DataFrame, rows: dict[int, list[float]]) -> pd.DataFrame:
    weights = pd.DataFrame(NAN, index=close.index, columns=close.columns)
    for t, row in rows.items():
        weights.iloc[t] = row
    return weights


def test_simulate_with_dated_sell_tax_charges_the_rate_in_force_on_each_trade_date():
    close = _market({"A": [10.0, 10.0, 10.0, 10.0]})  # 2024-01-01 .. 01-04
    # 0.1% until 2024-01-02 (inclusive), 0.13% from Wednesday 2024-01-03
    tax = pd.DataFrame({"A": [0.001, 0.0013]}, index=pd.to_datetime(["2023-12-01", "2024-01-03"]))
    weights = _targets(close, {0: [1.0], 1: [0.5], 2: [0.25]})
    result = engine.simulate(
        close, weights, init_cash=1000.0, sell_tax=tax, size_type="target_quantity"
    )
    # bar 0 buys 1 share; bar 1 sells 0.5 at 10 = 5 traded, tax 0.1% = 0.005;
    # bar 2 sells 0.25 at 10 = 2.5 traded, tax 0.13% = 0.00325
    np.testing.assert_allclose(result.trades["tax"], [0.0, 0.005, 0.00325])


def test_prepare_market_with_one_change_date_makes_two_segments_and_no_more():
    close = _market({"A": [10.0] * 5, "B": [20.0] * 5})
    fees = pd.DataFrame(
        {"A": [0.001, 0.002], "B": [0.003, 0.003]},
        index=pd.DatetimeIndex([pd.Timestamp("2020-01-01"), pd.Timestamp("2024-01-03 12:00")]),
    )
    market = prepare_market(close, fees=fees, sell_tax=0.001)
    # the change at noon on the 3rd is in force from the first bar after it: the 4th
    assert market.segment.tolist() == [[0, 0, 0, 1, 1]]
    np.testing.assert_array_equal(market.costs["fee_rate"], [[0.001, 0.003], [0.002, 0.003]])
    np.testing.assert_array_equal(market.costs["sell_tax"], [[0.001, 0.001], [0.001, 0.001]])


def test_prepare_market_with_schedule_starting_after_first_bar_raises_naming_it():
    close = _market({"A": [10.0] * 3})
    late = pd.DataFrame({"A": [0.001]}, index=pd.to_datetime(["2024-01-02"]))
    with pytest.raises(engine.SimulationError, match=r"fees schedule starts on 2024-01-02"):
        prepare_market(close, fees=late)


def test_simulate_with_per_portfolio_fees_and_dated_tax_combines_both_in_one_table():
    close = _market({"A": [10.0, 10.0, 10.0]})
    tax = pd.DataFrame({"A": [0.0, 0.01]}, index=pd.to_datetime(["2024-01-01", "2024-01-03"]))
    weights = [_targets(close, {0: [1.0], 2: [0.0]})] * 2
    batch = engine.simulate(
        close,
        weights,
        init_cash=1000.0,
        fees=np.array([[0.0], [0.001]]),
        sell_tax=tax,
        size_type="target_quantity",
    )
    # both buy 1 share at 10 (fee 0 and 0.01), sell it on the 3rd: tax 1% of 10 = 0.1
    np.testing.assert_allclose(batch[0].trades["fees"], [0.0, 0.0])
    np.testing.assert_allclose(batch[1].trades["fees"], [0.01, 0.01])
    np.testing.assert_allclose(batch[0].trades["tax"], [0.0, 0.1])
    np.testing.assert_allclose(batch[1].trades["tax"], [0.0, 0.1])


def test_simulate_with_foreign_minimum_fee_converts_it_at_the_fill_bar_fx():
    close = _market({"HK1": [100.0, 100.0, 100.0]})
    fx = pd.DataFrame({"HKD": [0.125, 0.125, 0.25]}, index=close.index)
    result = engine.simulate(
        close,
        _targets(close, {0: [10.0], 2: [0.0]}),
        init_cash=1000.0,
        fx=fx,
        currency=["HKD"],
        base_currency="USD",
        fees=0.0001,
        min_fees=40.0,  # HKD 40
        fixed_fees=8.0,  # HKD 8
        charges=[engine.Charge(rate=0.5, minimum=0.0, maximum=4.0)],  # at most HKD 4
        size_type="target_quantity",
    )
    # bar 0: 10 shares x HKD 100 x 0.125 = USD 125 traded; commission max(0.0125, 40 x
    # 0.125 = 5) = 5; fixed 8 x 0.125 = 1; charge min(62.5, 4 x 0.125 = 0.5) = 0.5 -> 6.5
    # bar 2: USD 250 traded at 0.25: 40 x 0.25 = 10; 8 x 0.25 = 2; 4 x 0.25 = 1 -> 13
    np.testing.assert_allclose(result.trades["fees"], [6.5, 13.0])


def test_simulate_with_debit_rate_charges_it_on_negative_cash_only():
    index = pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-21"])
    close = pd.DataFrame({"A": [10.0, 10.0, 10.0]}, index=index)
    result = engine.simulate(
        close,
        _targets(close, {1: [1.5]}),
        init_cash=1000.0,
        cash_rate=0.0365,
        cash_debit_rate=0.073,
        max_leverage=2.0,
    )
    # 10 days on +1000 at the credit rate: 1000 x 0.0365 x 10 / 365 = 1.0
    # bar 1 buys 1.5 x 1001 / 10 = 150.15 shares: cash 1001 - 1501.5 = -500.5
    # 10 days on -500.5 at the debit rate: -500.5 x 0.073 x 10 / 365 = -1.001
    np.testing.assert_allclose(result.costs["interest"], [0.0, 1.0, -1.001])
    np.testing.assert_allclose(result.cash, [1000.0, -500.5, -501.501])


def test_simulate_with_dated_cash_rate_applies_the_rate_in_force_at_each_bar():
    index = pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-21"])
    close = pd.DataFrame({"A": [10.0, 10.0, 10.0]}, index=index)
    rate = pd.Series([0.0365, 0.073], index=pd.to_datetime(["2023-06-30", "2024-01-15"]))
    result = engine.simulate(close, _targets(close, {}), init_cash=1000.0, cash_rate=rate)
    # (01-01, 01-11]: 3.65% -> 1000 x 0.0365 x 10 / 365 = 1.0; the rate in force at the
    # bar of 01-21 is 7.3% and applies to (01-11, 01-21]: 1001 x 0.073 x 10 / 365 = 2.002
    np.testing.assert_allclose(result.costs["interest"], [0.0, 1.0, 2.002])
