"""The yahoo cache when it cannot serve the request: a corrupt file, a cache shorter than
the run (offline or with the network down) and ``data.allow_partial``, and the way a
failed download names the network. `_download` is replaced by `FakeYahoo`."""

from __future__ import annotations

import logging

import pandas as pd
import pyarrow.parquet as pq
import pytest

from engine.config import parse_config
from engine.data import yahoo
from engine.data.yahoo import YahooCache, fetch
from engine.errors import DataError, DataWarning
from engine.pipeline import load_markets
from tests.unit.test_data_yahoo import FakeYahoo

START, END = pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-31")


@pytest.fixture
def fake(monkeypatch):
    network = FakeYahoo()
    monkeypatch.setattr(yahoo, "_download", network)
    return network


def _set_metadata(path, raw: bytes | None) -> None:
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    if raw is None:
        del meta[b"eastwind"]
    else:
        meta[b"eastwind"] = raw
    pq.write_table(table.replace_schema_metadata(meta), path)


def _truncate(path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _directory(path) -> None:  # a parquet dataset folder where the file should be
    data = path.read_bytes()
    path.unlink()
    path.mkdir()
    (path / "part-0.parquet").write_bytes(data)


def _no_close(path) -> None:
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["close"]), path)


CORRUPT = {
    "bad JSON": lambda p: _set_metadata(p, b'{"start": 2024'),
    "not a mapping": lambda p: _set_metadata(p, b'["2024-01-02", "2024-01-31"]'),
    "missing key": lambda p: _set_metadata(p, b'{"start": "2024-01-02"}'),
    "bad date": lambda p: _set_metadata(p, b'{"start": "2024-13-45", "end": "2024-01-31"}'),
    "start after end": lambda p: _set_metadata(p, b'{"start": "2024-02-01", "end": "2024-01-02"}'),
    "no eastwind metadata": lambda p: _set_metadata(p, None),
    "truncated parquet": _truncate,
    "no close column": _no_close,
}


@pytest.mark.parametrize("spoil", CORRUPT.values(), ids=CORRUPT.keys())
def test_fetch_with_corrupt_cache_online_downloads_again_and_replaces_it(tmp_path, fake, spoil):
    cache = YahooCache(tmp_path)
    clean = fetch(["AAA"], START, END, cache)["AAA"]
    spoil(cache.path("AAA"))

    again = fetch(["AAA"], START, END, cache)["AAA"]

    assert len(fake.calls) == 2 and fake.calls[-1][1:] == (START, END)
    pd.testing.assert_frame_equal(again, clean, check_freq=False)
    assert cache.read("AAA")[1] == (START, END)


@pytest.mark.parametrize("spoil", [*CORRUPT.values(), _directory], ids=[*CORRUPT, "directory"])
def test_fetch_with_corrupt_cache_offline_raises_one_line_naming_the_file(tmp_path, fake, spoil):
    cache = YahooCache(tmp_path)
    fetch(["AAA"], START, END, cache)
    spoil(cache.path("AAA"))

    with pytest.raises(DataError) as raised:
        fetch(["AAA"], START, END, cache, offline=True)

    message = str(raised.value)
    assert message.startswith(f"AAA: the cache file {cache.path('AAA')} is corrupt (")
    assert "eastwind data fetch" in message and "\n" not in message


def test_fetch_with_a_directory_in_place_of_the_cache_file_online_says_to_remove_it(tmp_path, fake):
    cache = YahooCache(tmp_path)
    fetch(["AAA"], START, END, cache)
    _directory(cache.path("AAA"))

    with pytest.raises(DataError, match=r"AAA: cannot write the cache file .*AAA\.parquet.*remove"):
        fetch(["AAA"], START, END, cache)


def test_fetch_with_corrupt_cache_and_network_down_names_both(tmp_path, fake):
    cache = YahooCache(tmp_path)
    fetch(["AAA"], START, END, cache)
    _set_metadata(cache.path("AAA"), b"{")
    fake.online = False

    with pytest.raises(DataError, match=r"is corrupt \(its metadata is not JSON\) and the "):
        fetch(["AAA"], START, END, cache)


def test_first_covered_with_corrupt_cache_raises_data_error(tmp_path, fake):
    cache = YahooCache(tmp_path)
    fetch(["AAA"], START, END, cache)
    _set_metadata(cache.path("AAA"), b"{")

    with pytest.raises(DataError, match=r"AAA: the cache file .* is corrupt"):
        cache.first_covered("AAA")


# --- a cache shorter than the run ------------------------------------------------------


def _short_cache(tmp_path, fake, symbols=("AAA",), start=START, end=END) -> YahooCache:
    cache = YahooCache(tmp_path)
    fetch(list(symbols), start, end, cache)
    fake.online = False
    return cache


