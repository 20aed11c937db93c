"""The synthetic market behaves like a market: tails, volatility, clustering, co-movement.

Every band below was read off the real files in ``shared/data/real`` (adjusted closes,
2010-01-01 .. 2025-12-31, or from the listing date): ``us/{AAPL,MSFT,AMZN,GOOGL,META,
NVDA,TSLA}.csv`` and ``hk/{0700,9988,1810,1024,3690,9618}.HK.csv`` for stocks,
``us/SPY.csv``, ``us/QQQ.csv`` and ``index/HSI.csv`` for indices. The real ranges are in
the comment next to each band; a band is the real range widened by a margin, because
one synthetic history is one draw and the real files are one draw too.

Daily moves are measured between consecutive sessions only: the move across a Hong Kong
suspension spans several weeks.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data import synthetic_market

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
SEEDS = (0, 1, 2, 3)
START, END = "2010-01-01", "2025-12-31"
US_STOCKS = ["AAPL", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "TSLA"]
HK_STOCKS = ["0700.HK", "9988.HK", "1810.HK", "1024.HK", "3690.HK", "9618.HK"]
INDICES = ["SPY", "QQQ", "2800.HK"]
SYMBOLS = US_STOCKS + HK_STOCKS + INDICES

# (low, high) per fact, for single stocks and for indices.
STOCK_BANDS = {
    "max_daily_move": (0.06, 0.40),  # real 0.147 (MSFT) .. 0.356 (9618.HK)
    "annual_vol": (0.15, 0.80),  # real 0.255 (MSFT) .. 0.633 (1024.HK)
    "excess_kurtosis": (1.0, 30.0),  # real 3.6 (1810.HK) .. 21.8 (META)
    "max_60day_move": (0.20, 3.00),  # real 0.458 (MSFT) .. 2.184 (TSLA)
    "squared_return_autocorr": (0.0, 0.50),  # real 0.029 (META) .. 0.203 (MSFT)
    "index_corr": (0.30, 0.95),  # real 0.456 (TSLA) .. 0.790 (9988.HK)
}
INDEX_BANDS = {
    "max_daily_move": (0.04, 0.15),  # real 0.109 (SPY) .. 0.132 (HSI)
    "annual_vol": (0.10, 0.30),  # real 0.172 (SPY) .. 0.212 (HSI)
    "excess_kurtosis": (1.0, 30.0),  # real 7.3 (HSI) .. 12.5 (SPY)
    "max_60day_move": (0.15, 0.80),  # real 0.398 (SPY) .. 0.487 (HSI)
    "squared_return_autocorr": (0.0, 0.50),  # real 0.090 (HSI) .. 0.357 (SPY)
}
# The synthetic tails are lighter than the real files' few single-day outliers (META's
# kurtosis of 21.8 comes from two earnings days), so kurtosis gets a wider factor.
VOL_FACTOR = 1.5
KURTOSIS_FACTOR = 8.0
MEDIAN_KURTOSIS_FACTOR = 3.0


def _index_of(symbol: str) -> str:
    return "2800.HK" if symbol.endswith(".HK") else "SPY"


def _facts(close: pd.Series, index_close: pd.Series | None) -> dict[str, float]:
    log_returns = np.log(close).diff().dropna()  # NaN across suspensions: not a daily move
    daily = (close / close.shift(1) - 1.0).dropna()
    quarter = close.dropna()
    squared = log_returns**2
    facts = {
        "max_daily_move": float(daily.abs().max()),
        "annual_vol": float(daily.std() * np.sqrt(252)),
        "excess_kurtosis": float(log_returns.kurt()),
        "max_60day_move": float((quarter / quarter.shift(60) - 1.0).abs().max()),
        "squared_return_autocorr": float(np.mean([squared.autocorr(lag) for lag in range(1, 6)])),
    }
    if index_close is not None:
        index_returns = np.log(index_close).diff()
        pair = pd.concat([log_returns, index_returns], axis=1, sort=True).dropna()
        facts["index_corr"] = float(pair.corr().iloc[0, 1])
    return facts


def _synthetic_facts(seed: int) -> dict[str, dict[str, float]]:
    close = synthetic_market(SYMBOLS, START, END, seed=seed).close
    hong_kong = [symbol for symbol in SYMBOLS if symbol.endswith(".HK")]
    us = [symbol for symbol in SYMBOLS if symbol not in hong_kong]
    # the frame holds both calendars: keep each symbol's own exchange sessions, where a
    # NaN is then a suspension
    sessions = {
        "HK": close[hong_kong].notna().any(axis=1),
        "US": close[us].notna().any(axis=1),
    }
    return {
        symbol: _facts(
            close[symbol][sessions["HK" if symbol in hong_kong else "US"]],
            None if symbol in INDICES else close[_index_of(symbol)],
        )
        for symbol in SYMBOLS
    }


@pytest.fixture(scope="module")
def synthetic_facts() -> dict[int, dict[str, dict[str, float]]]:
    return {seed: _synthetic_facts(seed) for seed in SEEDS}


def _outside(facts: dict[str, float], bands: dict[str, tuple[float, float]]) -> list[str]:
    return [
        f"{name} {facts[name]:.3f} not in [{low}, {high}]"
        for name, (low, high) in bands.items()
        if not low <= facts[name] <= high
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_synthetic_stocks_with_seed_returns_facts_inside_real_bands(synthetic_facts, seed):
    outside = {
        symbol: _outside(synthetic_facts[seed][symbol], STOCK_BANDS)
        for symbol in US_STOCKS + HK_STOCKS
    }
    assert not {s: o for s, o in outside.items() if o}


@pytest.mark.parametrize("seed", SEEDS)
def test_synthetic_indices_with_seed_returns_facts_inside_real_bands(synthetic_facts, seed):
    outside = {symbol: _outside(synthetic_facts[seed][symbol], INDEX_BANDS) for symbol in INDICES}
    assert not {s: o for s, o in outside.items() if o}


def _real_close(symbol: str) -> pd.Series:
    name = {"SPY": "us/SPY.csv", "QQQ": "us/QQQ.csv", "2800.HK": "index/HSI.csv"}.get(symbol)
    if name is None:
        name = f"hk/{symbol}.csv" if symbol.endswith(".HK") else f"us/{symbol}.csv"
    frame = pd.read_csv(REAL / name, parse_dates=["date"], index_col="date")
    return frame["close"].loc[START:END]


@pytest.fixture(scope="module")
def real_facts() -> dict[str, dict[str, float]]:
    if not REAL.is_dir():
        pytest.skip(f"real data folder {REAL} is absent")
    close = {symbol: _real_close(symbol) for symbol in SYMBOLS}
    return {
        symbol: _facts(close[symbol], None if symbol in INDICES else close[_index_of(symbol)])
        for symbol in SYMBOLS
    }


def test_synthetic_facts_with_real_files_returns_vol_and_kurtosis_within_a_factor(
    synthetic_facts, real_facts
):
    # 2800.HK (the Tracker Fund) stands for the Hang Seng Index, which the files hold
    far = []
    for symbol in SYMBOLS:
        vol = np.median([synthetic_facts[seed][symbol]["annual_vol"] for seed in SEEDS])
        kurtosis = np.median([synthetic_facts[seed][symbol]["excess_kurtosis"] for seed in SEEDS])
        real = real_facts[symbol]
        if not 1 / VOL_FACTOR <= vol / real["annual_vol"] <= VOL_FACTOR:
            far.append(f"{symbol} annual vol {vol:.3f} vs real {real['annual_vol']:.3f}")
        if not 1 / KURTOSIS_FACTOR <= kurtosis / real["excess_kurtosis"] <= KURTOSIS_FACTOR:
            far.append(f"{symbol} kurtosis {kurtosis:.1f} vs real {real['excess_kurtosis']:.1f}")
    assert not far
    synthetic_median = np.median(
        [
            facts["excess_kurtosis"]
            for by_symbol in synthetic_facts.values()
            for facts in by_symbol.values()
        ]
    )
    real_median = np.median([facts["excess_kurtosis"] for facts in real_facts.values()])
    assert 1 / MEDIAN_KURTOSIS_FACTOR <= synthetic_median / real_median <= MEDIAN_KURTOSIS_FACTOR
