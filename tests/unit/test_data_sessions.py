"""Rows held against their exchange's sessions (`engine.data.files.session_prices`).

A flat zero-volume row on a session (a half day) is a real close with no open; a row on
a day the exchange was closed is dropped and listed. Small files are written here; the
buy-and-hold checks on the shared real files skip when that folder is absent, and read
their expected closes with the standard library's csv module.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import pandas as pd
import pytest

import engine
from engine.config import parse_config
from engine.data import FileSpec, load_files_market
from engine.data.coverage import coverage
from engine.errors import DataWarning

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
needs_real = pytest.mark.skipif(not REAL.exists(), reason="shared real data is absent")
HEADER = "date,open,high,low,close,volume\n"


def _ohlcv(path: Path, rows: list[tuple[str, float, float]]) -> None:
    """Write (date, close, volume) rows; a zero-volume row is flat, others span +-1."""
    lines = [
        f"{d},{c},{c},{c},{c},0\n" if v == 0 else f"{d},{c - 0.5},{c + 1},{c - 1},{c},{v}\n"
        for d, c, v in rows
    ]
    path.write_text(HEADER + "".join(lines))


def _load(root: Path, symbols: list[str], start: str, end: str, **spec: object):
    return load_files_market(
        FileSpec(root=root, **spec),  # type: ignore[arg-type]
        symbols,
        start=pd.Timestamp(start),
        end=pd.Timestamp(end),
        base_currency="HKD" if symbols[0].endswith(".HK") else "USD",
        metadata={"XYZ": {"currency": "USD", "exchange": "XXXX", "lot_size": 1}},
    )


def test_files_market_with_flat_zero_volume_row_on_a_session_prices_its_close_without_open(
    tmp_path,
):
    # 2024-11-29, the day after Thanksgiving, is an XNYS session that closes early
    rows = [("2024-11-26", 10.0, 500), ("2024-11-27", 11.0, 500), ("2024-11-29", 12.0, 0)]
    _ohlcv(tmp_path / "AAA.csv", [*rows, ("2024-12-02", 13.0, 500)])

    market = _load(tmp_path, ["AAA"], "2024-11-01", "2024-12-31")

    half_day = pd.Timestamp("2024-11-29")
    assert market.close.at[half_day, "AAA"] == 12.0
    assert math.isnan(market.open.at[half_day, "AAA"])
    assert market.open.at[pd.Timestamp("2024-12-02"), "AAA"] == 12.5
    assert market.flat_rows == [("AAA", half_day)] and market.dropped_rows == []


def test_files_market_with_rows_on_closed_days_drops_lists_and_counts_them(tmp_path):
    rows = [
        ("2024-12-20", 300.0, 1000),
        ("2024-12-22", 301.0, 1000),  # a Sunday, with volume: a dated-wrong row
        ("2024-12-23", 302.0, 1000),
        ("2024-12-24", 303.0, 0),  # half day: a session
        ("2024-12-25", 303.0, 0),  # Christmas: XHKG closed
        ("2024-12-27", 304.0, 1000),
    ]
    _ohlcv(tmp_path / "0700.HK.csv", rows)

    with pytest.warns(DataWarning) as caught:
        market = _load(tmp_path, ["0700.HK"], "2024-12-01", "2024-12-31")

    closed = pd.DatetimeIndex(["2024-12-22", "2024-12-25"])
    assert market.dropped_rows == [("0700.HK", d) for d in closed]
    assert not market.index.isin(closed).any()
    assert market.flat_rows == [("0700.HK", pd.Timestamp("2024-12-24"))]
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / '0700.HK.csv'}: 1 row(s) with volume fall on days XHKG was closed and "
        "are dropped (first 2024-12-22, a Sunday); check the dates, or set 0700.HK's "
        "exchange in data.metadata.0700.HK.exchange"
    ]
    counts = coverage(market).set_index("symbol").loc["0700.HK"]
    assert (counts["flat"], counts["dropped"], counts["rows"]) == (1, 2, 4)


def test_files_market_with_unknown_exchange_or_dates_before_2000_keeps_every_row(tmp_path):
    _ohlcv(tmp_path / "XYZ.csv", [("2024-01-05", 10.0, 1), ("2024-01-07", 11.0, 1)])
    _ohlcv(tmp_path / "AAA.csv", [("1999-01-08", 10.0, 1), ("1999-01-10", 11.0, 1)])

    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        unknown = _load(tmp_path, ["XYZ"], "2024-01-01", "2024-01-31")
        early = _load(tmp_path, ["AAA"], "1999-01-01", "1999-01-31")

    assert pd.Timestamp("2024-01-07") in unknown.index  # a Sunday, kept: XXXX is unknown
    assert pd.Timestamp("1999-01-10") in early.index  # a Sunday outside 2000-2035
    assert unknown.dropped_rows == early.dropped_rows == []


def test_files_market_with_wide_file_drops_each_symbols_rows_on_its_closed_days(tmp_path):
    # 2024-11-28 is Thanksgiving: XNYS closed, XHKG open
    (tmp_path / "wide.csv").write_text(
        "date,AAA,0700.HK\n2024-11-27,10,300\n2024-11-28,10,301\n2024-11-29,11,302\n"
    )
    market = load_files_market(
        FileSpec(root=tmp_path, wide="wide.csv"),
        ["AAA", "0700.HK"],
        start=pd.Timestamp("2024-11-01"),
        end=pd.Timestamp("2024-11-30"),
        base_currency="HKD",
        metadata={"AAA": {"currency": "HKD"}},
    )
    thanksgiving = pd.Timestamp("2024-11-28")
    assert market.dropped_rows == [("AAA", thanksgiving)]
    assert math.isnan(market.close.at[thanksgiving, "AAA"])
    assert market.close.at[thanksgiving, "0700.HK"] == 301.0


def test_market_select_keeps_dropped_rows_inside_the_selected_dates(tmp_path):
    rows = [("2024-12-23", 302.0, 1), ("2024-12-24", 303.0, 0), ("2024-12-25", 303.0, 0)]
    _ohlcv(tmp_path / "0700.HK.csv", [*rows, ("2024-12-27", 304.0, 1), ("2024-12-30", 305.0, 1)])
    market = _load(tmp_path, ["0700.HK"], "2024-12-01", "2024-12-31")

    inside = market.select(dates=pd.DatetimeIndex(["2024-12-24", "2024-12-27"]))
    after = market.select(dates=pd.DatetimeIndex(["2024-12-27", "2024-12-30"]))

    assert inside.dropped_rows == [("0700.HK", pd.Timestamp("2024-12-25"))]
    assert inside.flat_rows == [("0700.HK", pd.Timestamp("2024-12-24"))]
    assert after.dropped_rows == after.flat_rows == []


def _buy_and_hold(path: str, files: dict[str, str], symbol: str, start: str, end: str, **rules):
    """A zero-cost, fully invested single-asset buy-and-hold in HKD; `rules` override."""
    raw = {
        "name": "hold",
        "data": {
            "source": "csv",
            "path": path,
            "symbols": [symbol],
            "start": start,
            "end": end,
            "base_currency": "HKD",
            "files": files,
        },
        "strategy": {"name": "buy_and_hold", "params": {"weights": {symbol: 1.0}}},
        "portfolio": {
            "lag": 0,
            "execution": "close",
            "lots": False,
            "cash_rate": 0.0,
            "fees": {"rate": 0.0, "minimum": 0.0, "fixed": 0.0},
            "charges": {},
            "buy_tax": 0.0,
            "sell_tax": 0.0,
            "slippage": 0.0,
            "borrow_rate": 0.0,
            "fx_cost": 0.0,
        }
        | rules,
    }
    return engine.run(parse_config(raw))


def test_run_with_execution_open_and_a_half_day_start_fills_at_the_next_bars_open(tmp_path):
    rows = [("2024-12-31", 300.0, 0), ("2025-01-02", 310.0, 1000), ("2025-01-03", 320.0, 1000)]
    _ohlcv(tmp_path / "0700.HK.csv", rows)

    result = _buy_and_hold(
        str(tmp_path), {}, "0700.HK", "2024-12-31", "2025-01-03", execution="open"
    )

    trades = result.simulation.trades
    assert len(trades) == 1
    assert trades["date"].iloc[0] == pd.Timestamp("2025-01-02")  # the half day has no open
    assert trades["price"].iloc[0] == 309.5  # 2025-01-02's open


def _closes(symbol: str) -> dict[str, float]:
    with (REAL / "hk" / f"{symbol}.csv").open(newline="") as handle:
        return {row["date"]: float(row["close"]) for row in csv.DictReader(handle)}


HK_SIX = ["0700.HK", "1024.HK", "1810.HK", "3690.HK", "9618.HK", "9988.HK"]
LISTED_BY_2020 = [s for s in HK_SIX if s != "1024.HK"]  # Kuaishou listed on 2021-02-05
CASES = [(s, "2024-12-31", "2025-03-14") for s in HK_SIX] + [
    (s, "2020-12-31", "2024-12-31") for s in LISTED_BY_2020
]


@needs_real
@pytest.mark.parametrize(("symbol", "start", "end"), CASES)
def test_run_buy_and_hold_from_a_half_day_close_equals_close_to_close_of_the_file(
    symbol, start, end
):
    files = {symbol: f"hk/{symbol}.csv"}

    result = _buy_and_hold(str(REAL), files, symbol, start, end)

    closes = _closes(symbol)
    expected = closes[end] / closes[start] - 1.0
    got = result.value.iloc[-1] / result.config.portfolio.init_cash - 1.0
    assert got == pytest.approx(expected, rel=1e-12, abs=0.0)
    trades = result.simulation.trades
    assert list(trades["date"]) == [pd.Timestamp(start)]  # bought on the half day itself
