"""Reproduce ffn's published statistics on its own test data with eastwind's metrics.

ffn's ``tests/test_core.py`` (pmorissette/ffn, commit ed266d25) publishes, to three
decimals, CAGR, max drawdown, total return, rebased prices and simple returns of AAPL,
MSFT and C closes, 2004-03-10 .. 2014-03-10. A price series p is treated as a value
curve starting from ``init_cash = p[0]``. The definitions coincide: ffn's CAGR uses
calendar years of 365.25 days between the first and last date, which is what
`periods_per_year` on the dates gives eastwind's bar-count annualisation. The file is
read from the shared real-data folder; the tests skip when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine import metrics

FFN_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "oracle"
FFN_FILE = FFN_FILE / "ffn_test_data.csv"
pytestmark = pytest.mark.skipif(not FFN_FILE.exists(), reason="shared real data is absent")

# symbol -> (CAGR, max drawdown of rows 0..9, total return of rows 0..10, rebased row 9,
# simple return row 1), as published by ffn
PUBLISHED = {
    "AAPL": (0.440, -0.086, -0.079, 91.366, -0.019),
    "MSFT": (0.041, -0.048, -0.038, 95.191, -0.011),
    "C": (-0.205, -0.033, 0.012, 101.199, -0.012),
}


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    table = pd.read_csv(FFN_FILE)
    table.index = pd.to_datetime(table.pop("Date"), format="%m/%d/%Y")
    return table


def _curve(prices: pd.DataFrame, symbol: str, rows: int | None = None) -> tuple[np.ndarray, float]:
    p = prices[symbol].to_numpy()[:rows]
    return p[1:], float(p[0])


@pytest.mark.parametrize("symbol", sorted(PUBLISHED))
def test_cagr_on_ffn_data_matches_published(prices, symbol):
    value, start = _curve(prices, symbol)
    ppy = metrics.periods_per_year(prices.index)
    assert metrics.cagr(value, start, ppy) == pytest.approx(PUBLISHED[symbol][0], abs=5e-4)


@pytest.mark.parametrize("symbol", sorted(PUBLISHED))
def test_max_drawdown_of_first_10_rows_matches_published(prices, symbol):
    value, start = _curve(prices, symbol, 10)
    assert metrics.max_drawdown(value, start) == pytest.approx(PUBLISHED[symbol][1], abs=5e-4)


@pytest.mark.parametrize("symbol", sorted(PUBLISHED))
def test_total_return_of_first_11_rows_matches_published(prices, symbol):
    value, start = _curve(prices, symbol, 11)
    assert metrics.total_return(value, start) == pytest.approx(PUBLISHED[symbol][2], abs=5e-4)


@pytest.mark.parametrize("symbol", sorted(PUBLISHED))
def test_rebased_row_9_and_simple_return_row_1_match_published(prices, symbol):
    value, start = _curve(prices, symbol, 10)
    assert 100.0 * (1.0 + metrics.total_return(value, start)) == pytest.approx(
        PUBLISHED[symbol][3], abs=5e-4
    )
    assert metrics.returns_from_value(value, start)[0] == pytest.approx(
        PUBLISHED[symbol][4], abs=5e-4
    )


def test_year_fraction_between_two_dates_matches_ffn(prices):
    window = prices.loc["2004-03-10":"2004-03-29"].index
    years = (len(window) - 1) / metrics.periods_per_year(window)
    assert years == pytest.approx(0.0520, abs=5e-5)
