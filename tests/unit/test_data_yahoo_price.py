"""The yahoo source with ``data.adjust: price``: raw closes and dividends, own cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data import yahoo
from engine.data.yahoo import YahooCache, load_yahoo_market
from engine.errors import DataWarning
from tests.unit.test_data_yahoo import yf_frame

EX_DATE = pd.Timestamp("2024-01-10")


class FakePriceYahoo:
    """yfinance with ``auto_adjust=False, actions=True``: raw OHLC, Adj Close, and the
    Dividends and Stock Splits columns; AAA pays 0.50 on `EX_DATE`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, symbols, start, end):
        self.calls.append(tuple(symbols))
        frame = yf_frame(list(symbols), str(start.date()), str(end.date()))
        for symbol in symbols:
            paid = np.where(frame.index == EX_DATE, 0.5 if symbol == "AAA" else 0.0, 0.0)
            frame[("Dividends", symbol)] = paid
            frame[("Stock Splits", symbol)] = 0.0
            frame[("Adj Close", symbol)] = frame[("Close", symbol)]  # not read
        return frame


def test_load_yahoo_market_with_price_cache_reads_raw_closes_and_dividends(tmp_path, monkeypatch):
    adjusted_calls: list[object] = []
    monkeypatch.setattr(yahoo, "_download", lambda *a: adjusted_calls.append(a))
    network = FakePriceYahoo()
    monkeypatch.setattr(yahoo, "_download_price", network)
    cache = YahooCache(tmp_path, adjust="price")
    # the fake serves every weekday: the rows on Martin Luther King Day are dropped
    with pytest.warns(DataWarning, match=r"2024-01-15"):
        market = load_yahoo_market(
            ["AAA", "BBB"],
            start=pd.Timestamp("2024-01-02"),
            end=pd.Timestamp("2024-01-31"),
            base_currency="USD",
            cache=cache,
        )
    raw = yf_frame(["AAA"], "2024-01-02", "2024-01-31")[("Close", "AAA")]
    np.testing.assert_array_equal(market.close["AAA"].dropna(), raw[raw.index != "2024-01-15"])
    dividends = market.extras["dividends"]
    assert dividends.at[EX_DATE, "AAA"] == 0.5 and dividends["AAA"].sum() == 0.5
    assert dividends["BBB"].sum() == 0.0
    assert cache.folder == tmp_path / "price" and cache.path("AAA").exists()
    assert not adjusted_calls  # the adjusted download is never asked for


def test_yf_download_with_price_adjust_asks_for_raw_closes_and_actions(monkeypatch):
    seen = {}

    class FakeYf:
        @staticmethod
        def download(symbols, **kwargs):
            seen.update(kwargs)
            return yf_frame(list(symbols), "2024-01-02", "2024-01-05")

    monkeypatch.setitem(__import__("sys").modules, "yfinance", FakeYf)
    yahoo._download_price(["AAA"], pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05"))
    assert seen["auto_adjust"] is False and seen["actions"] is True
    yahoo._download(["AAA"], pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05"))
    assert seen["auto_adjust"] is True and seen["actions"] is False
