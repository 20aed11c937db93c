"""The yahoo cache when it cannot serve the request: a corrupt file. `_download` is
replaced by `FakeYahoo`."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from engine.data import yahoo
from engine.data.yahoo import YahooCache, fetch
from engine.errors import DataError
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
