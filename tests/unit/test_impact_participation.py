"""Hand-computed cases of the square-root impact model and the participation cap.

Every expected number is worked out in the test's comments from the rules of issue 22:
a fill of d units at quote px moves its price by ``slippage + half_spread + c sqrt|d|``
with ``c = k sigma / sqrt(ADV)``, and an order may take at most ``participation`` of a
bar's volume (the previous bar's when executing at the open; NaN or 0 volume: no cap),
the rest waiting, still pending, for later bars. Each case runs through the oracle and
then the kernel (`tests.risk_views.both`).
"""

from __future__ import annotations

import math

import numpy as np

from engine.inputs import trailing_liquidity
from tests.reference_risk import trailing_liquidity_reference
from tests.risk_views import both, frame

NAN = math.nan


def _close(actual, expected, what, view):
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-9, err_msg=f"{view} {what}")


def test_trailing_liquidity_with_zero_and_missing_volume_returns_hand_values():
    # returns of bars 1..5: +10%, -10%, +10%, -10%, 0%; window 4, at least 2 observations
    close = frame([[100.0], [110.0], [99.0], [108.9], [98.01], [98.01]])
    volume = frame([[1000.0], [0.0], [3000.0], [None], [5000.0], [7000.0]])
    # bar 3: returns of bars 1, 2 = +.1, -.1: mean 0, var (.01 + .01) / 1
    # bar 4: +.1, -.1, +.1: mean 1/30, squares 2 * (1/15)^2 + (2/15)^2 = 6/225, var 3/225
    # bar 5: +.1, -.1, +.1, -.1: mean 0, var .04 / 3 (= 3/225 too)
    sigma = [NAN, NAN, NAN, math.sqrt(0.02), math.sqrt(3 / 225), math.sqrt(0.04 / 3)]
    # ADV leaves out the 0 and the NaN: bar 3 {1000, 3000}, bar 4 the same, bar 5 {3000, 5000}
    adv = [NAN, NAN, NAN, 2000.0, 2000.0, 4000.0]
    volatility, mean_volume = trailing_liquidity(close, volume, 4)
    np.testing.assert_allclose(volatility.to_numpy()[:, 0], sigma, rtol=1e-12)
    np.testing.assert_allclose(mean_volume.to_numpy()[:, 0], adv, rtol=1e-12)
    ref_sigma, ref_adv = trailing_liquidity_reference(close.to_numpy(), volume.to_numpy(), 4)
    np.testing.assert_allclose(ref_sigma[:, 0], sigma, rtol=1e-12)
    np.testing.assert_allclose(ref_adv[:, 0], adv, rtol=1e-12)


def test_impact_with_square_root_model_moves_fill_price_and_reports_impact_cost():
    close = frame([[100.0], [100.0], [100.0]])
    weights = frame([[0.1], [None], [0.0]])
    # c = 0.5 * 0.02 / sqrt(10000) = 1e-4; 100 shares: c * sqrt(100) = 0.001
    # fraction = slippage .0005 + half-spread .001 + .001 = .0025
    for view in both(
        close,
        weights,
        init_cash=100_000.0,
        slippage=0.0005,
        half_spread=0.001,
        impact=0.5,
        volatility=frame([[0.02]] * 3),
        adv=frame([[10_000.0]] * 3),
    ):
        # bar 0 buys 0.1 * 100000 / 100 = 100 at 100.25; bar 2 sells them at 99.75
        _close([f["price"] for f in view.fills], [100.25, 99.75], "fill prices", view.source)
        _close([f["qty"] for f in view.fills], [100.0, -100.0], "fill quantities", view.source)
        # slippage 100 * 100 * .0005 = 5; impact 100 * 100 * (.001 + .001) = 20, per fill
        _close(view.stats["slippage"], [5.0, 0.0, 5.0], "slippage", view.source)
        _close(view.stats["impact"], [20.0, 0.0, 20.0], "impact", view.source)
        _close([f["impact"] for f in view.fills], [20.0, 20.0], "fill impact", view.source)
        # each fill costs 25 against the quote
        _close(view.value, [99_975.0, 99_975.0, 99_950.0], "value", view.source)


