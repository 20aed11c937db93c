"""The yahoo source without network: only `_download` is replaced, by frames shaped like
yfinance's own output (``Price``/``Ticker`` MultiIndex columns, a ``Date`` index)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from engine.data import yahoo
from engine.data.yahoo import (
    YahooCache,
    fetch,
    last_completed_session,
    load_yahoo_market,
    split_download,
)
from engine.errors import DataError, DataWarning

FIELDS = ["Close", "High", "Low", "Open", "Volume"]


def yf_frame(
    symbols: list[str], start: str, end: str, multi: bool = True, origin: str | None = None
) -> pd.DataFrame:
    """A frame laid out as yfinance 1.x returns it for `symbols` (end inclusive here).

    Closes rise by 1 a weekday from `start`; with `origin`, by 0.1 a calendar day from
    `origin`, so that any two windows agree on a date's price.
    """
    dates = pd.bdate_range(start, end, name="Date")
    data = {}
    for k, symbol in enumerate(symbols):
        if origin is None:
            steps = np.arange(len(dates), dtype=float)
        else:
            steps = 0.1 * (dates - pd.Timestamp(origin)).days.to_numpy()
        base = 100.0 + 10 * k + steps
        for field in FIELDS:
            value = base * 10 if field == "Volume" else base + {"High": 1, "Low": -1}.get(field, 0)
            data[(field, symbol)] = value
    frame = pd.DataFrame(data, index=dates)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["Price", "Ticker"])
    if not multi:
        frame.columns = frame.columns.droplevel("Ticker")
    return frame


ORIGIN = "2020-01-01"


class FakeYahoo:
    """Stands in for the network: serves yf_frame, records calls, can be switched off.

    Like Yahoo it has no row on or after `today` (when set), and it adjusts for the
    dividends it has been told of: closes before an ex-date are scaled by its factor.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], pd.Timestamp, pd.Timestamp]] = []
        self.online = True
        self.today: pd.Timestamp | None = None
        self.dividends: list[tuple[pd.Timestamp, float]] = []

    def __call__(self, symbols, start, end):
        self.calls.append((tuple(symbols), start, end))
        if not self.online:
            raise ConnectionError("[Errno 101] Network is unreachable")
        frame = yf_frame(list(symbols), str(start.date()), str(end.date()), origin=ORIGIN)
        if self.today is not None:
            frame = frame[frame.index < self.today]
        for ex_date, factor in self.dividends:
            before = frame.index < ex_date
            prices = [c for c in frame.columns if c[0] != "Volume"]
            frame.loc[before, prices] = frame.loc[before, prices] * factor
        return frame


@pytest.fixture
def fake(monkeypatch):
    network = FakeYahoo()
    monkeypatch.setattr(yahoo, "_download", network)
    return network


def test_split_download_with_multi_symbol_frame_returns_lowercase_fields_per_symbol():
    parts = split_download(yf_frame(["AAA", "BBB"], "2024-01-01", "2024-01-05"), ["AAA", "BBB"])
    assert list(parts["BBB"].columns) == ["open", "high", "low", "close", "volume"]
    assert parts["BBB"]["close"].iloc[0] == 110.0 and parts["AAA"]["high"].iloc[0] == 101.0


def test_split_download_with_single_symbol_flat_or_multiindex_gives_same_frame():
    flat = split_download(yf_frame(["AAA"], "2024-01-01", "2024-01-05", multi=False), ["AAA"])
    multi = split_download(yf_frame(["AAA"], "2024-01-01", "2024-01-05"), ["AAA"])
    pd.testing.assert_frame_equal(flat["AAA"], multi["AAA"])


def test_fetch_with_empty_cache_downloads_then_reuses_cache_offline(tmp_path, fake):
    cache = YahooCache(tmp_path)
    start, end = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-29")
    first = fetch(["AAA"], start, end, cache)
    assert len(fake.calls) == 1 and cache.path("AAA").exists()

    fake.online = False
    again = fetch(["AAA"], start, end, cache)
    assert len(fake.calls) == 1  # served from the cache, no network call
    pd.testing.assert_frame_equal(first["AAA"], again["AAA"], check_freq=False)


