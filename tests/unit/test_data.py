"""The synthetic market: deterministic, window- and universe-independent, labelled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import engine
from engine.config import DataConfig
from engine.data import Market, synthetic_market
from engine.errors import DataError


def test_synthetic_market_with_same_seed_returns_identical_data():
    first = synthetic_market(["AAPL", "0700.HK"], "2020-01-01", "2021-12-31", seed=3)
    second = synthetic_market(["AAPL", "0700.HK"], "2020-01-01", "2021-12-31", seed=3)
    pd.testing.assert_frame_equal(first.close, second.close)
    pd.testing.assert_frame_equal(first.fx, second.fx)


def test_synthetic_market_with_other_seed_returns_different_prices():
    first = synthetic_market(["AAPL"], "2020-01-01", "2020-12-31", seed=1)
    second = synthetic_market(["AAPL"], "2020-01-01", "2020-12-31", seed=2)
    assert not np.allclose(first.close.to_numpy(), second.close.to_numpy())


def test_synthetic_series_with_other_window_and_symbols_is_unchanged_on_common_dates():
    narrow = synthetic_market(["QQQ"], "2021-03-01", "2021-06-30", seed=5)
    wide = synthetic_market(["9988.HK", "QQQ", "MSFT"], "2019-01-01", "2022-12-31", seed=5)
    pd.testing.assert_series_equal(narrow.close["QQQ"], wide.close["QQQ"].loc[narrow.index])


def test_synthetic_market_with_hk_symbol_has_hkd_lots_and_pegged_fx():
    market = synthetic_market(["0700.HK", "1810.HK", "AAPL"], "2015-01-01", "2024-12-31")
    assert market.currency == {"0700.HK": "HKD", "1810.HK": "HKD", "AAPL": "USD"}
    assert market.lot_size["1810.HK"] == 200.0
    usdhkd = 1.0 / market.fx["HKD"]
    assert usdhkd.between(7.75, 7.85).all()
    assert market.is_synthetic


@pytest.mark.parametrize(
    ("symbols", "start", "end", "match"),
    [
        ([], "2020-01-01", "2020-12-31", "no symbols"),
        (["AAPL", "AAPL"], "2020-01-01", "2020-12-31", "listed twice"),
        (["AAPL"], "2021-01-01", "2020-01-01", "after end"),
        (["AAPL"], "1990-01-01", "2020-01-01", "outside"),
    ],
)
def test_synthetic_market_with_bad_request_raises_data_error(symbols, start, end, match):
    with pytest.raises(DataError, match=match):
        synthetic_market(symbols, start, end)


@pytest.fixture(scope="module")
def long_market():
    symbols = ["0700.HK", "9988.HK", "1810.HK", "3690.HK", "9618.HK", "1024.HK", "AAPL", "QQQ"]
    return synthetic_market(symbols, "2005-01-03", "2024-12-31", seed=7)


def _log_returns(prices: pd.Series) -> pd.Series:
    return np.log(prices.dropna()).diff().dropna()


def test_synthetic_calendars_with_hk_and_us_symbols_follow_each_exchange(long_market):
    close = long_market.close
    boxing_day, thanksgiving = pd.Timestamp("2024-12-26"), pd.Timestamp("2024-11-28")
    assert np.isnan(close.at[boxing_day, "0700.HK"]) and not np.isnan(close.at[boxing_day, "AAPL"])
    assert np.isnan(close.at[thanksgiving, "AAPL"]) and not np.isnan(
        close.at[thanksgiving, "0700.HK"]
    )
    assert pd.Timestamp("2024-12-28") not in close.index  # a Saturday: no exchange trades


def test_synthetic_market_with_hk_stocks_has_suspension_runs_and_late_listings(long_market):
    close = long_market.close
    hk = ["0700.HK", "9988.HK", "1810.HK", "3690.HK", "9618.HK"]
    open_days = close[hk].notna().any(axis=1)  # the HK exchange traded that day
    halted = close[hk].isna() & open_days.to_numpy()[:, None]
    listed = close[hk].notna().cummax()
    suspended = halted & listed
    runs = suspended & suspended.shift(1, fill_value=False)
    assert suspended.to_numpy().sum() > 10 and runs.to_numpy().any()
    first_1024 = close["1024.HK"].first_valid_index()
    assert first_1024 == pd.Timestamp("2021-02-05")


def test_synthetic_returns_with_long_history_are_fat_tailed_and_cluster(long_market):
    for symbol in ["AAPL", "QQQ", "0700.HK"]:
        returns = _log_returns(long_market.close[symbol])
        assert returns.kurt() > 1.0, symbol  # excess kurtosis: fatter tails than normal
        assert returns.abs().autocorr(1) > 0.05, symbol  # big moves follow big moves
        assert 0.1 < returns.std() * np.sqrt(252) < 0.6, symbol


def _flow_ic(market, symbols) -> float:
    correlations = []
    for symbol in symbols:
        returns = _log_returns(market.close[symbol])
        next_week = returns.rolling(5).sum().shift(-5)
        flow = market.extras["southbound_net_buy"][symbol].reindex(returns.index)
        correlations.append(pd.concat([flow, next_week], axis=1).dropna().corr().iloc[0, 1])
    return float(np.mean(correlations))


def test_synthetic_southbound_flows_with_link_predict_next_week_returns():
    hk = ["0700.HK", "9988.HK", "1810.HK", "3690.HK"]
    kwargs = {"start": "2005-01-03", "end": "2024-12-31", "seed": 3}
    linked = synthetic_market(hk, flow_link=0.3, **kwargs)
    unlinked = synthetic_market(hk, flow_link=0.0, **kwargs)
    # the link moves returns after the flow is known: a clear positive correlation
    assert _flow_ic(linked, hk) > 0.12
    assert abs(_flow_ic(unlinked, hk)) < 0.05
    assert (
        "southbound_net_buy" in linked.extras and "AAPL" not in linked.extras["southbound_net_buy"]
    )


def test_market_with_tidy_frame_round_trip_keeps_prices_and_metadata():
    market = synthetic_market(["AAPL", "MSFT"], "2024-01-01", "2024-03-31", seed=2)
    again = Market.from_frame(market.to_frame(), base_currency="USD")
    pd.testing.assert_frame_equal(again.close, market.close, check_freq=False)
    pd.testing.assert_frame_equal(again.open, market.open, check_freq=False)
    assert again.lot_size == market.lot_size and again.currency == market.currency


def test_load_market_with_data_section_only_builds_the_market():
    data = DataConfig(symbols=["QQQ"], start="2024-01-01", end="2024-02-01")
    market = engine.load_market(data)
    assert market.symbols == ["QQQ"] and market.is_synthetic
