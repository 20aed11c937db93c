"""Hand-computed cases, one per simulation rule of DESIGN.md.

Each test builds a market of two or three assets over a handful of bars; the expected
numbers are worked out in the comments, so every assertion can be checked on paper.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import engine
from engine.errors import SimulationError
from engine.simulation import BankruptcyWarning

NAN = np.nan


def _market(prices: dict[str, list[float]], start: str = "2024-01-01", freq: str = "D"):
    frame = pd.DataFrame(
        prices, index=pd.date_range(start, periods=len(next(iter(prices.values()))), freq=freq)
    )
    return frame.astype(float)


def _targets(close: pd.DataFrame, rows: dict[int, list[float]]) -> pd.DataFrame:
    weights = pd.DataFrame(NAN, index=close.index, columns=close.columns)
    for t, row in rows.items():
        weights.iloc[t] = row
    return weights


def test_simulate_with_weight_at_row_t_executes_at_price_of_row_t():
    close = _market({"A": [10.0, 20.0, 25.0]})
    result = engine.simulate(close, _targets(close, {1: [1.0]}), init_cash=1000.0)
    # bar 0: nothing held; bar 1: buy 1000 / 20 = 50 at 20; bar 2: 50 * 25 = 1250
    np.testing.assert_allclose(result.positions["A"], [0.0, 50.0, 50.0])
    np.testing.assert_allclose(result.value, [1000.0, 1000.0, 1250.0])
    assert result.trades["date"].tolist() == [close.index[1]]
    assert result.trades["price"].tolist() == [20.0]


def test_simulate_with_price_gap_values_at_last_known_price():
    close = _market({"A": [10.0, NAN, 12.0]})
    result = engine.simulate(close, _targets(close, {0: [1.0]}), init_cash=1000.0)
    # 100 shares at 10; bar 1 has no price, so they are still worth 100 * 10
    np.testing.assert_allclose(result.value, [1000.0, 1000.0, 1200.0])


def test_simulate_with_target_weights_converts_to_quantities_of_value_before_trading():
    close = _market({"A": [10.0, 12.0], "B": [20.0, 16.0]})
    result = engine.simulate(
        close, _targets(close, {0: [0.5, 0.5], 1: [0.5, 0.5]}), init_cash=1000.0
    )
    # bar 0: A 500/10 = 50, B 500/20 = 25
    # bar 1 before trading: 50*12 + 25*16 = 1000; targets A 500/12, B 500/16 = 31.25
    np.testing.assert_allclose(result.positions.iloc[0], [50.0, 25.0])
    np.testing.assert_allclose(result.positions.iloc[1], [500.0 / 12.0, 31.25])
    np.testing.assert_allclose(result.value, [1000.0, 1000.0])


def test_simulate_with_board_lots_rounds_long_and_short_targets_toward_zero():
    close = _market({"A": [7.0], "B": [7.0]})
    result = engine.simulate(
        close, _targets(close, {0: [0.5, -0.5]}), init_cash=1000.0, lot_size=[10.0, 10.0]
    )
    # A: 500 / 7 = 71.43 -> 70; B: -71.43 -> -70 (toward zero, not -80)
    np.testing.assert_allclose(result.positions.iloc[0], [70.0, -70.0])
    # cash = 1000 - 70*7 + 70*7 = 1000
    np.testing.assert_allclose(result.cash, [1000.0])


def test_simulate_with_lot_rounding_tolerance_keeps_exact_multiples():
    close = _market({"A": [3.0]})
    # 0.9 * 1000 / 3 = 300 in exact arithmetic, 299.99999999999994 in floating point
    result = engine.simulate(close, _targets(close, {0: [0.9]}), init_cash=1000.0, lot_size=100.0)
    np.testing.assert_allclose(result.positions.iloc[0], [300.0])


def test_simulate_with_untradable_asset_defers_order_to_next_tradable_bar():
    close = _market({"A": [10.0, NAN, NAN, 12.0], "B": [20.0, 20.0, 20.0, 20.0]})
    result = engine.simulate(close, _targets(close, {1: [0.5, NAN]}), init_cash=1000.0)
    # A cannot trade at bars 1 and 2; the order waits and executes at bar 3:
    # 0.5 * 1000 / 12 = 41.67 shares at 12
    np.testing.assert_allclose(result.positions["A"], [0.0, 0.0, 0.0, 500.0 / 12.0])
    assert result.trades["date"].tolist() == [close.index[3]]


def test_simulate_with_newer_target_replaces_pending_order():
    close = _market({"A": [10.0, NAN, NAN, 12.0]})
    result = engine.simulate(close, _targets(close, {1: [0.5], 2: [0.2]}), init_cash=1000.0)
    # the 0.5 given at bar 1 is replaced by 0.2 at bar 2; one fill: 0.2 * 1000 / 12
    np.testing.assert_allclose(result.positions["A"].iloc[-1], 200.0 / 12.0)
    assert len(result.trades) == 1


def test_simulate_with_nan_weight_keeps_position_and_pending_order():
    close = _market({"A": [10.0, 10.0, 11.0], "B": [10.0, NAN, 10.0]})
    result = engine.simulate(
        close, _targets(close, {0: [0.5, NAN], 1: [NAN, 0.4], 2: [NAN, NAN]}), init_cash=1000.0
    )
    # A bought at bar 0 and left alone; B's order from bar 1 waits for bar 2 where the value
    # before trading is 500 cash + 50 * 11 = 1050, so B = 0.4 * 1050 / 10 = 42
    np.testing.assert_allclose(result.positions["A"], [50.0, 50.0, 50.0])
    np.testing.assert_allclose(result.positions["B"], [0.0, 0.0, 42.0])


def test_simulate_with_rotation_sells_before_buys_so_freed_cash_funds_purchase():
    close = _market({"A": [10.0, 10.0], "B": [20.0, 20.0]})
    result = engine.simulate(
        close, _targets(close, {0: [1.0, 0.0], 1: [0.0, 1.0]}), init_cash=1000.0
    )
    # bar 1: cash is 0 until A's 100 shares are sold for 1000, which then buys 50 B
    np.testing.assert_allclose(result.positions.iloc[1], [0.0, 50.0])
    assert result.trades["side"].tolist() == ["buy", "sell", "buy"]
    assert result.shortfall.sum() == 0.0


def test_simulate_with_unfundable_buys_scales_them_pro_rata_and_records_shortfall():
    close = _market({"A": [10.0], "B": [20.0]})
    result = engine.simulate(close, _targets(close, {0: [0.6, 0.6]}), init_cash=1000.0)
    # wanted 600 + 600 = 1200 with 1000 cash: both scaled by 1000/1200
    # A 60 -> 50 shares, B 30 -> 25 shares; shortfall 1200 - 1000 = 200
    np.testing.assert_allclose(result.positions.iloc[0], [50.0, 25.0])
    np.testing.assert_allclose(result.shortfall, [200.0])
    np.testing.assert_allclose(result.cash, [0.0], atol=1e-12)


def test_simulate_with_unfundable_buys_and_lots_rounds_scaled_orders_down():
    close = _market({"A": [10.0], "B": [20.0]})
    result = engine.simulate(
        close, _targets(close, {0: [0.6, 0.6]}), init_cash=1000.0, lot_size=10.0
    )
    # scaled 50 and 25 round down to lots: 50 and 20; shortfall (60-50)*10 + (30-20)*20 = 300
    np.testing.assert_allclose(result.positions.iloc[0], [50.0, 20.0])
    np.testing.assert_allclose(result.shortfall, [300.0])
    np.testing.assert_allclose(result.cash, [100.0])


def test_simulate_with_unfundable_buys_and_fees_keeps_cash_non_negative():
    close = _market({"A": [10.0], "B": [20.0]})
    result = engine.simulate(
        close, _targets(close, {0: [0.6, 0.6]}), init_cash=1000.0, fees=0.01, fixed_fees=1.0
    )
    # need(s) <= s * 1200 * 1.01 + 2 fixed, so s = (1000 - 2) / 1212
    scale = 998.0 / 1212.0
    np.testing.assert_allclose(result.positions.iloc[0], [60.0 * scale, 30.0 * scale])
    # spent: 1200 s + 0.01 * 1200 s + 2 = 1000 exactly
    np.testing.assert_allclose(result.cash, [0.0], atol=1e-9)


def test_simulate_with_leverage_cap_scales_increasing_orders_and_lets_cash_go_negative():
    close = _market({"A": [10.0], "B": [20.0]})
    result = engine.simulate(
        close, _targets(close, {0: [1.0, 1.0]}), init_cash=1000.0, max_leverage=1.5
    )
    # wanted gross 2000 with a cap of 1.5 * 1000: scale 0.75 -> A 75, B 37.5
    # cash 1000 - 1500 = -500 (margin), gross / value = 1500 / 1000
    np.testing.assert_allclose(result.positions.iloc[0], [75.0, 37.5])
    np.testing.assert_allclose(result.cash, [-500.0])
    np.testing.assert_allclose(result.gross_exposure, [1.5])
    np.testing.assert_allclose(result.shortfall, [500.0])


def test_simulate_with_leverage_cap_scales_short_increases_too():
    close = _market({"A": [10.0], "B": [20.0]})
    result = engine.simulate(
        close, _targets(close, {0: [1.0, -1.0]}), init_cash=1000.0, max_leverage=1.5
    )
    # A +1000 and B -1000 both add gross: scale 0.75 -> A 75, B -37.5
    np.testing.assert_allclose(result.positions.iloc[0], [75.0, -37.5])


def test_simulate_with_leverage_cap_never_scales_position_reductions():
    close = _market({"A": [10.0, 5.0], "B": [10.0, 10.0]})
    # bar 0: A 100 shares (gross 1.0). bar 1: A halves, value 500; target A 0.2, B 1.0
    # A: 0.2 * 500 / 5 = 20 shares, a reduction of 80 (kept in full)
    # B: 500 / 10 = 50 shares would make gross (100 + 500) / 500 = 1.2 > 1.0
    # room = 1.0 * 500 - 20 * 5 = 400 -> B scaled to 40 shares
    result = engine.simulate(
        close, _targets(close, {0: [1.0, 0.0], 1: [0.2, 1.0]}), init_cash=1000.0, max_leverage=1.0
    )
    np.testing.assert_allclose(result.positions.iloc[1], [20.0, 40.0])
    np.testing.assert_allclose(result.gross_exposure.iloc[1], 1.0)


@pytest.mark.parametrize(
    ("fees", "fixed", "minimum", "expected_fee"),
    [
        (0.01, 0.0, 0.0, 5.0),  # 1% of 500
        (0.01, 2.0, 0.0, 7.0),  # 1% of 500 + 2 fixed
        (0.01, 0.0, 8.0, 8.0),  # the minimum 8 beats 5
        (0.01, 2.0, 8.0, 10.0),  # minimum, then the fixed fee on top
        (0.0, 3.0, 0.0, 3.0),  # fixed only
    ],
)
def test_simulate_with_fee_schedule_charges_max_of_rate_and_minimum_plus_fixed(
    fees, fixed, minimum, expected_fee
):
    close = _market({"A": [10.0, 10.0]})
    result = engine.simulate(
        close,
        _targets(close, {0: [0.5]}),
        init_cash=1000.0,
        fees=fees,
        fixed_fees=fixed,
        min_fees=minimum,
    )
    # 50 shares at 10 = 500 traded
    assert result.trades["fees"].tolist() == [pytest.approx(expected_fee)]
    np.testing.assert_allclose(result.value, [1000.0 - expected_fee] * 2)
    np.testing.assert_allclose(result.costs["fees"].sum(), expected_fee)


@pytest.mark.parametrize(
    ("cash", "expected_fee"),
    [
        # 50 shares at 10 = 500: commission max(0.1% * 500, 3) = 3; settlement
        # 0.002% * 500 = 0.01 -> its minimum 2; levy 0.01% * 500 = 0.05
        (1_000.0, 3.0 + 2.0 + 0.05),
        # 500,000 shares at 10 = 5,000,000: commission 5000; settlement 100 (0.002% is
        # exactly its maximum); levy 500
        (10_000_000.0, 5000.0 + 100.0 + 500.0),
        # 10x that: the settlement fee stays at its maximum 100
        (100_000_000.0, 50_000.0 + 100.0 + 5000.0),
    ],
)
def test_simulate_with_charges_clips_each_charge_to_its_minimum_and_maximum(cash, expected_fee):
    close = _market({"A": [10.0, 10.0]})
    result = engine.simulate(
        close,
        _targets(close, {0: [0.5]}),
        init_cash=cash,
        fees=0.001,
        min_fees=3.0,
        charges=[engine.Charge(0.00002, 2.0, 100.0), engine.Charge(0.0001)],
    )
    assert result.trades["fees"].tolist() == [pytest.approx(expected_fee)]
    np.testing.assert_allclose(result.value, [cash - expected_fee] * 2)


def test_simulate_with_charge_maximum_below_minimum_raises():
    close = _market({"A": [10.0, 10.0]})
    with pytest.raises(engine.SimulationError, match=r"charges\[0\]: maximum is below"):
        engine.simulate(close, _targets(close, {0: [0.5]}), charges=[engine.Charge(0.1, 5.0, 1.0)])


def test_simulate_with_unchanged_target_makes_no_order_and_pays_no_fixed_fee():
    close = _market({"A": [10.0, 10.0]})
    result = engine.simulate(
        close,
        _targets(close, {0: [30.0], 1: [30.0]}),
        init_cash=1000.0,
        fixed_fees=1.0,
        size_type="target_quantity",
    )
    # bar 0 buys 30 shares (fee 1); at bar 1 the target equals the holding: no order, no fee
    assert len(result.trades) == 1
    np.testing.assert_allclose(result.value, [999.0, 999.0])


def test_simulate_with_taxes_charges_sell_tax_on_sells_and_buy_tax_on_buys():
    close = _market({"A": [10.0, 12.0]})
    result = engine.simulate(
        close,
        _targets(close, {0: [0.5], 1: [0.0]}),
        init_cash=1000.0,
        sell_tax=0.001,
        buy_tax=0.002,
    )
    # buy 50 at 10: buy tax 0.002 * 500 = 1.0; sell 50 at 12: sell tax 0.001 * 600 = 0.6
    np.testing.assert_allclose(result.trades["tax"], [1.0, 0.6])
    # cash: 1000 - 500 - 1 + 600 - 0.6 = 1098.4
    np.testing.assert_allclose(result.value.iloc[-1], 1098.4)
    np.testing.assert_allclose(result.costs["taxes"], [1.0, 0.6])


def test_simulate_with_slippage_moves_fill_price_not_target_quantity():
    close = _market({"A": [10.0, 12.0]})
    result = engine.simulate(
        close, _targets(close, {0: [0.5], 1: [0.0]}), init_cash=1000.0, slippage=0.01
    )
    # target 0.5 * 1000 / 10 = 50 shares from the quote; filled at 10.10 (cost 505)
    # bar 1: sold at 12 * 0.99 = 11.88 -> cash 1000 - 505 + 594 = 1089
    np.testing.assert_allclose(result.trades["qty"], [50.0, -50.0])
    np.testing.assert_allclose(result.trades["price"], [10.1, 11.88])
    np.testing.assert_allclose(result.trades["slippage"], [5.0, 6.0])
    np.testing.assert_allclose(result.value, [1000.0 - 5.0, 1089.0])


def test_simulate_with_short_credits_proceeds_and_charges_borrow_per_calendar_day():
    # Friday 2024-01-05 and Monday 2024-01-08: three calendar days apart
    close = pd.DataFrame({"A": [10.0, 11.0]}, index=pd.to_datetime(["2024-01-05", "2024-01-08"]))
    result = engine.simulate(
        close, _targets(close, {0: [-0.5]}), init_cash=1000.0, borrow_rate=0.365
    )
    # short 50 at 10: cash 1500. Borrow on Friday's short value 500 for 3 days:
    # 500 * 0.365 * 3 / 365 = 1.5. Monday value: 1500 - 1.5 - 50 * 11 = 948.5
    np.testing.assert_allclose(result.cash, [1500.0, 1498.5])
    np.testing.assert_allclose(result.costs["borrow"], [0.0, 1.5])
    np.testing.assert_allclose(result.value, [1000.0, 948.5])


def test_simulate_with_per_asset_borrow_rates_charges_only_shorts():
    close = pd.DataFrame(
        {"A": [10.0, 10.0], "B": [10.0, 10.0]}, index=pd.to_datetime(["2024-01-01", "2024-01-02"])
    )
    result = engine.simulate(
        close,
        _targets(close, {0: [0.5, -0.5]}),
        init_cash=1000.0,
        borrow_rate={"A": 0.73, "B": 0.365},
    )
    # only B is short: 500 * 0.365 / 365 = 0.5 for one day; A's rate never applies
    np.testing.assert_allclose(result.costs["borrow"], [0.0, 0.5])


def test_simulate_with_cash_rate_pays_interest_on_positive_and_charges_negative_cash():
    index = pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-12"])
    close = pd.DataFrame({"A": [10.0, 10.0, 10.0]}, index=index)
    result = engine.simulate(
        close, _targets(close, {1: [1.5]}), init_cash=1000.0, cash_rate=0.0365, max_leverage=2.0
    )
    # 10 days on 1000 cash: 1000 * 0.0365 * 10 / 365 = 1.0 -> value 1001 before trading
    # bar 1: buy 1.5 * 1001 / 10 = 150.15 shares, cash 1001 - 1501.5 = -500.5
    # 1 day on -500.5: -500.5 * 0.0365 / 365 = -0.05005
    np.testing.assert_allclose(result.costs["interest"], [0.0, 1.0, -0.05005])
    np.testing.assert_allclose(result.cash, [1000.0, -500.5, -500.55005])


def test_simulate_with_foreign_asset_converts_at_bar_fx_and_charges_conversion_cost():
    close = _market({"USD1": [50.0, 50.0], "HK1": [100.0, 110.0]})
    fx = pd.DataFrame({"HKD": [0.128, 0.125]}, index=close.index)
    result = engine.simulate(
        close,
        _targets(close, {0: [0.0, 0.5]}),
        init_cash=1000.0,
        fx=fx,
        currency={"USD1": "USD", "HK1": "HKD"},
        fx_cost=0.001,
    )
    # 0.5 * 1000 USD / (100 HKD * 0.128 USD/HKD) = 39.0625 shares; traded 500 USD
    # conversion cost 0.001 * 500 = 0.5 (only the HKD asset); cash 1000 - 500 - 0.5 = 499.5
    # bar 1: 39.0625 * 110 * 0.125 = 537.109375 -> value 1036.609375
    np.testing.assert_allclose(result.positions["HK1"].iloc[0], 39.0625)
    np.testing.assert_allclose(result.trades["fx_cost"], [0.5])
    np.testing.assert_allclose(result.trades["fx"], [0.128])
    np.testing.assert_allclose(result.value, [999.5, 1036.609375])


def test_simulate_with_missing_fx_rate_carries_the_last_known_rate():
    close = _market({"HK1": [100.0, 100.0, 100.0]})
    fx = pd.DataFrame({"HKD": [0.128, NAN, 0.125]}, index=close.index)
    result = engine.simulate(
        close,
        _targets(close, {0: [0.64]}),
        init_cash=1000.0,
        fx=fx,
        currency=["HKD"],
        base_currency="USD",
    )
    # 640 / (100 * 0.128) = 50 shares; bar 1 keeps 0.128; bar 2: 50 * 100 * 0.125 = 625
    np.testing.assert_allclose(result.value, [1000.0, 1000.0, 360.0 + 625.0])


def test_simulate_with_trades_records_every_fill_with_exposure_and_turnover():
    close = _market({"A": [10.0, 10.0], "B": [20.0, 20.0]})
    result = engine.simulate(close, _targets(close, {0: [0.5, -0.3]}), init_cash=1000.0, fees=0.001)
    trades = result.trades
    # sorted by signed value: the short sale first (-300), then the buy (+500)
    assert trades["symbol"].tolist() == ["B", "A"]
    np.testing.assert_allclose(trades["qty"], [-15.0, 50.0])
    np.testing.assert_allclose(trades["value"], [-300.0, 500.0])
    np.testing.assert_allclose(trades["fees"], [0.3, 0.5])
    # value after fees 999.2; gross 800 / 999.2, net 200 / 999.2, turnover 800 / 1000
    np.testing.assert_allclose(result.gross_exposure.iloc[0], 800.0 / 999.2)
    np.testing.assert_allclose(result.net_exposure.iloc[0], 200.0 / 999.2)
    np.testing.assert_allclose(result.turnover, [0.8, 0.0])


def test_simulate_with_open_execution_trades_at_open_and_values_at_close():
    close = _market({"A": [10.0, 12.0]})
    opens = _market({"A": [8.0, 11.0]})
    result = engine.simulate(close, _targets(close, {0: [1.0]}), init_cash=1000.0, exec_price=opens)
    # buy 1000 / 8 = 125 at the open; value at the close 125 * 10 = 1250, then 1500
    np.testing.assert_allclose(result.positions["A"], [125.0, 125.0])
    np.testing.assert_allclose(result.value, [1250.0, 1500.0])


def test_simulate_with_target_quantity_and_target_value_size_types():
    close = _market({"A": [10.0, 10.0], "B": [20.0, 20.0]})
    by_qty = engine.simulate(
        close, _targets(close, {0: [30.0, -5.0]}), init_cash=1000.0, size_type="target_quantity"
    )
    np.testing.assert_allclose(by_qty.positions.iloc[0], [30.0, -5.0])
    by_value = engine.simulate(
        close, _targets(close, {0: [450.0, -100.0]}), init_cash=1000.0, size_type="target_value"
    )
    # 450 / 10 = 45 shares; -100 / 20 = -5 shares
    np.testing.assert_allclose(by_value.positions.iloc[0], [45.0, -5.0])


def test_simulate_with_list_of_weights_runs_k_portfolios_like_separate_calls():
    close = _market({"A": [10.0, 11.0, 9.0], "B": [20.0, 19.0, 22.0]})
    first = _targets(close, {0: [0.5, 0.5]})
    second = _targets(close, {0: [1.0, -0.5], 2: [0.0, 0.0]})
    batch = engine.simulate(close, [first, second], init_cash=[1000.0, 2000.0], fees=0.001)
    assert len(batch) == 2
    for k, weights in enumerate([first, second]):
        alone = engine.simulate(close, weights, init_cash=[1000.0, 2000.0][k], fees=0.001)
        np.testing.assert_array_equal(batch[k].value, alone.value)
        np.testing.assert_array_equal(batch.value[k], alone.value)


def test_simulate_with_total_loss_closes_every_position_at_that_close_with_costs():
    close = _market({"A": [10.0, 25.0, 30.0, 5.0]})
    with pytest.warns(BankruptcyWarning, match="2024-01-02"):
        result = engine.simulate(
            close, _targets(close, {0: [-1.0], 2: [0.5]}), init_cash=1000.0, fees=0.01
        )
    # bar 0: short 100 at 10, fee 10: cash 1000 + 1000 - 10 = 1990, value 1990 - 1000 = 990
    # bar 1: value 1990 - 100 * 25 = -510 <= 0: bankrupt; buy the 100 back at 25, fee 25:
    #        cash 1990 - 2500 - 25 = -535; nothing held, so the value is -535
    # bars 2, 3: flat at -535; the bar-2 target is not traded
    assert result.bankrupt_at == close.index[1]
    np.testing.assert_allclose(result.value, [990.0, -535.0, -535.0, -535.0])
    np.testing.assert_allclose(result.cash, [1990.0, -535.0, -535.0, -535.0])
    np.testing.assert_allclose(result.positions["A"], [-100.0, 0.0, 0.0, 0.0])
    assert result.trades["qty"].tolist() == [-100.0, 100.0]
    assert result.trades["date"].tolist() == [close.index[0], close.index[1]]
    np.testing.assert_allclose(result.trades["fees"], [10.0, 25.0])


def test_simulate_with_total_loss_closes_at_the_close_with_slippage_and_open_execution():
    close = _market({"A": [10.0, 25.0, 30.0]})
    opens = _market({"A": [10.0, 12.0, 30.0]})
    with pytest.warns(BankruptcyWarning):
        result = engine.simulate(
            close,
            _targets(close, {0: [-1.0]}),
            init_cash=1000.0,
            slippage=0.1,
            exec_price=opens,
        )
    # bar 0: short 100 at the open 10, filled at 9: cash 1900, value 1900 - 1000 = 900
    # bar 1: value at the close 1900 - 2500 = -600: bought back at the close 25 plus
    #        slippage, 27.5: cash 1900 - 2750 = -850
    np.testing.assert_allclose(result.value, [900.0, -850.0, -850.0])
    np.testing.assert_allclose(result.trades["price"], [9.0, 27.5])


def test_simulate_after_total_loss_accrues_no_interest_or_borrow():
    close = _market({"A": [10.0, 25.0, 26.0, 27.0]})
    with pytest.warns(BankruptcyWarning):
        result = engine.simulate(
            close,
            _targets(close, {0: [-1.0]}),
            init_cash=1000.0,
            borrow_rate=0.365,
            cash_rate=0.365,
        )
    # daily bars, ACT/365: 0.1% a day. bar 0: short 100 at 10, cash 2000, value 1000
    # bar 1: interest 2000 * 0.001 = 2, borrow 100 * 10 * 0.001 = 1: cash 2001,
    #        value 2001 - 2500 = -499: bankrupt, buy back at 25: cash -499
    # bars 2, 3: no interest on the debt, no borrow, no trading: flat at -499
    np.testing.assert_allclose(result.value, [1000.0, -499.0, -499.0, -499.0])
    np.testing.assert_allclose(result.costs["interest"], [0.0, 2.0, 0.0, 0.0])
    np.testing.assert_allclose(result.costs["borrow"], [0.0, 1.0, 0.0, 0.0])


def test_simulate_with_value_exactly_zero_is_bankrupt_and_keeps_finite_returns():
    close = _market({"A": [10.0, 20.0, 21.0]})
    with pytest.warns(BankruptcyWarning, match="2024-01-02"):
        result = engine.simulate(close, _targets(close, {0: [-1.0]}), init_cash=1000.0)
    # short 100 at 10: cash 2000; at 20 the value is 0: bankrupt, bought back at 20
    np.testing.assert_allclose(result.value, [1000.0, 0.0, 0.0])
    np.testing.assert_allclose(result.returns, [0.0, -1.0, 0.0])  # flat at zero: no 0 / 0
    np.testing.assert_allclose(result.gross_exposure, [1.0, 0.0, 0.0])


def test_simulate_with_bankruptcy_says_which_position_lost_and_how():
    close = _market({"A": [10.0, 10.0, 10.0], "Q": [100.0, 100.0, 260.0]})
    with pytest.warns(BankruptcyWarning, match=r"short Q lost 16,000") as caught:
        result = engine.simulate(close, _targets(close, {0: [1.0, -1.0]}), init_cash=10000.0)
    # long 1000 A, short 100 Q: cash 10000; at Q 260: value 10000 - 26000 + 10000 = -6000
    # the short lost 100 * (260 - 100) = 16,000 over the bar; A did not move
    assert len(caught) == 1
    assert result.bankruptcy.date == close.index[2]
    assert result.bankruptcy.cause == (
        "short Q lost 16,000 on the bar as Q rose from 100 to 260 (+160.0%)"
    )
    assert engine.simulate(close, _targets(close, {0: [0.5, 0.0]})).bankruptcy is None


def test_simulate_with_value_that_overflows_names_the_bar_and_the_asset():
    close = _market({"A": [10.0, 1e307, 10.0]})
    with pytest.raises(SimulationError, match=r"2024-01-02.*short position in A .*not finite"):
        engine.simulate(close, _targets(close, {0: [-1.0]}), init_cash=1000.0)


def test_simulate_with_initial_cash_beyond_1e15_is_an_error():
    close = _market({"A": [10.0, 11.0]})
    with pytest.raises(SimulationError, match=r"init_cash must be at most 1e\+15, was 1e\+308"):
        engine.simulate(close, _targets(close, {0: [0.5]}), init_cash=1e308)


def test_schedule_with_nan_targets_finds_the_first_bar_whose_gross_is_above_the_limit():
    from engine.kernel.sim_nb import targets_nb

    raw = np.array(
        [
            [[0.5, NAN], [6.0, -5.0], [20.0, 0.0]],  # |6| + |-5| = 11 > 10 first at bar 1
            [[1.0, 1.0], [NAN, NAN], [10.0, 0.0]],  # 10 is not above 10
        ]
    )
    daily = (np.ones(3, dtype=bool), False, 0, 0, 0, np.full(2, -1, dtype=np.int64), 10.0)
    out, rows = np.empty_like(raw), np.empty((2, 3), dtype=np.int64)
    bar, gross = np.empty(2, dtype=np.int64), np.empty(2)
    targets_nb(raw, *daily, out, rows, bar, gross)
    assert bar.tolist() == [1, -1]
    assert gross.tolist() == [11.0, 0.0]
    assert rows.tolist() == [[1, 2, 2], [2, 0, 2]]
    # a daily schedule without lag or warm-up keeps every decision as it is
    np.testing.assert_array_equal(out, raw)


def test_bankruptcy_cause_with_an_asset_that_has_no_close_yet_names_the_loser():
    close = _market({"A": [NAN, NAN], "Q": [100.0, 400.0]})
    opens = _market({"A": [10.0, 10.0], "Q": [100.0, 100.0]})
    with pytest.warns(BankruptcyWarning):
        result = engine.simulate(
            close, _targets(close, {0: [1.0, -1.0]}), init_cash=1000.0, exec_price=opens
        )
    # at the open: short 10 Q at 100, long 100 A at 10 (A has no close: valued at 10)
    # bar 1: 1000 + 100 * 10 - 10 * 400 = -2000; the short lost 10 * 300 = 3,000
    assert result.bankruptcy.cause.startswith("short Q lost 3,000 on the bar")