def test_fetch_offline_with_cache_ending_early_names_symbol_and_covered_dates(tmp_path, fake):
    cache = _short_cache(tmp_path, fake)
    path = cache.path("AAA")

    with pytest.raises(DataError) as raised:
        fetch(["AAA"], START, pd.Timestamp("2024-04-30"), cache, offline=True)

    assert str(raised.value) == (
        f"AAA: the cache {path} covers 2024-01-02..2024-01-31, not the 2024-01-02..2024-04-30 "
        "the run needs (offline); run `eastwind data fetch CONFIG` with network, or set "
        "data.allow_partial: true to end the run where every symbol is covered"
    )


def test_fetch_with_network_down_and_cache_ending_early_names_the_network(tmp_path, fake):
    cache = _short_cache(tmp_path, fake)

    with pytest.raises(DataError, match=r"AAA: .*2024-01-31.* \(no network: ConnectionError"):
        fetch(["AAA"], START, pd.Timestamp("2024-04-30"), cache)


def test_fetch_offline_with_cache_starting_late_reports_the_head_gap(tmp_path, fake):
    cache = _short_cache(tmp_path, fake, start=pd.Timestamp("2024-01-15"))

    with pytest.raises(DataError, match=r"AAA: .* covers 2024-01-15\.\.2024-01-31, not the 2024"):
        fetch(["AAA"], START, END, cache, offline=True)


def test_fetch_offline_with_several_short_symbols_names_the_first_and_counts_the_rest(
    tmp_path, fake
):
    cache = _short_cache(tmp_path, fake, symbols=("AAA", "BBB", "CCC"))

    with pytest.raises(
        DataError, match=r"^AAA: .*\(offline\); 2 more symbols are short: BBB, CCC;"
    ):
        fetch(["AAA", "BBB", "CCC"], START, pd.Timestamp("2024-04-30"), cache, offline=True)


def test_fetch_offline_with_allow_partial_ends_every_symbol_at_the_shortest_cover(tmp_path, fake):
    cache = YahooCache(tmp_path)
    fetch(["AAA"], START, pd.Timestamp("2024-02-29"), cache)
    fetch(["BBB"], START, END, cache)

    with pytest.warns(DataWarning, match=r"BBB: the cache covers to 2024-01-31.*allow_partial"):
        got = fetch(
            ["AAA", "BBB"],
            START,
            pd.Timestamp("2024-04-30"),
            cache,
            offline=True,
            allow_partial=True,
        )

    assert got["AAA"].index[-1] == got["BBB"].index[-1] == END


def _config(tmp_path, end: str, **data):
    document = {
        "name": "c",
        "data": {
            "source": "yahoo",
            "cache": str(tmp_path / "cache"),
            "symbols": ["AAPL", "0700.HK"],
            "start": "2024-01-02",
            "end": end,
            **data,
        },
        "strategy": {"name": "equal_weight"},
    }
    return parse_config(document)


# the fake trades on every weekday: its rows on exchange holidays are dropped, with a warning
@pytest.mark.filterwarnings("ignore:yahoo .* row\\(s\\):engine.errors.DataWarning")
def test_load_markets_offline_with_short_cache_fails_unless_allow_partial(tmp_path, fake):
    load_markets(_config(tmp_path, "2024-02-29"))
    fake.online = False

    with pytest.raises(DataError, match=r"AAPL: the cache .*2024-02-29.*2 more symbols are short"):
        load_markets(_config(tmp_path, "2024-04-30"), offline=True)

    with pytest.warns(DataWarning, match=r"allow_partial: the run's data ends on 2024-02-29"):
        market, _ = load_markets(_config(tmp_path, "2024-04-30", allow_partial=True), offline=True)
    assert market.index[-1] == pd.Timestamp("2024-02-29")
    assert market.fx.index[-1] == pd.Timestamp("2024-02-29")


# --- naming the network ---------------------------------------------------------------


def test_download_with_yfinance_logging_a_dns_failure_raises_connection_error(monkeypatch):
    import yfinance

    def offline_download(tickers, **_):  # how yfinance 1.x fails without network
        logging.getLogger("yfinance").error(
            "['AAA']: DNSError('Failed to perform, curl: (6) Could not resolve host: "
            "query2.finance.yahoo.com')"
        )
        return pd.DataFrame()

    monkeypatch.setattr(yfinance, "download", offline_download)
    level = logging.getLogger("yfinance").level

    with pytest.raises(ConnectionError, match="Could not resolve host"):
        yahoo._download(["AAA"], START, END)

    assert logging.getLogger("yfinance").level == level
    assert not logging.getLogger("yfinance").handlers


def test_download_with_yfinance_logging_another_failure_raises_lookup_error(monkeypatch):
    import yfinance

    def missing(tickers, **_):
        logging.getLogger("yfinance").error("['AAA']: possibly delisted; no price data found")
        return pd.DataFrame()

    monkeypatch.setattr(yfinance, "download", missing)

    with pytest.raises(LookupError, match="possibly delisted"):
        yahoo._download(["AAA"], START, END)


def test_fetch_without_network_or_cache_names_the_network(tmp_path, fake):
    fake.online = False

    with pytest.raises(
        DataError, match=r"AAA: not in the cache .*, and no network to download it \(Connection"
    ):
        fetch(["AAA"], START, END, YahooCache(tmp_path))
