"""Traded volume in `Market`: every source, flat rows, alignment, synthetic volume, export.

Small files and caches are written here with known numbers; the real-data checks read
their expected volumes with the standard library's csv module and skip when the shared
folder is absent.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data import (
    Columns,
    FileSpec,
    Market,
    YahooCache,
    load_files_market,
    load_yahoo_market,
    market_from_frame,
    synthetic_market,
)
from engine.data import synthetic as synth
from engine.data.coverage import coverage
from engine.errors import DataError

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
needs_real = pytest.mark.skipif(not REAL.exists(), reason="shared real data is absent")
HEADER = "date,open,high,low,close,volume\n"
# XNYS sessions: 2024-01-01 is New Year's Day, the 2nd to the 5th trade
DAYS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]


def _aligned(market: Market) -> None:
    assert market.volume is not None
    assert market.volume.index.equals(market.close.index)
    assert list(market.volume.columns) == list(market.close.columns)
    assert (market.volume.dtypes == np.float64).all()


def _files(root: Path, symbols: list[str], start: str = DAYS[0], end: str = DAYS[-1], **spec):
    return load_files_market(
        FileSpec(root=root, **spec),
        symbols,
        start=pd.Timestamp(start),
        end=pd.Timestamp(end),
        base_currency="USD",
    )


# --- csv / parquet files ----------------------------------------------------------------


def test_files_with_and_without_a_volume_column_give_volume_and_nan(tmp_path) -> None:
    (tmp_path / "AAA.csv").write_text(
        HEADER
        + "2024-01-02,10,11,9,10.5,1200\n"
        + "2024-01-03,10,11,9,10.2,\n"  # an empty cell: unknown
        + "2024-01-05,10,11,9,10.1,0\n"  # no row on the 4th: a gap
    )
    (tmp_path / "BBB.csv").write_text(
        "date,open,close\n2024-01-02,20,20.5\n2024-01-03,20,20.4\n2024-01-04,20,20.3\n"
    )

    market = _files(tmp_path, ["AAA", "BBB"])

    _aligned(market)
    expected = pd.DataFrame(
        {"AAA": [1200.0, np.nan, np.nan, 0.0], "BBB": [np.nan] * 4},
        index=pd.DatetimeIndex(DAYS, name="date"),
    )
    pd.testing.assert_frame_equal(market.volume, expected, check_freq=False)


def test_parquet_file_volume_is_read_like_csv(tmp_path) -> None:
    frame = pd.DataFrame(
        {"date": DAYS[:2], "open": [1.0, 2.0], "close": [1.5, 2.5], "volume": [7, 9]}
    )
    frame.to_parquet(tmp_path / "AAA.parquet")

    market = _files(tmp_path, ["AAA"], end=DAYS[1], pattern="{symbol}.parquet")

    assert market.volume is not None
    assert market.volume["AAA"].tolist() == [7.0, 9.0]


def test_files_with_volume_column_named_in_the_config(tmp_path) -> None:
    (tmp_path / "AAA.csv").write_text("date,close,shares\n2024-01-02,10,300\n2024-01-03,11,400\n")

    market = _files(tmp_path, ["AAA"], end=DAYS[1], columns=Columns(volume="shares"))

    assert market.volume is not None
    assert market.volume["AAA"].tolist() == [300.0, 400.0]


def test_files_without_volume_setting_or_wide_have_no_volume(tmp_path) -> None:
    (tmp_path / "AAA.csv").write_text("date,close,volume\n2024-01-02,10,300\n")
    (tmp_path / "wide.csv").write_text("date,AAA,BBB\n2024-01-02,10,20\n")

    unset = _files(tmp_path, ["AAA"], end=DAYS[0], columns=Columns(volume=None))
    wide = _files(tmp_path, ["AAA", "BBB"], end=DAYS[0], wide="wide.csv")

    assert unset.volume is None
    assert wide.volume is None


def test_negative_volume_is_an_error_naming_file_symbol_and_date(tmp_path) -> None:
    (tmp_path / "AAA.csv").write_text("date,close,volume\n2024-01-02,10,300\n2024-01-03,11,-5\n")

    with pytest.raises(DataError, match=r"AAA\.csv: AAA: volume on 2024-01-03 is -5\.0"):
        _files(tmp_path, ["AAA"])


def test_flat_half_day_row_has_nan_volume_and_coverage_counts_known_volume(tmp_path) -> None:
    # 2024-11-29, the day after Thanksgiving, closes early: a flat zero-volume row
    (tmp_path / "AAA.csv").write_text(
        HEADER
        + "2024-11-27,10,11,9,10.5,500\n"
        + "2024-11-29,12,12,12,12,0\n"
        + "2024-12-02,13,14,12,13.5,800\n"
    )

    market = _files(tmp_path, ["AAA"], "2024-11-27", "2024-12-02")

    half_day = pd.Timestamp("2024-11-29")
    assert market.flat_rows == [("AAA", half_day)]
    assert market.volume is not None
    assert market.close.at[half_day, "AAA"] == 12.0
    assert math.isnan(market.volume.at[half_day, "AAA"])
    assert market.volume["AAA"].drop(half_day).tolist() == [500.0, 800.0]
    assert coverage(market).set_index("symbol").at["AAA", "volume"] == 2


def test_zero_volume_row_that_is_not_flat_keeps_its_zero(tmp_path) -> None:
    (tmp_path / "AAA.csv").write_text(HEADER + "2024-01-02,10,11,9,10.5,0\n")

    market = _files(tmp_path, ["AAA"], end=DAYS[0])

    assert market.flat_rows == []
    assert market.volume is not None and market.volume.at[pd.Timestamp(DAYS[0]), "AAA"] == 0.0


# --- yahoo cache -------------------------------------------------------------------------


def test_yahoo_cache_volume_reaches_the_market_offline_with_half_days_nan(tmp_path) -> None:
    days = pd.DatetimeIndex(["2024-12-20", "2024-12-23", "2024-12-24", "2024-12-27"])
    close = np.array([400.0, 401.0, 402.0, 403.0])
    volume = np.array([1.5e7, 1.6e7, 0.0, 1.7e7])  # the 24th: a flat half day
    frame = pd.DataFrame(
        {"open": close - 1, "high": close + 1, "low": close - 2, "close": close, "volume": volume},
        index=pd.DatetimeIndex(days, name="date"),
    )
    frame.loc["2024-12-24", ["open", "high", "low"]] = 402.0
    cache = YahooCache(tmp_path)
    cache.write("0700.HK", frame, days[0], days[-1], fetched=pd.Timestamp("2025-01-02"))

    market = load_yahoo_market(
        ["0700.HK"],
        start=days[0],
        end=days[-1],
        base_currency="HKD",
        cache=cache,
        offline=True,
        today=pd.Timestamp("2025-01-02"),
    )

    _aligned(market)
    assert market.flat_rows == [("0700.HK", pd.Timestamp("2024-12-24"))]
    expected = [1.5e7, 1.6e7, np.nan, 1.7e7]
    np.testing.assert_array_equal(market.volume["0700.HK"].to_numpy(), expected)


# --- tidy frames and the Market methods -------------------------------------------------


def _tidy(volume: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "date": DAYS[:3] + DAYS[1:],
            "symbol": ["AAA"] * 3 + ["BBB"] * 3,
            "close": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "open": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "volume": [10.0, 20.0, 30.0, 40.0, 50.0, np.nan],
        }
    )
    return frame if volume else frame.drop(columns="volume")


def test_tidy_frame_volume_aligns_and_round_trips_through_to_frame() -> None:
    market = market_from_frame(_tidy())

    _aligned(market)
    expected = pd.DataFrame(
        {"AAA": [10.0, 20.0, 30.0, np.nan], "BBB": [np.nan, 40.0, 50.0, np.nan]},
        index=pd.DatetimeIndex(DAYS, name="date"),
    )
    pd.testing.assert_frame_equal(market.volume, expected, check_freq=False)
    again = market_from_frame(market.to_frame())
    pd.testing.assert_frame_equal(again.volume, market.volume)


def test_tidy_frame_without_volume_has_none() -> None:
    market = market_from_frame(_tidy(volume=False))

    assert market.volume is None
    assert "volume" not in market.to_frame().columns


def test_select_and_after_warmup_keep_volume_aligned_with_close() -> None:
    market = dataclasses.replace(market_from_frame(_tidy()), start=pd.Timestamp(DAYS[2]))

    picked = market.select(["BBB"], pd.DatetimeIndex(DAYS[1:3]))
    after = market.after_warmup()

    _aligned(picked)
    assert picked.volume["BBB"].tolist() == [40.0, 50.0]
    _aligned(after)
    assert after.volume.index.tolist() == [pd.Timestamp(d) for d in DAYS[2:]]
    assert after.volume.loc[DAYS[2]].tolist() == [30.0, 50.0]


def test_market_refuses_volume_not_aligned_with_close() -> None:
    market = market_from_frame(_tidy())

    with pytest.raises(ValueError, match="volume must have the dates and symbols"):
        dataclasses.replace(market, volume=market.volume.iloc[1:])
    with pytest.raises(ValueError, match="volume must have the dates and symbols"):
        dataclasses.replace(market, volume=market.volume[["BBB", "AAA"]])


# --- synthetic ---------------------------------------------------------------------------

SYMBOLS = ["0700.HK", "9988.HK", "QQQ", "NVDA", "2800.HK", "SPY", "^HSI"]
# Per symbol: NaN closes, math.fsum of the finite closes and of the finite opens, from the
# synthetic source before it had volume (seed 7, 2018-01-01 .. 2024-12-31).
PRICES_BEFORE_VOLUME = {
    "0700.HK": (95, 82299.97138152992, 82303.27380495932),
    "9988.HK": (565, 58632.52349224299, 58712.342256091026),
    "QQQ": (45, 545958.3307759435, 545741.7929687742),
    "NVDA": (45, 45888867.03362707, 45851860.812477596),
    "2800.HK": (92, 98458.55401999335, 98450.58796283143),
    "SPY": (45, 944172.149192183, 944007.5424574098),
    "^HSI": (115, 13527.645050022653, 13528.272340054486),
}


@pytest.fixture(scope="module")
def synthetic() -> Market:
    return synthetic_market(SYMBOLS, "2018-01-01", "2024-12-31", seed=7)


def test_synthetic_prices_are_those_before_volume(synthetic) -> None:
    for symbol, (nans, closes, opens) in PRICES_BEFORE_VOLUME.items():
        close = synthetic.close[symbol].to_numpy()
        opened = synthetic.open[symbol].to_numpy()
        assert int(np.isnan(close).sum()) == nans, symbol
        # the band allows another machine's last-bit rounding of exp, not a changed path
        assert math.fsum(close[np.isfinite(close)]) == pytest.approx(closes, rel=1e-11), symbol
        assert math.fsum(opened[np.isfinite(opened)]) == pytest.approx(opens, rel=1e-11), symbol


def test_synthetic_prices_do_not_depend_on_the_volume_streams(synthetic, monkeypatch) -> None:
    monkeypatch.setattr(synth, "_volume", lambda *args: None)  # the path without volume

    without = synthetic_market(SYMBOLS, "2018-01-01", "2024-12-31", seed=7)

    assert without.volume is not None and without.volume.isna().all().all()
    np.testing.assert_array_equal(without.close.to_numpy(), synthetic.close.to_numpy())
    np.testing.assert_array_equal(without.open.to_numpy(), synthetic.open.to_numpy())


def test_synthetic_volume_is_deterministic_and_independent_of_window_and_symbols(
    synthetic,
) -> None:
    synth._volume.cache_clear()
    synth._paths.cache_clear()
    again = synthetic_market(SYMBOLS, "2018-01-01", "2024-12-31", seed=7)
    alone = synthetic_market(["NVDA"], "2021-03-01", "2022-06-30", seed=7)
    other_seed = synthetic_market(["NVDA"], "2021-03-01", "2022-06-30", seed=8)

    np.testing.assert_array_equal(again.volume.to_numpy(), synthetic.volume.to_numpy())
    window = synthetic.volume["NVDA"].loc[alone.index]
    np.testing.assert_array_equal(alone.volume["NVDA"].to_numpy(), window.to_numpy())
    assert not np.array_equal(other_seed.volume.to_numpy(), alone.volume.to_numpy())


def test_synthetic_volume_is_whole_positive_shares_where_priced_and_nan_elsewhere(
    synthetic,
) -> None:
    _aligned(synthetic)
    stocks = [s for s in SYMBOLS if s != "^HSI"]
    priced = synthetic.close[stocks].notna().to_numpy()
    volume = synthetic.volume[stocks].to_numpy()
    assert np.isfinite(volume[priced]).all()
    assert (volume[priced] >= 1.0).all()
    assert (volume[priced] == np.rint(volume[priced])).all()
    assert np.isnan(volume[~priced]).all()
    assert synthetic.volume["^HSI"].isna().all()  # an index trades no shares


@pytest.mark.parametrize(
    ("symbol", "low", "high"),
    [
        ("0700.HK", 0.5e9, 15e9),  # HKD a day
        ("9988.HK", 0.5e9, 15e9),
        ("QQQ", 8e9, 30e9),  # USD a day
        ("SPY", 8e9, 30e9),
        ("NVDA", 4e9, 36e9),
    ],
)
def test_synthetic_traded_value_is_in_a_realistic_range(synthetic, symbol, low, high) -> None:
    value = (synthetic.volume[symbol] * synthetic.close[symbol]).dropna()
    assert low <= value.median() <= high


def test_synthetic_volume_rises_with_the_size_of_the_move(synthetic) -> None:
    for symbol in ["0700.HK", "QQQ", "NVDA", "SPY"]:
        move = np.log(synthetic.close[symbol]).diff().abs()
        both = move.notna() & synthetic.volume[symbol].notna()
        log_volume = np.log(synthetic.volume[symbol][both])
        assert np.corrcoef(move[both], log_volume)[0, 1] > 0.15, symbol


def test_synthetic_hk_traded_value_follows_the_traded_value_series(synthetic) -> None:
    value = (synthetic.volume["0700.HK"] * synthetic.close["0700.HK"]).dropna()
    series = synthetic.extras["traded_value"]["0700.HK"].loc[value.index] * 1e6
    assert 0.85 <= (value / series).median() <= 1.2
    assert np.corrcoef(np.log(value), np.log(series))[0, 1] > 0.8


# --- data export -------------------------------------------------------------------------


def test_export_writes_volume_and_the_round_trip_is_byte_identical(tmp_path) -> None:
    from engine.config import load_config
    from engine.export import export_data
    from engine.pipeline import load_markets

    config = load_config(
        "configs/hk_ai_vs_nasdaq.yaml",
        ["data.source=synthetic", "data.start=2024-01-02", "data.end=2024-03-28"],
    )
    original, _ = load_markets(config)
    export_data(config, tmp_path / "a")
    back = load_config(str(tmp_path / "a" / "config.yaml"))
    loaded, _ = load_markets(back)
    export_data(back, tmp_path / "b")

    assert back.data.columns.volume == "volume"
    symbol = original.symbols[0]
    with (tmp_path / "a" / f"{symbol}.csv").open(newline="") as handle:
        assert next(csv.reader(handle)) == ["date", "open", "close", "volume"]
    simulated = original.after_warmup()
    np.testing.assert_array_equal(
        loaded.volume.loc[simulated.index, simulated.symbols].to_numpy(),
        simulated.volume.to_numpy(),
    )
    names = sorted(p.name for p in (tmp_path / "a").iterdir() if p.name != "run.json")
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir() if p.name != "run.json")
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


# --- real files --------------------------------------------------------------------------


@needs_real
@pytest.mark.parametrize(("symbol", "folder"), [("0700.HK", "hk"), ("QQQ", "us")])
def test_real_hk_and_us_files_load_with_their_volume(symbol, folder) -> None:
    with (REAL / folder / f"{symbol}.csv").open(newline="") as handle:
        raw = {row["date"]: row for row in csv.DictReader(handle)}
    spec = FileSpec(root=REAL, files={symbol: f"{folder}/{symbol}.csv"})
    market = load_files_market(
        spec,
        [symbol],
        start=pd.Timestamp("2023-01-01"),
        end=pd.Timestamp("2024-12-31"),
        base_currency="HKD" if symbol.endswith(".HK") else "USD",
    )

    _aligned(market)
    flat = {d for _, d in market.flat_rows}
    for day in market.index:
        got = market.volume.at[day, symbol]
        if day in flat:
            assert math.isnan(got), day
        else:
            assert got == float(raw[day.strftime("%Y-%m-%d")]["volume"]), day
    assert (market.volume[symbol].dropna() > 0).mean() > 0.99


# --- the simulator reads it ----------------------------------------------------------------


def test_synthetic_volume_caps_fills_at_the_participation_rate() -> None:
    import engine

    market = synthetic_market(["QQQ", "NVDA"], "2024-01-02", "2024-03-28")
    weights = pd.DataFrame(0.5, index=market.index, columns=market.symbols)

    result = engine.simulate(
        market.close,
        weights,
        volume=market.volume,
        participation=0.01,
        init_cash=1e12,  # far beyond 1% of a day's volume: every order is cut
        lot_size=market.lot_size,
    )

    trades = result.trades
    volume = market.volume.stack().rename("volume")
    traded = trades.join(volume, on=["date", "symbol"])
    assert len(traded) == 2 * len(market.index)
    np.testing.assert_array_equal(traded["qty"], np.floor(0.01 * traded["volume"]))
    assert (result.risk["unfilled"] > 0).all()
