"""Checks that warn about loaded prices and never change them (`engine.data.checks`).

Bad prints: small files and frames written here, each a clean random walk with one
fault put in by hand. Series that end early: closes that stop before the last bar.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.cli import main
from engine.data import (
    FileSpec,
    SeriesEnd,
    bad_prints,
    load_files_market,
    market_from_frame,
    series_ends,
    synthetic_market,
)
from engine.data.calendars import all_sessions
from engine.errors import DataWarning

XNYS = all_sessions("XNYS")
DAYS = XNYS[(XNYS >= "2024-01-02")][:60]  # 2024-01-02 .. 2024-03-27


def _walk(seed: int = 0, n: int = len(DAYS)) -> np.ndarray:
    """A clean price path: 2% daily moves from 100."""
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))


def _write(path: Path, close: np.ndarray, opened: np.ndarray | None = None) -> None:
    opened = close if opened is None else opened
    rows = [
        f"{d.date()},{o},{max(o, c)},{min(o, c)},{c},1000\n"
        for d, o, c in zip(DAYS[: len(close)], opened.tolist(), close.tolist(), strict=True)
    ]
    path.write_text("date,open,high,low,close,volume\n" + "".join(rows))


def _load(root: Path, symbols: list[str]):
    return load_files_market(
        FileSpec(root=root),
        symbols,
        start=DAYS[0],
        end=DAYS[-1],
        base_currency="USD",
    )


def _faulty(kind: str) -> np.ndarray:
    close = _walk()
    if kind == "tick":
        close[30] = 1e12
    elif kind == "spike":
        close[30] *= 3.0
    elif kind == "dip":
        close[30] /= 3.0
    elif kind == "split":
        close[30:] /= 100.0
    elif kind == "units":
        close[30:] *= 100.0
    return close


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("tick", "spike"),
        ("spike", "spike"),
        ("dip", "spike"),
        ("split", "step"),
        ("units", "step"),
    ],
)
def test_files_market_with_a_bad_print_warns_naming_symbol_and_date_and_keeps_it(
    tmp_path, kind, expected
):
    close = _faulty(kind)
    _write(tmp_path / "AAA.csv", close)

    with pytest.warns(DataWarning) as caught:
        market = _load(tmp_path, ["AAA"])

    day = DAYS[30]
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("AAA: close ")
    assert str(day.date()) in message and f"{close[30]:.6g}" in message
    assert "check" in message
    found = bad_prints(market)
    assert [(p.symbol, p.date, p.kind) for p in found] == [("AAA", day, expected)]
    assert market.close.at[day, "AAA"] == close[30]  # warned about, never changed


def test_bad_prints_with_a_step_say_it_persists_and_name_the_check():
    close = _faulty("split")
    tidy = pd.DataFrame({"date": DAYS, "symbol": "AAA", "close": close})

    with pytest.warns(DataWarning, match=r"AAA: close steps from .* \(2024-02-13\) to "):
        market = market_from_frame(tidy)

    (found,) = bad_prints(market)
    assert f"x{close[30] / close[29]:.3g} in one bar, and stays there" in found.message
    assert "unadjusted split" in found.message


def test_bad_prints_with_a_stray_open_flag_the_open_only():
    close = _walk()
    opened = close.copy()
    opened[20] = close[20] * 4.0
    tidy = pd.DataFrame({"date": DAYS, "symbol": "AAA", "close": close, "open": opened})

    with pytest.warns(DataWarning, match=r"AAA: open on 2024-01-31 is "):
        market = market_from_frame(tidy)

    assert [(p.kind, p.date) for p in bad_prints(market)] == [("open", DAYS[20])]


def test_files_market_with_clean_series_and_gaps_does_not_warn(tmp_path):
    _write(tmp_path / "AAA.csv", _walk(1))
    _write(tmp_path / "BBB.csv", _walk(2)[:40])  # ends early: a gap, not a bad print

    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        market = _load(tmp_path, ["AAA", "BBB"])

    assert bad_prints(market) == []


def test_synthetic_market_over_several_seeds_has_no_bad_print():
    symbols = ["0700.HK", "9988.HK", "^HSI", "AAPL", "NVDA", "QQQ"]
    for seed in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataWarning)
            market = synthetic_market(symbols, "2015-01-01", "2020-12-31", seed=seed)
        assert bad_prints(market) == []


def test_bad_prints_with_several_in_one_symbol_warn_once_with_the_count(tmp_path):
    close = _walk()
    close[10] *= 5.0
    close[40] /= 5.0
    _write(tmp_path / "AAA.csv", close)

    with pytest.warns(DataWarning) as caught:
        market = _load(tmp_path, ["AAA"])

    assert len(caught) == 1 and "(1 more; `eastwind data show` lists them)" in str(
        caught[0].message
    )
    assert [p.date for p in bad_prints(market)] == [DAYS[10], DAYS[40]]


# --- series that end early ------------------------------------------------------------


def test_series_ends_with_a_series_that_stops_early_counts_the_missing_sessions(tmp_path):
    _write(tmp_path / "AAA.csv", _walk(1))
    _write(tmp_path / "BBB.csv", _walk(2)[:52])
    market = _load(tmp_path, ["AAA", "BBB"])

    assert series_ends(market) == [
        # 2024-03-15 is BBB's last price; 8 XNYS sessions follow up to 2024-03-27
        SeriesEnd("BBB", DAYS[51], 8)
    ]


def test_series_ends_with_hk_stock_ending_before_a_us_only_bar_lists_nothing():
    # XHKG was closed on 2024-04-01 (Easter Monday) and 2024-04-04 (Ching Ming), XNYS open
    days = pd.DatetimeIndex(["2024-04-01", "2024-04-02", "2024-04-03", "2024-04-04"])
    tidy = pd.DataFrame(
        {
            "date": [*days, *days[1:3]],
            "symbol": ["QQQ"] * 4 + ["0700.HK"] * 2,
            "close": [400.0, 401.0, 402.0, 403.0, 300.0, 301.0],
        }
    )
    market = market_from_frame(tidy, base_currency="HKD", fx={"USD": pd.Series(7.8, days)})

    assert series_ends(market) == []  # 0700.HK has every XHKG session up to the end
    assert market.close["0700.HK"].last_valid_index() == days[2]


def test_series_ends_with_unknown_exchange_counts_the_markets_own_bars():
    days = pd.DatetimeIndex(["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"])
    tidy = pd.DataFrame(
        {
            "date": [*days, *days[:2]],
            "symbol": ["AAA"] * 4 + ["XYZ"] * 2,
            "close": [10.0, 11.0, 12.0, 13.0, 5.0, 6.0],
        }
    )
    metadata = {"XYZ": {"currency": "USD", "exchange": "XXXX", "lot_size": 1}}
    market = market_from_frame(tidy, metadata=metadata)

    assert series_ends(market) == [SeriesEnd("XYZ", days[1], 2)]


def test_data_show_lists_bad_prints_and_series_that_end_early(tmp_path, capsys):
    _write(tmp_path / "AAA.csv", _faulty("tick"))
    _write(tmp_path / "BBB.csv", _walk(2)[:52])
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: c\ndata: {{source: csv, path: {tmp_path}, symbols: [AAA, BBB], "
        f"start: {DAYS[0].date()}, end: {DAYS[-1].date()}}}\nstrategy: {{name: equal_weight}}\n"
    )

    assert main(["data", "show", str(config)]) == 0

    captured = capsys.readouterr()
    assert "suspect spike: AAA: close on 2024-02-14 is 1e+12" in captured.out
    assert "BBB" in captured.out and "2024-03-15" in captured.out
    after_title = captured.out.split("series that end before the last bar")[1]
    ends = next(line for line in after_title.splitlines() if "BBB" in line)
    assert [c.strip() for c in ends.strip("│ ").split("│")] == ["BBB", "2024-03-15", "8"]
    assert captured.err.startswith("DataWarning: AAA: close on 2024-02-14 is 1e+12")
