"""Reproduce another engine's published result with `size_type="target_quantity"`.

backtrader's own test suite (``tests/test_strategy_unoptimized.py``) publishes the fills
and the final state of an SMA(15) crossover with a fixed stake of one unit filled at the
next bar's open, on its bundled 2006 daily file. The file is read from the project's
shared real-data folder; the test skips when that folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engine

ORACLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "oracle"
BACKTRADER_FILE = ORACLE / "backtrader_2006-day-001.csv"

# Published by backtrader (numbers only): signal-bar closes, fills, final value and cash.
ENTRY_SIGNAL_CLOSES = [
    3641.42,
    3798.46,
    3874.61,
    3860.00,
    3843.08,
    3648.33,
    3526.84,
    3632.93,
    3788.96,
    3841.31,
    4045.22,
    4052.89,
]
ENTRY_FILLS = [
    3643.35,
    3801.03,
    3872.37,
    3863.57,
    3845.32,
    3656.43,
    3542.65,
    3639.65,
    3799.86,
    3840.20,
    4047.63,
    4052.55,
]
EXIT_SIGNAL_CLOSES = [
    3763.73,
    3811.45,
    3823.11,
    3821.97,
    3837.86,
    3604.33,
    3562.56,
    3772.21,
    3780.18,
    3974.62,
    4048.16,
]
EXIT_FILLS = [
    3763.95,
    3811.85,
    3822.35,
    3822.57,
    3829.82,
    3598.58,
    3545.92,
    3766.80,
    3782.15,
    3979.73,
    4045.05,
]
FINAL_VALUE, FINAL_CASH = 10284.10, 6164.16


def _crossover(close: pd.Series, period: int) -> np.ndarray:
    """+1 / -1 where close crosses its SMA, remembering the last non-zero difference."""
    diff = (close - close.rolling(period).mean()).to_numpy()
    signal = np.zeros(len(diff), dtype=np.int64)
    last = np.nan
    for t, d in enumerate(diff):
        if np.isnan(d):
            continue
        if last < 0.0 < d:
            signal[t] = 1
        elif last > 0.0 > d:
            signal[t] = -1
        if d != 0.0:
            last = d
    return signal


@pytest.mark.skipif(not BACKTRADER_FILE.exists(), reason="shared real data is absent")
def test_simulate_with_fixed_stake_next_open_reproduces_backtrader_published_result():
    data = pd.read_csv(BACKTRADER_FILE, parse_dates=["Date"], index_col="Date")
    close, opens = data[["Close"]], data[["Open"]].set_axis(["Close"], axis=1)
    signal = _crossover(data["Close"], period=15)

    # flat -> buy one unit on an up-cross; long -> close on a down-cross; fill next open
    targets = np.full(len(data), np.nan)
    entries, exits, holding = [], [], False
    for t in range(len(data) - 1):
        if not holding and signal[t] > 0:
            targets[t + 1], holding = 1.0, True
            entries.append(data["Close"].iloc[t])
        elif holding and signal[t] < 0:
            targets[t + 1], holding = 0.0, False
            exits.append(data["Close"].iloc[t])
    assert entries == ENTRY_SIGNAL_CLOSES and exits == EXIT_SIGNAL_CLOSES  # same signals

    result = engine.simulate(
        close,
        pd.DataFrame({"Close": targets}, index=data.index),
        exec_price=opens,
        init_cash=10_000.0,
        size_type="target_quantity",
    )

    trades = result.trades
    np.testing.assert_allclose(trades.loc[trades["qty"] > 0, "price"], ENTRY_FILLS, atol=1e-9)
    np.testing.assert_allclose(trades.loc[trades["qty"] < 0, "price"], EXIT_FILLS, atol=1e-9)
    assert round(result.value.iloc[-1], 2) == FINAL_VALUE
    assert round(result.cash.iloc[-1], 2) == FINAL_CASH