def test_fetch_with_no_network_and_no_cache_names_the_symbol(tmp_path, fake):
    fake.online = False
    with pytest.raises(DataError, match=r"9988\.HK: not in the cache .*eastwind data fetch"):
        fetch(
            ["9988.HK"],
            pd.Timestamp("2024-01-01"),
            pd.Timestamp("2024-02-01"),
            YahooCache(tmp_path),
        )


def test_load_yahoo_market_with_hk_asset_fetches_hkd_pair_and_inverts_it(tmp_path, fake):
    # the fake serves every weekday: QQQ's row on Martin Luther King Day is dropped
    with pytest.warns(DataWarning, match=r"yahoo QQQ: 1 row\(s\) with volume .* 2024-01-15"):
        market = load_yahoo_market(
            ["0700.HK", "QQQ"],
            start=pd.Timestamp("2024-01-02"),
            end=pd.Timestamp("2024-01-31"),
            base_currency="USD",
            cache=YahooCache(tmp_path),
        )
    assert market.dropped_rows == [("QQQ", pd.Timestamp("2024-01-15"))]
    assert not np.isnan(market.close.at[pd.Timestamp("2024-01-15"), "0700.HK"])
    assert ("HKD=X",) in [c[0] for c in fake.calls]
    pair_call = next(c for c in fake.calls if c[0] == ("HKD=X",))
    raw = yf_frame(["HKD=X"], str(pair_call[1].date()), "2024-01-31", origin=ORIGIN)
    raw = raw[("Close", "HKD=X")]
    assert market.fx.at[pd.Timestamp("2024-01-10"), "HKD"] == 1.0 / raw.loc["2024-01-10"]
    assert market.source == "yahoo" and market.lot_size["0700.HK"] == 100


