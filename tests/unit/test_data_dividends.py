"""``data.adjust: price``: rebuilding price-only closes and dividends from source files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engine
from engine.data.dividends import (
    dividends_from_factor,
    dividends_on_bars,
    total_return_close,
    unadjusted_prices,
)
from engine.data.files import FileSpec, load_files_market
from engine.errors import DataError

REAL = Path("/work/shared/data/real")
DAYS = pd.bdate_range("2024-01-02", periods=4)  # New Year's Day is no session


def test_unadjusted_prices_with_one_dividend_inverts_the_yahoo_factor():
    # raw closes 10, 10, 11, 11 with $1 paid on bar 1: Yahoo multiplies bar 0 by
    # 1 - 1/10 = 0.9, so the adjusted closes are 9, 10, 11, 11
    adjusted = pd.Series([9.0, 10.0, 11.0, 11.0], index=DAYS)
    raw, factor = unadjusted_prices(adjusted, pd.Series([0.0, 1.0, 0.0, 0.0], index=DAYS))
    np.testing.assert_allclose(raw, [10.0, 10.0, 11.0, 11.0])
    np.testing.assert_allclose(factor, [0.9, 1.0, 1.0, 1.0])


def test_unadjusted_prices_with_two_dividends_compounds_the_factors():
    # raw 20, 20, 10, 10; $2 on bar 1 (m = 0.9) and $1 on bar 3 (m = 1 - 1/10 = 0.9):
    # adjusted = raw x [0.81, 0.9, 0.9, 1]
    adjusted = pd.Series([16.2, 18.0, 9.0, 10.0], index=DAYS)
    raw, _ = unadjusted_prices(adjusted, pd.Series([0.0, 2.0, 0.0, 1.0], index=DAYS))
    np.testing.assert_allclose(raw, [20.0, 20.0, 10.0, 10.0])


def test_unadjusted_prices_with_a_gap_before_the_ex_date_uses_the_last_close():
    adjusted = pd.Series([9.0, np.nan, 10.0, 11.0], index=DAYS)
    raw, factor = unadjusted_prices(adjusted, pd.Series([0.0, 0.0, 1.0, 0.0], index=DAYS))
    np.testing.assert_allclose(raw, [10.0, np.nan, 10.0, 11.0])
    np.testing.assert_allclose(factor, [0.9, 0.9, 1.0, 1.0])  # rows before the ex-date


def test_dividends_from_factor_with_raw_and_adjusted_closes_gives_the_dividend():
    close = pd.Series([10.0, 10.0, 11.0, 11.0], index=DAYS)
    adjusted = pd.Series([9.0, 10.0, 11.0, 11.0 * (1 + 1e-7)], index=DAYS)  # float32 noise
    np.testing.assert_allclose(dividends_from_factor(close, adjusted), [0.0, 1.0, 0.0, 0.0])


def test_dividends_on_bars_moves_an_ex_date_without_a_bar_to_the_next_bar():
    paid = pd.Series([0.5, 0.25], index=pd.DatetimeIndex(["2024-01-03", "2024-01-06"]))
    frame = dividends_on_bars({"A": paid}, DAYS)  # 2024-01-06, a Saturday, is after the end
    np.testing.assert_allclose(frame["A"], [0.0, 0.5, 0.0, 0.0])
    frame = dividends_on_bars({"A": paid}, pd.bdate_range("2024-01-02", periods=6))
    np.testing.assert_allclose(frame["A"], [0.0, 0.5, 0.0, 0.0, 0.25, 0.0])  # on Monday


def test_total_return_close_reinvests_each_dividend_at_the_ex_date_close():
    # 10 -> 11 with $1 paid: x 1.2 = 12; a gap (carried 11) with $0.55 paid: x 1.05;
    # then 11 -> 12.1: x 1.1, so 12 x 1.05 x 1.1 = 13.86
    close = pd.DataFrame({"A": [10.0, 11.0, np.nan, 12.1]}, index=DAYS)
    paid = pd.DataFrame({"A": [0.0, 1.0, 0.55, 0.0]}, index=DAYS)
    np.testing.assert_allclose(total_return_close(close, paid)["A"], [10.0, 12.0, np.nan, 13.86])


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text)


def test_files_with_price_adjust_rebuild_raw_closes_and_dividends(tmp_path):
    _write(
        tmp_path,
        "AAA.csv",
        "date,open,close,dividends\n2024-01-02,9,9,0\n2024-01-03,10,10,1\n"
        "2024-01-04,11,11,0\n2024-01-05,11,11,0\n",
    )
    _write(
        tmp_path,
        "BBB.csv",
        "date,close,adj_close\n2024-01-02,10,9\n2024-01-03,10,10\n"
        "2024-01-04,11,11\n2024-01-05,11,11\n",
    )
    spec = FileSpec(root=tmp_path)
    kwargs = {"start": DAYS[0], "end": DAYS[-1], "base_currency": "USD"}
    market = load_files_market(spec, ["AAA", "BBB"], adjust="price", **kwargs)
    np.testing.assert_allclose(market.close["AAA"], [10.0, 10.0, 11.0, 11.0])
    np.testing.assert_allclose(market.open["AAA"], [10.0, 10.0, 11.0, 11.0])
    np.testing.assert_allclose(market.close["BBB"], [10.0, 10.0, 11.0, 11.0])
    np.testing.assert_allclose(market.extras["dividends"], [[0, 0], [1, 1], [0, 0], [0, 0]])
    default = load_files_market(spec, ["AAA"], **kwargs)
    np.testing.assert_allclose(default.close["AAA"], [9.0, 10.0, 11.0, 11.0])
    assert "dividends" not in default.extras


def test_files_with_price_adjust_and_no_dividend_column_name_the_file_and_fix(tmp_path):
    _write(tmp_path, "AAA.csv", "date,close\n2024-01-02,9\n2024-01-03,10\n")
    with pytest.raises(DataError, match=r"AAA\.csv: AAA: data\.adjust is price.*'dividends'"):
        load_files_market(
            FileSpec(root=tmp_path),
            ["AAA"],
            start=DAYS[0],
            end=DAYS[-1],
            base_currency="USD",
            adjust="price",
        )


def test_files_with_price_adjust_and_a_negative_dividend_name_the_date(tmp_path):
    _write(tmp_path, "AAA.csv", "date,close,dividends\n2024-01-02,9,0\n2024-01-03,10,-1\n")
    with pytest.raises(DataError, match=r"dividend on 2024-01-03 is -1"):
        load_files_market(
            FileSpec(root=tmp_path),
            ["AAA"],
            start=DAYS[0],
            end=DAYS[-1],
            base_currency="USD",
            adjust="price",
        )


@pytest.fixture
def real() -> Path:
    if not (REAL / "us" / "AAPL.csv").exists():
        pytest.skip("the shared real data folder is absent")
    return REAL


@pytest.mark.parametrize(
    ("symbol", "day", "close"),
    # closes as the exchange printed them (AAPL before its 4:1 split of 2020-08-31 / 4)
    [
        ("AAPL", "2024-12-31", 250.42),
        ("AAPL", "2020-08-28", 499.23 / 4),
        ("MSFT", "2024-12-31", 421.50),
        ("MSFT", "2019-12-31", 157.70),
    ],
)
def test_unadjusted_prices_of_the_shared_files_give_the_printed_closes(real, symbol, day, close):
    table = pd.read_csv(real / "us" / f"{symbol}.csv", index_col="date", parse_dates=True)
    raw, _ = unadjusted_prices(table["close"], table["dividends"])
    assert raw[day] == pytest.approx(close, rel=5e-7)  # the files hold float32-like values


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT"])
def test_price_and_dividends_reinvested_with_no_withholding_reproduce_the_adjusted_return(
    real, symbol
):
    """Holding the stock at weight 1, rebalanced every bar (dividends reinvested at the
    ex-date close), on the rebuilt price-only closes plus cash dividends, grows like the
    adjusted close: exactly between ex-dates, and on an ex-date e by (C_e + D) / C_{e-1}
    where Yahoo's factor gives C_e / (C_{e-1} - D); the two differ by about
    d * (r + d) (d = D / C_{e-1}, r the day's return), a few 1e-5 each."""
    spec = FileSpec(root=real, files={symbol: f"us/{symbol}.csv"})
    window = {"start": pd.Timestamp("2021-01-04"), "end": pd.Timestamp("2025-03-14")}
    price = load_files_market(spec, [symbol], base_currency="USD", adjust="price", **window)
    adjusted = load_files_market(spec, [symbol], base_currency="USD", **window)
    weights = pd.DataFrame(1.0, index=price.index, columns=[symbol])
    result = engine.simulate(price.close, weights, dividends=price.extras["dividends"])
    ours = result.value.pct_change().iloc[1:]
    theirs = adjusted.close[symbol].pct_change().iloc[1:]
    paid = price.extras["dividends"][symbol].iloc[1:]
    ex = paid > 0.0
    assert ex.sum() >= 16  # quarterly dividends over four years
    np.testing.assert_allclose(ours[~ex], theirs[~ex], rtol=0, atol=1e-12)
    previous = price.close[symbol].shift(1).iloc[1:][ex]
    d = paid[ex] / previous
    gap = (ours[ex] - theirs[ex]).abs()
    assert (gap <= d * (theirs[ex].abs() + d) * 1.05 + 1e-12).all()
    total = result.value.iloc[-1] / result.value.iloc[0]
    expected = adjusted.close[symbol].iloc[-1] / adjusted.close[symbol].iloc[0]
    assert total == pytest.approx(expected, rel=1e-4)  # 3e-5 (AAPL), 4e-5 (MSFT)
    without = engine.simulate(price.close, weights).value
    assert without.iloc[-1] / without.iloc[0] < expected * (1 - 0.015)  # what was missing
