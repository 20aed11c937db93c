"""Strategies: weights on tiny hand-made markets, and no look-ahead for every one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from engine.data import Market, synthetic_market
from engine.errors import StrategyError
from engine.lookahead import find_lookahead, sample_cuts
from engine.resolve import registered
from engine.strategy import rank_weights, schedule_rebalance
from strategies import REGISTRY
from strategies.buy_and_hold import BuyAndHold, BuyAndHoldParams
from strategies.equal_weight import EqualWeight, EqualWeightParams
from strategies.factor_rank import FactorRank, FactorRankParams
from strategies.flow_following import FlowFollowing, FlowFollowingParams
from strategies.inverse_volatility import InverseVolatility, InverseVolatilityParams
from strategies.long_short import LongShort, LongShortParams
from strategies.momentum import Momentum, MomentumParams
from strategies.trend import Trend, TrendParams

NAN = np.nan


def _market(close: pd.DataFrame | dict, **kwargs: object) -> Market:
    if isinstance(close, dict):
        close = pd.DataFrame(
            close, index=pd.bdate_range("2024-01-01", periods=len(next(iter(close.values()))))
        )
    return Market(
        close=close,
        open=close,
        currency=dict.fromkeys(close.columns, "USD"),
        lot_size=dict.fromkeys(close.columns, 1.0),
        fx=pd.DataFrame(index=close.index),
        base_currency="USD",
        source="test",
        **kwargs,  # type: ignore[arg-type]
    )


def _prices(returns: list[float], start: float = 100.0) -> list[float]:
    return list(start * np.cumprod([1.0, *(1.0 + np.asarray(returns))]))


# --- schedules ------------------------------------------------------------------


def test_schedule_rebalance_with_monthly_keeps_first_bar_of_each_month():
    index = pd.to_datetime(["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02", "2024-03-04"])
    weights = pd.DataFrame({"A": 1.0}, index=index)
    kept = schedule_rebalance(weights, "monthly")["A"]
    # the first bar (always), the first bar of February and of March
    assert kept.notna().tolist() == [True, False, True, False, True]


def test_schedule_rebalance_with_on_change_keeps_rows_that_differ_from_the_previous():
    index = pd.bdate_range("2024-01-01", periods=6)
    weights = pd.DataFrame(
        {"A": [NAN, 0.5, 0.5, 1.0, 1.0, 1.0], "B": [NAN, NAN, NAN, NAN, 0.0, 0.0]}, index=index
    )
    kept = schedule_rebalance(weights, "on_change")
    # bar 0 counts (all NaN: no instruction anyway); A moves at 1 and 3; B appears at 4
    assert kept.notna().any(axis=1).tolist() == [False, True, False, True, True, False]
    assert kept.iloc[4].tolist() == [1.0, 0.0]


# --- weights on hand-made markets -----------------------------------------------


def test_equal_weight_with_late_listing_weights_only_listed_assets():
    market = _market({"A": [1.0, 1.0, 1.0], "B": [NAN, 2.0, NAN]})
    weights = EqualWeight(EqualWeightParams()).target_weights(market)
    # bar 0: only A listed -> 1.0; bar 1: both -> 0.5 each; bar 2: B listed but not
    # trading (holiday) still gets its half, its order waits for the next trading bar
    expected = pd.DataFrame({"A": [1.0, 0.5, 0.5], "B": [NAN, 0.5, 0.5]}, index=market.index)
    pd.testing.assert_frame_equal(weights, expected)


def test_buy_and_hold_gives_each_weight_once_on_the_assets_first_priced_bar():
    market = _market({"A": [1.0, 1.1, 1.2, 1.3], "B": [NAN, NAN, 5.0, 5.5]})
    weights = BuyAndHold(BuyAndHoldParams(weights={"A": 0.6, "B": 0.3})).target_weights(market)
    expected = pd.DataFrame(
        {"A": [0.6, NAN, NAN, NAN], "B": [NAN, NAN, 0.3, NAN]}, index=market.index
    )
    pd.testing.assert_frame_equal(weights, expected)


def test_inverse_volatility_with_twice_the_volatility_gets_half_the_weight():
    # A moves +-1% and B +-2% every day: B's volatility is exactly twice A's
    market = _market({"A": _prices([0.01, -0.01] * 3), "B": _prices([0.02, -0.02] * 3)})
    weights = InverseVolatility(InverseVolatilityParams(lookback=4)).target_weights(market)
    assert weights.iloc[:4].isna().all().all()  # 4 returns are known from bar 4 on
    np.testing.assert_allclose(weights.iloc[4:].to_numpy(), [[2 / 3, 1 / 3]] * 3)


def test_momentum_longs_the_best_return_from_t_minus_lookback_to_t_minus_skip():
    market = _market(
        {
            "A": [100.0, 110.0, 121.0, 50.0],  # +21% from bar 0 to bar 2, then crashes
            "B": [100.0, 105.0, 110.0, 200.0],
            "C": [100.0, 90.0, 80.0, 70.0],
        }
    )
    params = MomentumParams(lookback=3, skip=1, top=1, bottom=1)
    weights = Momentum(params).target_weights(market)
    # bar 3: scores use bars 0..2 only (skip 1): A +21%, B +10%, C -20%
    assert weights.iloc[3].tolist() == [0.5, 0.0, -0.5]
    assert weights.iloc[:3].isna().all().all()


def test_trend_with_ma_cross_holds_only_while_fast_average_is_above_slow():
    close = [10.0, 11.0, 12.0, 11.0, 10.0, 11.0]
    weights = Trend(TrendParams(fast=1, slow=2)).target_weights(_market({"A": close}))
    # fast = close, slow = 2-bar mean: up at bars 1, 2 and 5; down at 3 and 4
    assert weights["A"].tolist()[1:] == [1.0, 1.0, 0.0, 0.0, 1.0]
    assert np.isnan(weights["A"].iloc[0])


def test_trend_with_tsmom_and_short_goes_short_after_a_negative_lookback_return():
    weights = Trend(TrendParams(signal="tsmom", lookback=2, short=True, gross=2.0)).target_weights(
        _market({"A": [10.0, 12.0, 11.0, 9.0], "B": [10.0, 10.0, 11.0, 12.0]})
    )
    # each asset gets gross / 2 = 1; A: 11 > 10 up, 9 < 12 down; B: 11 > 10, 12 > 10
    assert weights.iloc[2:].to_numpy().tolist() == [[1.0, 1.0], [-1.0, 1.0]]


def test_long_short_dollar_holds_each_basket_equally_weighted_against_the_other():
    market = _market({"A": [1.0] * 3, "B": [2.0] * 3, "H": [3.0] * 3}, groups={"hk": ["A", "B"]})
    weights = LongShort(LongShortParams(long="hk", short=["H"])).target_weights(market)
    np.testing.assert_allclose(weights.to_numpy(), [[0.5, 0.5, -1.0]] * 3)


def test_long_short_beta_hedges_by_the_regression_slope_of_long_on_hedge():
    rng = np.random.default_rng(3)
    hedge_r = rng.normal(0.0, 0.01, 80)
    market = _market({"L": _prices(list(2.0 * hedge_r)), "H": _prices(list(hedge_r))})
    params = LongShortParams(
        long="L", short="H", hedge="beta", beta_lookback=20, beta_horizon=1, max_gross=5.0
    )
    weights = LongShort(params).target_weights(market)
    # log returns of L are not exactly twice H's, so the beta is close to, not exactly, 2
    np.testing.assert_allclose(weights["H"].dropna().to_numpy(), -2.0, rtol=0.02)
    assert weights["L"].dropna().eq(1.0).all()
    assert weights.iloc[:20].isna().all().all()  # no beta yet: no instruction


def test_long_short_with_vol_target_scales_the_book_and_caps_gross():
    rng = np.random.default_rng(4)
    market = _market({"L": _prices(list(rng.normal(0, 0.02, 120))), "H": [100.0] * 121})
    target = LongShortParams(long="L", short="H", vol_target=0.1, vol_lookback=60)
    weights = LongShort(target).target_weights(market).dropna()
    realised = pd.Series(np.diff(np.log(market.close["L"]))).iloc[-60:].std() * np.sqrt(252)
    # H never moves, so the book's volatility is L's: scaled to 10% of it
    assert weights["L"].iloc[-1] == pytest.approx(0.1 / realised, rel=0.05)
    capped = LongShortParams(long="L", short="H", vol_target=2.0, vol_lookback=60, max_gross=1.5)
    gross = LongShort(capped).target_weights(market).dropna().abs().sum(axis=1)
    assert gross.max() == pytest.approx(1.5)


def test_long_short_with_symbol_in_both_baskets_raises_naming_the_params():
    market = _market({"A": [1.0], "B": [1.0]})
    with pytest.raises(StrategyError, match=r"strategy\.params: \['A'\] are in both"):
        LongShort(LongShortParams(long=["A"], short=["A", "B"])).target_weights(market)


def test_long_short_with_unknown_group_raises_naming_the_parameter():
    market = _market({"A": [1.0]})
    with pytest.raises(StrategyError, match=r"strategy\.params\.long: 'tech' is not in"):
        LongShort(LongShortParams(long="tech", short=["A"])).target_weights(market)


def _flow_market() -> Market:
    flows = pd.DataFrame(
        {"A": [5.0, 1.0, 1.0], "B": [1.0, 5.0, 9.0], "C": [3.0, 3.0, -9.0]},
        index=pd.bdate_range("2024-01-01", periods=3),
    )
    traded = pd.DataFrame({"A": 1.0, "B": 100.0, "C": 1.0}, index=flows.index)
    return _market(
        pd.DataFrame(1.0, index=flows.index, columns=["A", "B", "C"]),
        extras={"southbound_net_buy": flows, "traded_value": traded},
    )


def test_factor_rank_longs_the_top_and_shorts_the_bottom_of_the_smoothed_factor():
    market = _flow_market()
    params = FactorRankParams(factor="southbound_net_buy", lookback=2, top=1, bottom=1)
    weights = FactorRank(params).target_weights(market)
    # 2-bar means (bar 0 uses its 1 bar): A 5, 3, 1; B 1, 3, 7; C 3, 3, -3
    assert weights.to_numpy().tolist() == [
        [0.5, -0.5, 0.0],
        [0.5, -0.5, 0.0],  # all tie at 3: column order decides, deterministically
        [0.0, 0.5, -0.5],
    ]
    low = FactorRank(params.model_copy(update={"direction": "low"})).target_weights(market)
    assert low.iloc[2].tolist() == [0.0, -0.5, 0.5]


def test_flow_following_per_stock_is_factor_rank_on_flows_over_traded_value():
    market = _flow_market()
    flow = FlowFollowingParams(lookback=2, top=1, normalize="traded_value")
    rank = FactorRankParams(
        factor="southbound_net_buy", lookback=2, top=1, normalize_by="traded_value"
    )
    weights = FlowFollowing(flow).target_weights(market)
    pd.testing.assert_frame_equal(weights, FactorRank(rank).target_weights(market))
    # over traded value B's large buying is small: A leads at bar 2 (1 vs 0.07 vs -3)
    assert weights.iloc[2].tolist() == [1.0, 0.0, 0.0]


def test_flow_following_market_wide_steps_exposure_at_thresholds_and_holds_between():
    n = 40
    flow = pd.Series(0.0, index=pd.bdate_range("2024-01-01", periods=n))
    flow.iloc[::2] = 1.0  # alternating 1, 0: mean 0.5, sample std ~0.51 over any window
    flow.iloc[30] = 3.0  # z well above enter -> full
    flow.iloc[33] = 0.5  # z about 0: in between -> hold full
    flow.iloc[36] = -3.0  # z well below exit -> low
    market = _market(
        pd.DataFrame({"A": 10.0, "H": 20.0}, index=flow.index),
        extras={"flows": flow},
    )
    params = FlowFollowingParams(
        mode="market_wide",
        flow="flows",
        lookback=1,
        z_window=20,
        basket={"A": 1.0, "H": -0.5},
        low_exposure=0.25,
    )
    weights = FlowFollowing(params).target_weights(market)
    assert weights.iloc[:19].isna().all().all()  # the z-score needs 20 bars
    assert weights["A"].iloc[30] == 1.0 and weights["H"].iloc[30] == -0.5
    assert weights["A"].iloc[33] == 1.0
    assert weights["A"].iloc[36] == 0.25 and weights["H"].iloc[36] == -0.125


def test_rank_weights_with_fraction_selects_at_least_one_asset_per_side():
    score = pd.DataFrame([[1.0, 2.0, 3.0, NAN]], columns=list("ABCD"))
    weights = rank_weights(score, top=0.2, bottom=0.2, gross=2.0)
    assert weights.iloc[0].tolist()[:3] == [-1.0, 0.0, 1.0]
    assert np.isnan(weights.iloc[0, 3])


# --- no look-ahead ----------------------------------------------------------------

SYMBOLS = ["AAPL", "QQQ", "0700.HK", "9988.HK", "1810.HK"]
EXAMPLES: dict[str, dict] = {
    "buy_and_hold": {},
    "equal_weight": {},
    "fixed_weights": {"weights": {"AAPL": 0.5, "QQQ": -0.5}},
    "inverse_volatility": {"lookback": 20},
    "momentum": {"lookback": 60, "skip": 5, "top": 2, "bottom": 1},
    "trend": {"fast": 10, "slow": 40},
    "long_short": {
        "long": "hk",
        "short": "us",
        "hedge": "beta",
        "beta_lookback": 40,
        "vol_target": 0.15,
        "vol_lookback": 20,
    },
    "factor_rank": {"factor": "southbound_net_buy", "lookback": 10, "normalize_by": "traded_value"},
    "flow_following": {"mode": "market_wide", "z_window": 60, "scaling": "linear"},
}


def test_every_registered_strategy_has_a_look_ahead_example():
    assert set(EXAMPLES) == set(REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_strategy_with_data_cut_after_bar_t_keeps_weights_up_to_t(name):
    # the look-ahead guard users run (eastwind validate --lookahead), at many cuts
    market = synthetic_market(SYMBOLS, "2021-01-01", "2022-12-31", seed=11)
    market = dataclasses.replace(
        market, groups={"hk": ["0700.HK", "9988.HK", "1810.HK"], "us": ["AAPL", "QQQ"]}
    )
    strategy = registered(name)
    params = strategy.validate(EXAMPLES[name])
    full = strategy.compute_many(market, [params])[0]
    assert np.isfinite(full).any(), "the example must produce weights"
    cuts = sample_cuts(len(market.index), count=12, first=len(market.index) // 4)
    assert find_lookahead(strategy, market, params, cuts) is None