def test_fetch_with_empty_download_keeps_cache_range_so_a_later_run_retries(
    tmp_path, fake, monkeypatch
):
    cache = YahooCache(tmp_path)
    fetch(["AAA"], pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-31"), cache)
    # yfinance often answers a failed download with an empty frame instead of raising
    monkeypatch.setattr(yahoo, "_download", lambda symbols, start, end: pd.DataFrame())

    with pytest.raises(DataError, match=r"AAA: .* \(Yahoo has no rows for 2024-01-25\.\."):
        fetch(["AAA"], pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-29"), cache)

    assert cache.read("AAA")[1] == (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-31"))


def test_load_yahoo_market_with_half_day_and_holiday_rows_keeps_close_and_drops_holiday(
    tmp_path, monkeypatch
):
    # 2024-12-24 and 31 are Hong Kong half days, which Yahoo writes as flat zero-volume
    # rows; on 2024-12-25 (a flat row here) and 26 (a traded one) the exchange was closed
    frame = yf_frame(["0700.HK"], "2024-12-20", "2024-12-31")
    for day in ["2024-12-24", "2024-12-25", "2024-12-31"]:
        for field in ["Open", "High", "Low"]:
            frame.loc[day, (field, "0700.HK")] = frame.loc[day, ("Close", "0700.HK")]
        frame.loc[day, ("Volume", "0700.HK")] = 0.0
    monkeypatch.setattr(yahoo, "_download", lambda symbols, start, end: frame)

    with pytest.warns(DataWarning, match=r"yahoo 0700\.HK: 1 row\(s\) .* XHKG .* 2024-12-26"):
        market = load_yahoo_market(
            ["0700.HK"],
            start=pd.Timestamp("2024-12-20"),
            end=pd.Timestamp("2024-12-31"),
            base_currency="HKD",
            cache=YahooCache(tmp_path),
        )

    half_days = pd.DatetimeIndex(["2024-12-24", "2024-12-31"])
    assert market.flat_rows == [("0700.HK", d) for d in half_days]
    closed = pd.DatetimeIndex(["2024-12-25", "2024-12-26"])
    assert market.dropped_rows == [("0700.HK", d) for d in closed]
    assert not market.index.isin(closed).any()
    expected = frame[("Close", "0700.HK")].loc[half_days].to_numpy()
    np.testing.assert_array_equal(market.close.loc[half_days, "0700.HK"], expected)
    assert market.open.loc[half_days, "0700.HK"].isna().all()


# --- coverage ends at the last completed session ---------------------------------------


@pytest.mark.parametrize(
    ("exchange", "today", "expected"),
    [
        ("XNYS", "2024-01-16", "2024-01-12"),  # Monday 15th was Martin Luther King Day
        ("XHKG", "2024-02-14", "2024-02-09"),  # Lunar New Year: closed 12th and 13th
        ("XNYS", "2024-03-15", "2024-03-14"),  # today's session is not complete
        ("", "2024-02-12", "2024-02-09"),  # an fx pair: the last weekday before today
        ("", "2024-02-11", "2024-02-09"),  # on a Sunday too
    ],
)
def test_last_completed_session_returns_the_last_session_before_today(exchange, today, expected):
    assert last_completed_session(exchange, pd.Timestamp(today)) == pd.Timestamp(expected)


def test_fetch_with_end_in_the_future_covers_to_yesterday_and_later_tops_up(tmp_path, fake):
    cache = YahooCache(tmp_path)
    start, end = pd.Timestamp("2024-01-02"), pd.Timestamp("2024-12-31")
    fake.today = pd.Timestamp("2024-03-15")  # a Friday: Thursday is the last full session
    fetch(["AAA"], start, end, cache, today=fake.today)
    assert cache.read("AAA")[1] == (start, pd.Timestamp("2024-03-14"))

    fake.today = pd.Timestamp("2024-04-16")
    result = fetch(["AAA"], start, end, cache, today=fake.today)

    assert result["AAA"].index[-1] == pd.Timestamp("2024-04-15")
    assert cache.read("AAA")[1] == (start, pd.Timestamp("2024-04-15"))


def test_fetch_drops_a_row_of_a_session_not_yet_complete(tmp_path, monkeypatch):
    # Yahoo answers with today's row while the session trades: its close is a last price
    monkeypatch.setattr(
        yahoo,
        "_download",
        lambda s, a, b: yf_frame(list(s), str(a.date()), "2024-03-15", origin=ORIGIN),
    )
    cache = YahooCache(tmp_path)
    today = pd.Timestamp("2024-03-15")

    result = fetch(
        ["AAA"], pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-29"), cache, today=today
    )

    assert result["AAA"].index[-1] == pd.Timestamp("2024-03-14")
    assert cache.read("AAA")[0].index[-1] == pd.Timestamp("2024-03-14")


def test_fetch_with_window_after_the_last_completed_session_names_it(tmp_path, fake):
    with pytest.raises(DataError, match=r"AAA: .*after the last completed session \(2024-03-14\)"):
        fetch(
            ["AAA"],
            pd.Timestamp("2024-03-18"),
            pd.Timestamp("2024-03-29"),
            YahooCache(tmp_path),
            today=pd.Timestamp("2024-03-15"),
        )
    assert fake.calls == []


def test_read_of_a_cache_written_with_a_future_end_covers_only_its_rows(tmp_path, fake):
    # caches written before coverage stopped at the last completed session say they
    # cover an end in the future; their rows say how far they really go
    cache = YahooCache(tmp_path)
    frame = split_download(yf_frame(["AAA"], "2024-01-02", "2024-03-14"), ["AAA"])["AAA"]
    cache.write("AAA", frame, pd.Timestamp("2024-01-02"), pd.Timestamp("2024-12-31"))
    table = pq.read_table(cache.path("AAA"))
    legacy = {b"eastwind": b'{"start": "2024-01-02", "end": "2024-12-31"}'}
    pq.write_table(
        table.replace_schema_metadata({**table.schema.metadata, **legacy}), cache.path("AAA")
    )

    assert cache.read("AAA")[1] == (pd.Timestamp("2024-01-02"), pd.Timestamp("2024-03-14"))


# --- the seam of a top-up -----------------------------------------------------------------


def _expected_close(start: str, end: str, dividends=()) -> pd.Series:
    close = yf_frame(["AAA"], start, end, origin=ORIGIN)[("Close", "AAA")]
    for ex_date, factor in dividends:
        close[close.index < ex_date] *= factor
    return close


def test_fetch_top_up_without_a_new_adjustment_downloads_the_tail_and_an_overlap(tmp_path, fake):
    cache = YahooCache(tmp_path)
    start = pd.Timestamp("2024-01-02")
    fetch(["AAA"], start, pd.Timestamp("2024-02-29"), cache)
    before = cache.read("AAA")[0]

    result = fetch(["AAA"], start, pd.Timestamp("2024-03-28"), cache)

    assert len(fake.calls) == 2
    # the last five cached sessions again (23, 26, 27, 28, 29 Feb), to compare
    assert fake.calls[-1][1:] == (pd.Timestamp("2024-02-23"), pd.Timestamp("2024-03-28"))
    pd.testing.assert_frame_equal(result["AAA"].loc[:"2024-02-29"], before, check_freq=False)
    assert result["AAA"].index.is_unique and result["AAA"].index.is_monotonic_increasing
    np.testing.assert_array_equal(
        result["AAA"]["close"], _expected_close("2024-01-02", "2024-03-28")
    )


def test_fetch_top_up_after_a_dividend_refetches_the_whole_history(tmp_path, fake):
    cache = YahooCache(tmp_path)
    start, end = pd.Timestamp("2024-01-02"), pd.Timestamp("2024-03-28")
    fetch(["AAA"], start, pd.Timestamp("2024-02-29"), cache)
    dividend = [(pd.Timestamp("2024-03-15"), 0.98)]  # Yahoo rescales every close before it
    fake.dividends = dividend

    result = fetch(["AAA"], start, end, cache)["AAA"]["close"]

    assert fake.calls[-1][1:] == (start, end)  # the whole covered range, downloaded again
    expected = _expected_close("2024-01-02", "2024-03-28", dividend)
    np.testing.assert_allclose(result, expected, rtol=1e-12)
    # no fake -2% at the seam: the return into 1 March is the market's own
    seam = result.pct_change().loc["2024-03-01"]
    assert seam == pytest.approx(expected.pct_change().loc["2024-03-01"], rel=1e-12)
    np.testing.assert_allclose(cache.read("AAA")[0]["close"], expected, rtol=1e-12)


def test_fetch_head_top_up_after_a_dividend_refetches_the_whole_history(tmp_path, fake):
    cache = YahooCache(tmp_path)
    fetch(["AAA"], pd.Timestamp("2024-02-01"), pd.Timestamp("2024-02-29"), cache)
    fake.dividends = [(pd.Timestamp("2024-03-15"), 0.98)]

    result = fetch(["AAA"], pd.Timestamp("2024-01-02"), pd.Timestamp("2024-02-29"), cache)

    assert fake.calls[-1][1:] == (pd.Timestamp("2024-01-02"), pd.Timestamp("2024-02-29"))
    np.testing.assert_allclose(
        result["AAA"]["close"], _expected_close("2024-01-02", "2024-02-29", fake.dividends)
    )


@pytest.mark.parametrize(("factor", "refetched"), [(1 - 1e-7, False), (1 - 1e-4, True)])
def test_fetch_top_up_refetches_only_when_the_adjustment_moved_beyond_tolerance(
    tmp_path, fake, factor, refetched
):
    cache = YahooCache(tmp_path)
    start = pd.Timestamp("2024-01-02")
    fetch(["AAA"], start, pd.Timestamp("2024-02-29"), cache)
    fake.dividends = [(pd.Timestamp("2024-03-15"), factor)]

    fetch(["AAA"], start, pd.Timestamp("2024-03-28"), cache)

    assert (fake.calls[-1][1] == start) is refetched


def test_fetch_when_the_refetch_fails_keeps_the_cache_and_says_it_is_short(
    tmp_path, fake, monkeypatch
):
    cache = YahooCache(tmp_path)
    start = pd.Timestamp("2024-01-02")
    fetch(["AAA"], start, pd.Timestamp("2024-02-29"), cache)
    before = cache.read("AAA")
    fake.dividends = [(pd.Timestamp("2024-03-15"), 0.98)]

    def once(symbols, a, b):  # the overlap comes through, then the network drops
        fake.online = len(fake.calls) < 2
        return fake(symbols, a, b)

    monkeypatch.setattr(yahoo, "_download", once)

    with pytest.raises(DataError, match=r"AAA: the cache .* covers 2024-01-02\.\.2024-02-29"):
        fetch(["AAA"], start, pd.Timestamp("2024-03-28"), cache)

    after = cache.read("AAA")
    assert after[1] == before[1]
    pd.testing.assert_frame_equal(after[0], before[0])