def test_impact_without_volatility_and_adv_computes_them_from_close_and_volume():
    close = frame([[100.0], [110.0], [99.0], [108.9], [98.01], [98.01]])
    volume = frame([[1000.0], [0.0], [3000.0], [None], [5000.0], [7000.0]])
    weights = frame([[None]] * 5 + [[0.156816]])  # 0.156816 * 10000 / 98.01 = 16 shares
    # at bar 5 (window 4): sigma = sqrt(.04 / 3), ADV = (3000 + 5000) / 2 = 4000
    c = 0.1 * math.sqrt(0.04 / 3) / math.sqrt(4000.0)
    price = 98.01 * (1.0 + c * 4.0)  # sqrt(16) = 4
    for view in both(
        close,
        weights,
        init_cash=10_000.0,
        lot_size=1.0,
        volume=volume,
        impact=0.1,
        impact_window=4,
    ):
        _close([f["price"] for f in view.fills], [price], "fill price", view.source)
        _close(view.stats["impact"][5], 16 * 98.01 * c * 4.0, "impact", view.source)
        _close(view.value[5], 10_000.0 - 16 * 98.01 * c * 4.0, "value", view.source)


def test_participation_with_close_execution_cuts_orders_and_fills_the_rest_later():
    close = frame([[100.0], [200.0], [200.0]])
    volume = frame([[100.0], [50.0], [None]])
    weights = frame([[0.5], [None], [None]])
    for view in both(close, weights, init_cash=10_000.0, volume=volume, participation=0.1):
        # bar 0: target 0.5 * 10000 / 100 = 50, cap 0.1 * 100 = 10: buy 10, 4000 unfilled
        # bar 1: value 9000 + 10 * 200 = 11000, target 27.5, order 17.5, cap 5: buy 5,
        #        12.5 * 200 = 2500 unfilled (the target is resolved with bar 1's value)
        # bar 2: volume unknown, no cap: value 8000 + 15 * 200 = 11000, buy 12.5 to 27.5
        _close(view.qty[:, 0], [10.0, 15.0, 27.5], "quantities", view.source)
        _close(view.stats["unfilled"], [4000.0, 2500.0, 0.0], "unfilled", view.source)
        _close(view.value, [10_000.0, 11_000.0, 11_000.0], "value", view.source)


def test_participation_with_open_execution_reads_the_previous_bars_volume():
    close = frame([[100.0]] * 4)
    volume = frame([[100.0], [50.0], [0.0], [80.0]])
    weights = frame([[None], [0.5], [None], [None]])
    for view in both(
        close,
        weights,
        init_cash=10_000.0,
        exec_price=close,
        volume=volume,
        participation=0.1,
        execution="open",
    ):
        # bar 1: cap 0.1 * volume[0] = 10 (not 0.1 * 50): buy 10 of 50, 4000 unfilled
        # bar 2: cap 0.1 * volume[1] = 5: buy 5, 35 * 100 unfilled
        # bar 3: volume[2] = 0 is unknown, no cap: buy the last 35 (a close cap would be 8)
        _close(view.qty[:, 0], [0.0, 10.0, 15.0, 50.0], "quantities", view.source)
        _close(view.stats["unfilled"], [0.0, 4000.0, 3500.0, 0.0], "unfilled", view.source)


def test_participation_with_board_lots_rounds_the_cut_toward_zero_and_may_place_nothing():
    close = frame([[100.0]] * 4)
    volume = frame([[150.0], [50.0], [300.0], [None]])
    weights = frame([[0.5], [None], [None], [None]])
    for view in both(
        close, weights, init_cash=10_000.0, lot_size=10.0, volume=volume, participation=0.1
    ):
        # target 50 shares; bar 0: cap 15 rounds to 10; bar 1: cap 5 is below a lot, no
        # order, 40 still unfilled; bar 2: cap 30: buy 30, 10 unfilled; bar 3: no cap
        _close(view.qty[:, 0], [10.0, 10.0, 40.0, 50.0], "quantities", view.source)
        _close(view.stats["unfilled"], [4000.0, 4000.0, 1000.0, 0.0], "unfilled", view.source)
        assert [f["bar"] for f in view.fills] == [0, 2, 3], view.source


def test_participation_at_the_open_skips_a_holiday_row_for_the_last_session_volume():
    # A trades on bars 0, 2 and 3; bar 1 is a holiday of its exchange (another asset's
    # session on a union calendar): no price, no volume
    close = frame([[100.0], [None], [100.0], [100.0]])
    volume = frame([[100.0], [None], [40.0], [200.0]])
    weights = frame([[None], [0.5], [None], [None]])
    for view in both(
        close,
        weights,
        init_cash=10_000.0,
        exec_price=close,
        volume=volume,
        participation=0.1,
        execution="open",
    ):
        # bar 1: A does not trade; bar 2: the last volume before it is bar 0's 100 (not
        # the holiday's NaN, which would lift the cap): buy 10 of 50, 40 * 100 unfilled;
        # bar 3: cap 0.1 * 40 = 4: buy 4, 36 * 100 unfilled
        _close(view.qty[:, 0], [0.0, 0.0, 10.0, 14.0], "quantities", view.source)
        _close(view.stats["unfilled"], [0.0, 0.0, 4000.0, 3600.0], "unfilled", view.source)
