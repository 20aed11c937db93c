"""The synthetic market: deterministic, window- and universe-independent, labelled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data import synthetic_market
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
