"""Strategies: weights on tiny hand-made markets, and no look-ahead for every one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data import Market, synthetic_market
from engine.strategy import schedule_rebalance
from strategies import REGISTRY
from strategies.equal_weight import EqualWeight, EqualWeightParams

NAN = np.nan


def _market(close: pd.DataFrame) -> Market:
    return Market(
        close=close,
        open=close,
        currency=dict.fromkeys(close.columns, "USD"),
        lot_size=dict.fromkeys(close.columns, 1.0),
        fx=pd.DataFrame(index=close.index),
        base_currency="USD",
        source="test",
    )


def test_schedule_rebalance_with_monthly_keeps_first_bar_of_each_month():
    index = pd.to_datetime(["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02", "2024-03-04"])
    weights = pd.DataFrame({"A": 1.0}, index=index)
    kept = schedule_rebalance(weights, "monthly")["A"]
    # the first bar (always), the first bar of February and of March
    assert kept.notna().tolist() == [True, False, True, False, True]


def test_equal_weight_with_late_listing_weights_only_listed_assets():
    index = pd.bdate_range("2024-01-01", periods=3)
    close = pd.DataFrame({"A": [1.0, 1.0, 1.0], "B": [NAN, 2.0, NAN]}, index=index)
    weights = EqualWeight(EqualWeightParams(rebalance="daily")).target_weights(_market(close))
    # bar 0: only A listed -> 1.0; bar 1: both -> 0.5 each; bar 2: B listed but not
    # trading (holiday) still gets its half, its order waits for the next trading bar
    expected = pd.DataFrame({"A": [1.0, 0.5, 0.5], "B": [NAN, 0.5, 0.5]}, index=index)
    pd.testing.assert_frame_equal(weights, expected)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_strategy_with_data_changed_after_bar_t_keeps_weights_up_to_t(name):
    market = synthetic_market(["AAPL", "MSFT", "0700.HK"], "2021-01-01", "2022-12-31", seed=11)
    strategy = REGISTRY[name](REGISTRY[name].params_model())
    cut = len(market.index) // 2
    rng = np.random.default_rng(0)
    changed_close = market.close.copy()
    changed_close.iloc[cut + 1 :] *= rng.uniform(0.5, 2.0, changed_close.iloc[cut + 1 :].shape)
    changed_close.iloc[cut + 5 :, 0] = NAN  # a suspension after t
    changed = Market(
        close=changed_close,
        open=changed_close,
        currency=market.currency,
        lot_size=market.lot_size,
        fx=market.fx,
        base_currency=market.base_currency,
        source=market.source,
    )

    before = strategy.target_weights(market).iloc[: cut + 1]
    after = strategy.target_weights(changed).iloc[: cut + 1]

    pd.testing.assert_frame_equal(before, after)
