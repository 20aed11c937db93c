"""The csv source: real files from ../shared/data/real, and every validation error.

Expected values are read independently from the raw files with the standard library's
csv module, not with the loader's pandas code. Tests on real data skip when the shared
folder is absent; the error tests write their own small files.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engine
from engine.data import Columns, FileSpec, SeriesFile, load_files_market
from engine.errors import DataError, DataWarning

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
needs_real = pytest.mark.skipif(not REAL.exists(), reason="shared real data is absent")
HK = ["0700.HK", "9988.HK", "1810.HK", "1024.HK"]
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "real"
START, END = pd.Timestamp("2020-12-31"), pd.Timestamp("2025-03-14")


def _raw_rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["date"]: row for row in csv.DictReader(handle)}


def _real_spec() -> FileSpec:
    files = {s: f"hk/{s}.csv" for s in HK} | {"QQQ": "us/QQQ.csv"}
    return FileSpec(
        root=REAL,
        files=files,
        fx={"HKD": SeriesFile("fx/USDHKD.csv", "close", quote="units_per_base")},
        extras={"southbound_net_buy": SeriesFile("flows/southbound_daily.csv", "net_buy")},
    )


@pytest.fixture(scope="module")
def real_market():
    if not REAL.exists():
        pytest.skip("shared real data is absent")
    return load_files_market(_real_spec(), [*HK, "QQQ"], start=START, end=END, base_currency="USD")


@needs_real
def test_files_market_with_real_hk_and_us_files_matches_raw_closes(real_market):
    for symbol, folder in [("0700.HK", "hk"), ("1024.HK", "hk"), ("QQQ", "us")]:
        raw = _raw_rows(REAL / folder / f"{symbol}.csv")
        for day in ["2021-03-01", "2023-06-15", "2025-03-14"]:
            expected = float(raw[day]["close"])
            assert real_market.close.at[pd.Timestamp(day), symbol] == expected, (symbol, day)


@needs_real
def test_files_market_with_real_files_aligns_on_union_of_trading_days(real_market):
    hk_days = {
        d for d in _raw_rows(REAL / "hk" / "0700.HK.csv") if "2020-12-31" <= d <= "2025-03-14"
    }
    us_days = {d for d in _raw_rows(REAL / "us" / "QQQ.csv") if "2020-12-31" <= d <= "2025-03-14"}
    assert len(hk_days) == 1032 and len(us_days) == 1055  # as SOURCES.md states
    assert {d.strftime("%Y-%m-%d") for d in real_market.index} == hk_days | us_days
    # a US-only day (HK holiday) is NaN for HK stocks, never filled
    us_only = sorted(us_days - hk_days)[0]
    assert math.isnan(real_market.close.at[pd.Timestamp(us_only), "0700.HK"])


@needs_real
def test_files_market_with_yahoo_flat_rows_prices_them_at_close_without_open(real_market):
    expected = []
    for symbol in HK:
        for day, row in _raw_rows(REAL / "hk" / f"{symbol}.csv").items():
            o, h, low, c = (row[k] for k in ("open", "high", "low", "close"))
            if (
                "2020-12-31" <= day <= "2025-03-14"
                and float(row["volume"]) == 0
                and o == h == low == c
            ):
                expected.append((symbol, pd.Timestamp(day), float(c)))
    assert sorted((s, d) for s, d, _ in expected) == real_market.flat_rows
    assert ("0700.HK", pd.Timestamp("2024-12-31")) in real_market.flat_rows  # a half day
    assert real_market.dropped_rows == []  # every row in the window is an XHKG session
    for symbol, day, close in expected:
        assert real_market.close.at[day, symbol] == close, (symbol, day)
        assert math.isnan(real_market.open.at[day, symbol]), (symbol, day)


@needs_real
def test_files_market_with_real_rows_on_hk_holidays_drops_and_lists_them():
    spec = FileSpec(root=REAL, files={"0700.HK": "hk/0700.HK.csv"})
    start, end = pd.Timestamp("2004-06-16"), pd.Timestamp("2004-12-31")
    market = load_files_market(spec, ["0700.HK"], start=start, end=end, base_currency="HKD")

    # Yahoo wrote flat rows on 2004's Tuen Ng, HKSAR day, Mid-Autumn, National Day,
    # Chung Yeung and Boxing Day holidays; its flat row on a session (2004-07-05) stays
    holidays = ["2004-06-22", "2004-07-01", "2004-09-29", "2004-10-01", "2004-10-22", "2004-12-27"]
    assert market.dropped_rows == [("0700.HK", pd.Timestamp(d)) for d in holidays]
    assert not market.index.isin(pd.DatetimeIndex(holidays)).any()
    assert ("0700.HK", pd.Timestamp("2004-07-05")) in market.flat_rows


@needs_real
def test_files_market_with_hkd_per_usd_quote_inverts_to_usd_per_hkd(real_market):
    raw = _raw_rows(REAL / "fx" / "USDHKD.csv")
    assert real_market.fx.at[pd.Timestamp("2023-06-15"), "HKD"] == 1.0 / float(
        raw["2023-06-15"]["close"]
    )
    assert real_market.fx["HKD"].between(1 / 7.86, 1 / 7.74).all()
    assert real_market.currency["0700.HK"] == "HKD" and real_market.lot_size["1810.HK"] == 200


@needs_real
def test_files_market_with_market_wide_flow_series_aligns_it_to_market_dates(real_market):
    flows = real_market.extras["southbound_net_buy"]
    raw = _raw_rows(REAL / "flows" / "southbound_daily.csv")
    assert flows.at[pd.Timestamp("2025-03-10")] == float(raw["2025-03-10"]["net_buy"])
    assert flows.index.equals(real_market.index)


@needs_real
def test_real_config_long_hk_ai_short_qqq_holds_lots_and_pays_hk_costs_and_borrow():
    result = engine.run(engine.load_config(CONFIGS / "hk_ai_vs_nasdaq.yaml"))

    positions = result.simulation.positions
    lots = pd.Series(result.market.lot_size)
    held = positions[HK]
    np.testing.assert_array_equal(held % lots[HK], 0.0)  # whole board lots
    assert (positions["QQQ"].iloc[-1] < 0) and (held.iloc[-1] > 0).all()
    net = result.simulation.net_exposure.iloc[-1]
    assert abs(net) < 0.15  # dollar-neutral up to drift since the last rebalance
    costs = result.simulation.costs
    assert costs["borrow"].sum() > 0.0
    trades = result.simulation.trades
    hk_trades = trades[trades["symbol"].isin(HK)]
    # stamp duty on each side, in USD at the fill's fx: 0.13% from 2021-08-01 to 2023-11-16
    raised = (hk_trades["date"] >= "2021-08-01") & (hk_trades["date"] <= "2023-11-16")
    duty = np.where(raised, 0.0013, 0.001)
    assert raised.any() and (~raised).any()
    np.testing.assert_allclose(hk_trades["tax"], duty * hk_trades["value"].abs(), rtol=1e-12)
    assert (hk_trades["fees"] > 0.0003 * hk_trades["value"].abs()).all()  # commission + levies
    assert np.isfinite([v for k, v in result.metrics.items() if "recovery" not in k]).all()
    assert result.benchmark is not None and result.benchmark.iloc[0] == 1_000_000
    half_day = pd.Timestamp("2024-12-31")  # a session with a real close for every HK name
    assert all((s, half_day) in result.market.flat_rows for s in HK)
    assert result.market.close.loc[half_day, HK].notna().all()


@needs_real
def test_real_config_market_wide_flows_scale_the_book_between_its_two_exposures():
    config = engine.load_config(CONFIGS / "southbound_market_wide.yaml")
    result = engine.run(config)

    weights = result.target_weights.dropna(how="all")
    assert len(weights) > 100  # weekly for four years, after a year of z-score warm-up
    exposure = weights["QQQ"] / -1.0
    assert set(exposure.round(12).unique()) == {0.25, 1.0}
    np.testing.assert_allclose(weights[HK].to_numpy(), np.outer(exposure, [0.25] * 4))
    assert exposure.diff().abs().gt(0).sum() >= 2  # the dial actually moved
    assert np.isfinite([v for k, v in result.metrics.items() if "recovery" not in k]).all()


def _write_csv(path: Path, rows: list[tuple[str, float]]) -> None:
    path.write_text("date,close\n" + "".join(f"{d},{c}\n" for d, c in rows))


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([("2024-01-03", 10.0), ("2024-01-02", 11.0)], r"AAA: dates are not sorted: 2024-01-02"),
        ([("2024-01-02", 10.0), ("2024-01-02", 11.0)], r"AAA: date 2024-01-02 appears twice"),
        ([("2024-01-02", 10.0), ("2024-01-03", -1.0)], r"AAA: close on 2024-01-03 is -1.0"),
        ([("2024-01-02", 10.0), ("2024-01-03", 0.0)], r"AAA: close on 2024-01-03 is 0.0"),
        ([("2023-01-02", 10.0)], r"AAA: no price between 2024-01-01 and 2024-12-31"),
    ],
)
def test_files_market_with_bad_prices_raises_naming_symbol_and_date(tmp_path, rows, match):
    _write_csv(tmp_path / "AAA.csv", rows)
    spec = FileSpec(root=tmp_path, columns=Columns(open=None, high=None, low=None, volume=None))
    with pytest.raises(DataError, match=match):
        load_files_market(
            spec,
            ["AAA"],
            start=pd.Timestamp("2024-01-01"),
            end=pd.Timestamp("2024-12-31"),
            base_currency="USD",
        )


def test_files_market_with_foreign_asset_and_no_fx_names_the_currency(tmp_path):
    _write_csv(tmp_path / "0700.HK.csv", [("2024-01-02", 300.0)])
    with pytest.raises(DataError, match=r"0700\.HK: trades in HKD but there is no fx series"):
        load_files_market(
            FileSpec(root=tmp_path),
            ["0700.HK"],
            start=pd.Timestamp("2024-01-01"),
            end=pd.Timestamp("2024-12-31"),
            base_currency="USD",
        )


def test_files_market_with_missing_file_and_unknown_hk_lot_say_how_to_fix(tmp_path):
    window = {"start": pd.Timestamp("2024-01-01"), "end": pd.Timestamp("2024-12-31")}
    with pytest.raises(DataError, match=r"BBB: no file 'BBB.csv' .* data\.files\.BBB"):
        load_files_market(FileSpec(root=tmp_path), ["BBB"], base_currency="USD", **window)
    with pytest.raises(DataError, match=r"0005\.HK: no built-in metadata .* data\.metadata"):
        load_files_market(FileSpec(root=tmp_path), ["0005.HK"], base_currency="USD", **window)


def test_files_market_with_wide_parquet_file_reads_one_column_per_symbol(tmp_path):
    pytest.importorskip("pyarrow")
    wide = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-02", "2024-01-03"]),
            "AAA": [10.0, 11.0],
            "BBB": [5.0, np.nan],
        }
    )
    wide.to_parquet(tmp_path / "prices.parquet")
    market = load_files_market(
        FileSpec(root=tmp_path, wide="prices.parquet"),
        ["AAA", "BBB"],
        start=pd.Timestamp("2024-01-01"),
        end=pd.Timestamp("2024-12-31"),
        base_currency="USD",
    )
    assert market.close["AAA"].tolist() == [10.0, 11.0]
    assert math.isnan(market.close.at[pd.Timestamp("2024-01-03"), "BBB"])
    assert set(market.to_frame().columns) == {"date", "symbol", "close", "open"}


# Loaders that check what they load (issue 14): each case writes a small file.

WINDOW = {"start": pd.Timestamp("2024-01-01"), "end": pd.Timestamp("2024-01-31")}
# the XNYS sessions of January 2024 (the weekdays but Martin Luther King Day, the 15th),
# so that AAA, a US listing, has no row on a day its exchange was closed
JANUARY = [
    d.strftime("%Y-%m-%d")
    for d in pd.bdate_range("2024-01-02", "2024-01-31")
    if d != pd.Timestamp("2024-01-15")
]


def _prices_and(tmp_path: Path, name: str, text: str, **item: object) -> dict:
    """Write AAA.csv (every weekday of January 2024) and `name` with `text`."""
    _write_csv(tmp_path / "AAA.csv", [(d, 10.0) for d in JANUARY])
    (tmp_path / name).write_text(text)
    return {"file": name, **item}


def _load(tmp_path: Path, symbols=("AAA",), fx=None, extras=None, **window: object):
    spec = FileSpec(
        root=tmp_path,
        columns=Columns(open=None, high=None, low=None, volume=None),
        fx={c: SeriesFile(**f) for c, f in (fx or {}).items()},
        extras={n: SeriesFile(**f) for n, f in (extras or {}).items()},
    )
    return load_files_market(spec, list(symbols), base_currency="USD", **(window or WINDOW))


def test_files_market_with_duplicate_extra_dates_raises_naming_file_and_date(tmp_path):
    text = "date,flow\n2024-01-02,1\n2024-01-03,2\n2024-01-03,3\n"
    item = _prices_and(tmp_path, "flows.csv", text, column="flow")
    with pytest.raises(DataError, match=r"flows\.csv: date 2024-01-03 appears 2 times.*one row"):
        _load(tmp_path, extras={"flow": item})


def test_files_market_with_duplicate_fx_dates_raises_naming_file_and_date(tmp_path):
    _write_csv(tmp_path / "0700.HK.csv", [(d, 300.0) for d in JANUARY])
    text = "date,close\n2024-01-02,7.8\n2024-01-02,7.81\n"
    (tmp_path / "hkd.csv").write_text(text)
    with pytest.raises(DataError, match=r"hkd\.csv: date 2024-01-02 appears 2 times"):
        _load(tmp_path, ["0700.HK"], fx={"HKD": {"file": "hkd.csv"}})


@pytest.mark.parametrize("cell", ["N/A", "12O.5", "-", "#N/A"])
def test_files_market_with_unparseable_price_raises_naming_file_line_and_column(tmp_path, cell):
    (tmp_path / "AAA.csv").write_text(f"date,close\n2024-01-02,10\n2024-01-03,{cell}\n")
    with pytest.raises(DataError, match=rf"AAA\.csv: line 3, column 'close': '{cell}' is not a"):
        _load(tmp_path)


@pytest.mark.parametrize("cell", ["", "NaN", "nan", "null", "NULL"])
def test_files_market_with_conventional_missing_price_keeps_it_nan(tmp_path, cell):
    (tmp_path / "AAA.csv").write_text(f"date,close\n2024-01-02,10\n2024-01-03,{cell}\n")
    market = _load(tmp_path)
    assert math.isnan(market.close.at[pd.Timestamp("2024-01-03"), "AAA"])


def test_files_market_with_unparseable_fx_and_extra_raise_naming_the_cell(tmp_path):
    _write_csv(tmp_path / "0700.HK.csv", [(d, 300.0) for d in JANUARY])
    (tmp_path / "hkd.csv").write_text("date,close\n2024-01-02,7.8\n2024-01-03,7.8l\n")
    with pytest.raises(DataError, match=r"hkd\.csv: line 3, column 'close': '7\.8l'"):
        _load(tmp_path, ["0700.HK"], fx={"HKD": {"file": "hkd.csv"}})
    item = _prices_and(tmp_path, "f.csv", "date,AAA\n2024-01-02,1\n\n2024-01-03,x\n")
    with pytest.raises(DataError, match=r"f\.csv: line 4, column 'AAA': 'x' is not a number"):
        _load(tmp_path, extras={"flow": {**item, "per_symbol": True}})


def test_files_market_with_text_in_wide_parquet_names_the_row(tmp_path):
    pytest.importorskip("pyarrow")
    wide = pd.DataFrame({"date": ["2024-01-02", "2024-01-03"], "AAA": ["10", "ten"]})
    wide.to_parquet(tmp_path / "prices.parquet")
    spec = FileSpec(root=tmp_path, wide="prices.parquet")
    with pytest.raises(DataError, match=r"prices\.parquet: row 2, column 'AAA': 'ten'"):
        load_files_market(spec, ["AAA"], base_currency="USD", **WINDOW)


LONG = (
    "date,mutual_type,type_name,net_buy\n"
    "2024-01-02,2,south_sh,1.5\n2024-01-02,6,south,4.0\n2024-01-02,002+004,south,9\n"
    "2024-01-03,2,south_sh,N/A\n2024-01-03,6,south,-2.5\n"
)


@pytest.mark.filterwarnings("ignore:.*ends on 2024-01-0:engine.errors.DataWarning")
def test_files_market_with_long_format_extra_and_where_picks_one_row_per_date(tmp_path):
    item = _prices_and(tmp_path, "sc.csv", LONG, column="net_buy", where={"mutual_type": 6})
    flows = _load(tmp_path, extras={"south": item}).extras["south"]
    assert flows.loc["2024-01-02":"2024-01-03"].tolist() == [4.0, -2.5]
    item["where"] = {"mutual_type": "002+004", "type_name": "south"}
    assert _load(tmp_path, extras={"south": item}).extras["south"].iloc[0] == 9.0


@pytest.mark.parametrize(
    ("where", "match"),
    [
        (None, r"sc\.csv: date 2024-01-02 appears 3 times.*data\.extras\.south\.where"),
        ({"kind": 6}, r"sc\.csv: data\.extras\.south\.where names column 'kind'.*mutual_type"),
        ({"mutual_type": 7}, r"sc\.csv: no row has mutual_type = 7; it holds 2, 6, 002\+004"),
    ],
)
def test_files_market_with_long_format_extra_and_bad_where_raises(tmp_path, where, match):
    item = _prices_and(tmp_path, "sc.csv", LONG, column="net_buy", where=where)
    with pytest.raises(DataError, match=match):
        _load(tmp_path, extras={"south": item})


def test_series_file_config_with_where_is_passed_to_the_loader():
    from engine.config.schema import SeriesFileConfig

    config = SeriesFileConfig(file="f.csv", column="net_buy", where={"mutual_type": 6})
    assert SeriesFile(**config.model_dump()).where == {"mutual_type": 6}
    with pytest.raises(ValueError, match="extra"):
        SeriesFileConfig(file="f.csv", wher={"mutual_type": 6})


@needs_real
def test_files_market_with_real_long_format_flows_matches_the_pivoted_file():
    long = SeriesFile(
        "flows/stock_connect_daily_eastmoney.csv", "net_buy", where={"mutual_type": 6}
    )
    spec = FileSpec(
        root=REAL,
        files={"QQQ": "us/QQQ.csv"},
        extras={"south": long, "pivot": SeriesFile("flows/southbound_daily.csv", "net_buy")},
    )
    # southbound trades on some US holidays (2021-01-18): those rows match no QQQ bar
    with pytest.warns(DataWarning, match=r"30 of its 963 dates .* fall on no bar") as caught:
        market = load_files_market(spec, ["QQQ"], start=START, end=END, base_currency="USD")
    assert len(caught) == 2  # one per file
    south, pivot = market.extras["south"], market.extras["pivot"]
    assert south.notna().sum() > 900
    pd.testing.assert_series_equal(south, pivot, check_names=False)


def _dated_rows(days, value=1.0) -> str:
    return "date,v\n" + "".join(f"{pd.Timestamp(d).date()},{value}\n" for d in days)


def test_files_market_with_fx_outside_the_window_raises_instead_of_carrying_it(tmp_path):
    _write_csv(tmp_path / "0700.HK.csv", [(d, 300.0) for d in JANUARY])
    (tmp_path / "hkd.csv").write_text(_dated_rows(pd.bdate_range("2011-01-03", "2012-12-31"), 7.8))
    fx = {"HKD": {"file": "hkd.csv", "column": "v"}}
    with pytest.raises(DataError, match=r"hkd\.csv: data\.fx\.HKD runs from 2011-01-03 to 2012"):
        _load(tmp_path, ["0700.HK"], fx=fx)


def test_files_market_with_fx_ending_early_warns_with_the_count_of_carried_bars(tmp_path):
    _write_csv(tmp_path / "0700.HK.csv", [(d, 300.0) for d in JANUARY])
    (tmp_path / "hkd.csv").write_text(_dated_rows(pd.bdate_range("2023-12-01", "2024-01-26"), 8))
    fx = {"HKD": {"file": "hkd.csv", "column": "v"}}
    with pytest.warns(DataWarning, match=r"hkd\.csv: data\.fx\.HKD ends on 2024-01-26.*last 3 of"):
        market = _load(tmp_path, ["0700.HK"], fx=fx)
    assert market.fx["HKD"].iloc[-1] == 8.0  # still carried, but said


def test_files_market_with_extra_outside_the_window_raises(tmp_path):
    item = _prices_and(tmp_path, "f.csv", _dated_rows(["2023-03-01", "2023-03-02"]), column="v")
    with pytest.raises(DataError, match=r"f\.csv: data\.extras\.flow runs from 2023-03-01"):
        _load(tmp_path, extras={"flow": item})


@pytest.mark.parametrize("per_symbol", [False, True])
def test_files_market_with_extra_dated_on_sundays_raises_instead_of_all_nan(tmp_path, per_symbol):
    sundays = pd.date_range("2024-01-07", "2024-01-28", freq="W-SUN")
    text = _dated_rows(sundays).replace("date,v", "date,AAA" if per_symbol else "date,v")
    item = _prices_and(tmp_path, "f.csv", text, column="v", per_symbol=per_symbol)
    with pytest.raises(DataError, match=r"none of its 4 dates in the window falls on a bar"):
        _load(tmp_path, extras={"flow": item})


def test_files_market_with_extra_partly_off_bars_and_short_warns_with_counts(tmp_path):
    days = [*JANUARY[5:-5], "2024-01-14", "2024-01-21"]  # two Sundays among weekdays
    item = _prices_and(tmp_path, "f.csv", _dated_rows(sorted(days)), column="v")
    with pytest.warns(DataWarning) as caught:
        market = _load(tmp_path, extras={"flow": item})
    text = " | ".join(str(w.message) for w in caught)
    assert len(caught) == 3
    assert "data.extras.flow: 2 of its 13 dates in the window fall on no bar" in text
    assert "ends on 2024-01-24, before the last bar (2024-01-31); the last 5 of 21" in text
    assert "starts on 2024-01-09, after the first bar (2024-01-02); the first 5 of 21" in text
    assert market.extras["flow"].notna().sum() == 11


def test_read_extras_with_the_market_bars_checks_them_for_other_sources(tmp_path):
    from engine.data import read_extras

    (tmp_path / "f.csv").write_text(_dated_rows(pd.date_range("2024-01-07", periods=3, freq="W")))
    spec = FileSpec(root=tmp_path, extras={"flow": SeriesFile("f.csv", "v")})
    bars = pd.DatetimeIndex(JANUARY)
    assert read_extras(spec, ["AAA"])["flow"].size == 3  # no bars: not checked here
    with pytest.raises(DataError, match=r"f\.csv: data\.extras\.flow: none of its 3 dates"):
        read_extras(spec, ["AAA"], bars=bars)


def test_files_market_with_stale_fx_no_symbol_trades_in_loads(tmp_path):
    _write_csv(tmp_path / "AAA.csv", [(d, 10.0) for d in JANUARY])
    (tmp_path / "hkd.csv").write_text(_dated_rows(["2011-01-03", "2012-12-31"], 7.8))
    market = _load(tmp_path, fx={"HKD": {"file": "hkd.csv", "column": "v"}})
    assert market.fx.empty


def test_files_market_with_empty_date_cell_names_the_line(tmp_path):
    (tmp_path / "AAA.csv").write_text("date,close\n2024-01-02,10\n,11\n")
    with pytest.raises(DataError, match=r"AAA\.csv: line 3 has no date in column 'date'"):
        _load(tmp_path)
