"""Hand-computed cases of the risk limits, the drawdown rule and stops (issue 22).

Prices are round, costs are zero unless a case needs one, and the book starts with
10,000 of cash, so each expected quantity is worked out in the comments. Each case runs
through the oracle and then the kernel (`tests.risk_views.both`).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.inputs import DrawdownRule, GroupLimit
from tests.risk_views import both, frame

CASH = 10_000.0


def _close(actual, expected, what, view):
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-9, err_msg=f"{view} {what}")


def test_name_cap_with_scalar_and_per_asset_limits_clips_each_weight():
    close = frame([[100.0, 100.0, 100.0]] * 2)
    weights = frame([[0.6, 0.3, -0.5], [None] * 3])
    # scalar 0.4: A 0.6 -> 0.4, C -0.5 -> -0.4; cut 0.2 + 0.1
    for view in both(close, weights, init_cash=CASH, max_weight=0.4):
        _close(view.qty[0], [40.0, 30.0, -40.0], "quantities", view.source)
        _close(view.stats["cut_name"], [0.3, 0.0], "cut_name", view.source)
    # per asset (0.4, 0.2, 1.0): B 0.3 -> 0.2 too; cut 0.2 + 0.1
    for view in both(close, weights, init_cash=CASH, max_weight=[0.4, 0.2, 1.0]):
        _close(view.qty[0], [40.0, 20.0, -50.0], "quantities", view.source)
        _close(view.stats["cut_name"], [0.3, 0.0], "cut_name", view.source)


def test_group_gross_limit_scales_every_member_and_leaves_the_rest():
    close = frame([[100.0, 100.0, 100.0]])
    weights = frame([[0.4, -0.4, 0.2]])
    groups = {"tech": GroupLimit(["A", "B"], gross=0.5)}
    for view in both(close, weights, init_cash=CASH, group_limits=groups):
        # gross of {A, B} 0.8 > 0.5: both times 0.625 -> 0.25, -0.25; cut 0.15 + 0.15
        _close(view.qty[0], [25.0, -25.0, 20.0], "quantities", view.source)
        _close(view.stats["cut_group"], [0.3], "cut_group", view.source)
        _close(view.stats["cut_net"], [0.0], "cut_net", view.source)


def test_group_net_band_scales_the_dominant_side_above_and_below():
    close = frame([[100.0, 100.0, 100.0]] * 2)
    weights = frame([[0.5, 0.2, -0.3], [-0.4, 0.1, -0.2]])
    groups = {"all": GroupLimit(["A", "B", "C"], net=(-0.1, 0.2))}
    # bar 0: net 0.4 > 0.2; longs L = 0.7, shorts S = -0.3: longs times (0.2 + 0.3) / 0.7
    #        -> A 5/14, B 1/7 (cut 0.7 - 0.5 = 0.2); value 10000 -> A 35.714.., B 14.285..
    # bar 1: net -0.5 < -0.1; L = 0.1, S = -0.6: shorts times (-0.1 - 0.1) / -0.6 = 1/3
    #        -> A -0.4/3, C -0.2/3 (cut 0.6 - 0.2 = 0.4)
    for view in both(close, weights, init_cash=CASH, group_limits=groups):
        _close(view.qty[0], [CASH * 5 / 14 / 100, CASH / 7 / 100, -30.0], "bar 0", view.source)
        _close(view.qty[1], [-40.0 / 3, 10.0, -20.0 / 3], "bar 1", view.source)
        _close(view.stats["cut_group"], [0.2, 0.4], "cut_group", view.source)


def test_portfolio_net_band_scales_the_dominant_side_above_and_below():
    close = frame([[100.0, 100.0, 100.0]] * 2)
    weights = frame([[0.5, 0.3, -0.2], [-0.5, -0.3, 0.1]])
    # bar 0: net 0.6 > 0.3; L 0.8, S -0.2: longs times 0.5 / 0.8 -> 0.3125, 0.1875 (cut 0.3)
    # bar 1: net -0.7 < -0.1; L 0.1, S -0.8: shorts times -0.2 / -0.8 -> -0.125, -0.075
    #        (cut 0.6)
    for view in both(close, weights, init_cash=CASH, net_exposure=(-0.1, 0.3)):
        _close(view.qty[0], [31.25, 18.75, -20.0], "bar 0", view.source)
        _close(view.qty[1], [-12.5, -7.5, 10.0], "bar 1", view.source)
        _close(view.stats["cut_net"], [0.3, 0.6], "cut_net", view.source)
        _close(view.stats["cut_group"], [0.0, 0.0], "cut_group", view.source)


def test_overlapping_groups_need_a_second_pass_to_meet_every_limit():
    close = frame([[100.0, 100.0, 100.0]])
    weights = frame([[0.3, -0.3, 0.3]])
    groups = {
        "pair": GroupLimit(["A", "B"], net=(-0.1, 0.1)),
        "overlap": GroupLimit(["B", "C"], gross=0.3),
    }
    # pass 1: pair net 0 is fine; overlap gross 0.6 > 0.3: B, C times 0.5 -> -0.15, 0.15
    #         (cut 0.3), which leaves pair's net at 0.3 - 0.15 = 0.15 > 0.1
    # pass 2: pair L = 0.3, S = -0.15: A times (0.1 + 0.15) / 0.3 -> 0.25 (cut 0.05)
    # pass 3 changes nothing
    for view in both(close, weights, init_cash=CASH, group_limits=groups):
        _close(view.qty[0], [25.0, -15.0, 15.0], "quantities", view.source)
        _close(view.stats["cut_group"], [0.35], "cut_group", view.source)


def test_limits_retarget_a_group_member_that_is_not_in_the_row():
    close = frame([[100.0, 100.0, 100.0], [100.0, 100.0, 120.0], [100.0, 100.0, 120.0]])
    weights = frame([[0.3, 0.3, 0.2], [None] * 3, [0.5, None, None]])
    groups = {"pair": GroupLimit(["A", "B"], gross=0.6)}
    # bar 0: gross 0.6 is at the limit: A 30, B 30, C 20, cash 2000
    # bar 2: the row asks A 0.5; B still wants 0.3: gross 0.8 -> both times 0.75:
    #        A 0.375, B 0.225 (cut 0.125 + 0.075); B's limited weight changed, so B is
    #        re-targeted too; C's did not, so C keeps its 20 shares (now 24% of the book)
    #        value 2000 + 3000 + 3000 + 20 * 120 = 10400: A 39, B 23.4
    for view in both(close, weights, init_cash=CASH, group_limits=groups):
        _close(view.qty[2], [39.0, 23.4, 20.0], "bar 2", view.source)
        _close(view.stats["cut_group"], [0.0, 0.0, 0.2], "cut_group", view.source)


def test_drawdown_rule_cuts_the_book_and_restores_it_executing_the_bar_after():
    close = frame([[100.0], [95.0], [88.0], [80.0], [84.0], [90.0], [90.0]])
    weights = frame([[1.0]] + [[None]] * 6)
    rule = DrawdownRule(trigger=0.1, fraction=0.5, recovery=0.05)
    # bar 0: 100 shares, value 10000 = peak; bar 1: 9500
    # bar 2: 8800 <= 10000 * 0.9: cutting from the close of bar 2, trough 8800
    # bar 3: the target step re-applies: A 1.0 * 0.5 (cut 0.5); value 8000: sell 50 at 80
    #        cash 4000, trough 8000; bar 4: 4000 + 50 * 84 = 8200 < 8000 * 1.05
    # bar 5: 4000 + 50 * 90 = 8500 >= 8400: restored at the close, peak 8500
    # bar 6: A back to 1.0: 8500 / 90 shares
    for view in both(close, weights, init_cash=CASH, drawdown=rule):
        expected_qty = [100.0, 100.0, 100.0, 50.0, 50.0, 50.0, 8500.0 / 90.0]
        _close(view.qty[:, 0], expected_qty, "quantities", view.source)
        _close(view.stats["drawdown_cutting"], [0, 0, 1, 1, 1, 0, 0], "cutting", view.source)
        _close(view.stats["cut_drawdown"], [0, 0, 0, 0.5, 0, 0, 0], "cut", view.source)
        _close(view.value, [CASH, 9500, 8800, 8000, 8200, 8500, 8500], "value", view.source)


def test_stop_loss_on_a_long_exits_the_bar_after_and_ignores_rows_until_then():
    close = frame([[100.0], [95.0], [89.0], [85.0], [92.5]])
    weights = frame([[0.5], [None], [None], [0.5], [0.5]])
    # bar 0: 50 shares entered at 100, cash 5000; stop at 100 * 0.9 = 90
    # bar 2: close 89 <= 90: stop-loss; bar 3: sell 50 at 85 (the row of bar 3 is ignored:
    #        the exit fills only at bar 3), cash 9250; bar 4: the row is taken again:
    #        0.5 * 9250 / 92.5 = 50 shares
    for view in both(close, weights, init_cash=CASH, stop_loss=0.1):
        _close(view.qty[:, 0], [50.0, 50.0, 50.0, 0.0, 50.0], "quantities", view.source)
        _close(view.stats["stop_losses"], [0, 0, 1, 0, 0], "stop_losses", view.source)
        _close(view.value[3], 9250.0, "value", view.source)


def test_stop_loss_on_a_short_uses_the_entry_price_after_slippage():
    close = frame([[100.0], [108.0], [109.0], [105.0]])
    weights = frame([[-0.5], [None], [None], [None]])
    # bar 0: sell 50 at 100 * (1 - 0.01) = 99: entry 99, stop at 99 * 1.1 = 108.9
    # (the quote's 110 would not be reached); bar 2: 109 >= 108.9: stop-loss
    # bar 3: buy 50 back at 105 * 1.01 = 106.05
    for view in both(close, weights, init_cash=CASH, slippage=0.01, stop_loss=0.1):
        _close(view.qty[:, 0], [-50.0, -50.0, -50.0, 0.0], "quantities", view.source)
        _close([f["price"] for f in view.fills], [99.0, 106.05], "fill prices", view.source)
        _close(view.stats["stop_losses"], [0, 0, 1, 0], "stop_losses", view.source)


def test_take_profit_on_a_long_measures_from_the_average_entry_price():
    close = frame([[100.0], [125.0], [134.0], [136.0], [140.0]])
    weights = frame([[0.2], [0.5], [None], [None], [None]])
    # bar 0: 20 shares at 100, cash 8000; bar 1: value 8000 + 20 * 125 = 10500,
    #        0.5 * 10500 / 125 = 42 -> 40 (lots of 10): buy 20 at 125
    #        entry (20 * 100 + 20 * 125) / 40 = 112.5; take profit at 112.5 * 1.2 = 135
    #        (from the first entry, 125 >= 120 would have fired at bar 1)
    # bar 3: 136 >= 135: take-profit; bar 4: sell 40 at 140
    for view in both(close, weights, init_cash=CASH, lot_size=10.0, take_profit=0.2):
        _close(view.qty[:, 0], [20.0, 40.0, 40.0, 40.0, 0.0], "quantities", view.source)
        _close(view.stats["take_profits"], [0, 0, 0, 1, 0], "take_profits", view.source)
        _close(view.stats["stop_losses"], [0, 0, 0, 0, 0], "stop_losses", view.source)


def test_stop_exit_slowed_by_participation_reenters_on_the_first_row_after_it_filled():
    close = frame([[100.0], [85.0], [85.0], [85.0], [85.0], [85.0]])
    volume = frame([[None], [None], [200.0], [None], [None], [None]])
    weights = frame([[0.5], [None], [None], [0.5], [0.3], [0.3]])
    # bar 0: 50 shares (volume unknown: no cap); bar 1: 85 <= 90: stop-loss
    # bar 2: exit capped at 0.1 * 200 = 20: sell 20, 30 left (2550 unfilled)
    # bar 3: the rest sells; the row of bar 3 is ignored (the exit filled at bar 3)
    # bar 4: the row is taken: value 5000 + 50 * 85 = 9250, 0.3 * 9250 / 85 shares
    for view in both(
        close, weights, init_cash=CASH, stop_loss=0.1, volume=volume, participation=0.1
    ):
        held = 0.3 * 9250.0 / 85.0
        _close(view.qty[:, 0], [50.0, 50.0, 30.0, 0.0, held, held], "quantities", view.source)
        _close(view.stats["unfilled"], [0, 0, 30 * 85.0, 0, 0, 0], "unfilled", view.source)
        _close(view.stats["stop_losses"], [0, 1, 0, 0, 0, 0], "stop_losses", view.source)


def test_stopped_asset_counts_as_zero_in_a_group_and_frees_room_for_the_others():
    close = frame([[100.0, 100.0], [80.0, 100.0], [80.0, 100.0], [80.0, 100.0]])
    weights = frame([[0.3, 0.3], [None, None], [None, 0.5], [None, None]])
    groups = {"pair": GroupLimit(["A", "B"], gross=0.6)}
    # bar 0: A 30, B 30; bar 1: A 80 <= 90: stop-loss; bar 2: A sells 30 at 80
    #        (cash 4000 + 2400 = 6400), and B's row 0.5 meets A counted as 0: gross 0.5
    #        value 6400 + 30 * 100 = 9400: B 0.5 * 9400 / 100 = 47
    # without the stop, B would be cut to 0.6 * 0.5 / 0.8 = 0.375
    for view in both(close, weights, init_cash=CASH, group_limits=groups, stop_loss=0.1):
        _close(view.qty[2], [0.0, 47.0], "bar 2", view.source)
        _close(view.stats["cut_group"], [0.0, 0.0, 0.0, 0.0], "cut_group", view.source)
        assert math.isclose(view.value[2], 9400.0), view.source


@pytest.mark.filterwarnings("ignore::engine.errors.BankruptcyWarning")
def test_drawdown_rule_on_a_bankrupt_bar_is_cutting_at_that_bars_close():
    close = frame([[100.0], [300.0]])
    weights = frame([[-1.0], [None]])
    # bar 0: short 10 at 100, cash 2000, value 1000 = peak
    # bar 1: value 2000 - 10 * 300 = -1000: bankrupt, bought back at 300; the rule then
    #        sees -1000 <= 1000 * 0.9 and is cutting at the bar's close
    for view in both(close, weights, init_cash=1000.0, drawdown=DrawdownRule(0.1, 0.5, 0.05)):
        _close(view.value, [1000.0, -1000.0], "value", view.source)
        _close(view.stats["drawdown_cutting"], [0.0, 1.0], "cutting", view.source)


def test_a_stop_exit_scaled_down_for_cash_is_asked_again_until_it_fills():
    close = frame([[100.0, 100.0], [112.0, 100.0], [110.0, 100.0], [110.0, 100.0]], "AB")
    weights = frame([[-1.0, 1.5], [None, None], [None, None], [None, 0.5]], "AB")
    # bar 0: short 10 A (+1000), buy 15 B (-1500): cash 500, value 1000
    # bar 1: A 112, short loses 12% >= 10%: stop-loss; value 500 - 1120 + 1500 = 880
    # bar 2: buying back 10 A costs 1100 > cash 500: scaled to 500 / 110 = 4.5454 A,
    #        shortfall 600; the exit is asked again
    # bar 3: B's row sells 10.5 B (0.5 * 900 / 100 = 4.5 kept): cash 1050, then the
    #        remaining 5.4545 A are bought back for 600: flat in A, cash 450
    for view in both(close, weights, init_cash=1000.0, stop_loss=0.1):
        _close(view.stats["stop_losses"], [0.0, 1.0, 0.0, 0.0], "stop_losses", view.source)
        _close(view.qty[2], [-10.0 + 500.0 / 110.0, 15.0], "bar 2", view.source)
        _close(view.qty[3], [0.0, 4.5], "bar 3", view.source)
        _close(view.value, [1000.0, 880.0, 900.0, 900.0], "value", view.source)
