"""Cross-check `engine.simulate` against vectorbt, an independent implementation.

Without lots, fx, borrow, interest and leverage caps, and while cash covers every buy,
eastwind's semantics equal ``vbt.Portfolio.from_orders(..., group_by=True,
cash_sharing=True, call_seq="auto")``. The value curves must agree to 1e-9 relative at
every bar, on random markets with long and short targets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import engine

vbt = pytest.importorskip("vectorbt")


def _random_market(seed: int, n_bars: int, n_assets: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2015-01-01", periods=n_bars)
    log_returns = rng.normal(0.0003, 0.02, (n_bars, n_assets))
    close = pd.DataFrame(
        np.exp(np.cumsum(log_returns, axis=0)) * rng.uniform(5.0, 500.0, n_assets),
        index=index,
        columns=[f"S{j:02d}" for j in range(n_assets)],
    )
    opens = close.shift(1).fillna(close) * np.exp(rng.normal(0.0, 0.005, (n_bars, n_assets)))
    return close, opens


def _random_weights(
    seed: int, close: pd.DataFrame, gross: float, rebalance_prob: float = 0.1
) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1000)
    n_bars, n_assets = close.shape
    rows = rng.random(n_bars) < rebalance_prob
    rows[0] = True
    raw = rng.normal(size=(rows.sum(), n_assets))
    raw *= rng.uniform(0.1, gross, (rows.sum(), 1)) / np.abs(raw).sum(axis=1, keepdims=True)
    weights = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    weights.loc[rows] = raw
    return weights


def _assert_same_curve(ours: pd.Series, theirs: pd.Series) -> None:
    relative = np.abs(ours.to_numpy() / theirs.to_numpy() - 1.0)
    assert relative.max() < 1e-9, (
        f"max relative difference {relative.max():.3e} at {relative.argmax()}"
    )


@pytest.mark.parametrize("seed", range(6))
def test_simulate_with_long_short_targets_matches_vectorbt_value_curve(seed):
    close, _ = _random_market(seed, n_bars=300, n_assets=25)
    weights = _random_weights(seed, close, gross=0.95)
    fees, slippage = [(0.0, 0.0), (0.001, 0.0005), (0.0025, 0.002)][seed % 3]

    ours = engine.simulate(close, weights, fees=fees, slippage=slippage, init_cash=1e6)
    theirs = vbt.Portfolio.from_orders(
        close,
        weights,
        size_type="targetpercent",
        group_by=True,
        cash_sharing=True,
        call_seq="auto",
        fees=fees,
        slippage=slippage,
        init_cash=1e6,
        freq="1D",
    )

    _assert_same_curve(ours.value, theirs.value())
    assert len(ours.trades) == len(theirs.orders.records)
    np.testing.assert_allclose(
        ours.trades["fees"].sum(), theirs.orders.records["fees"].sum(), rtol=1e-9
    )


def test_simulate_with_open_execution_matches_vectorbt_order_price_open():
    close, opens = _random_market(11, n_bars=250, n_assets=12)
    weights = _random_weights(11, close, gross=0.9)

    ours = engine.simulate(close, weights, exec_price=opens, fees=0.001, init_cash=1e6)
    theirs = vbt.Portfolio.from_orders(
        close,
        weights,
        price=opens,
        size_type="targetpercent",
        group_by=True,
        cash_sharing=True,
        call_seq="auto",
        fees=0.001,
        init_cash=1e6,
        freq="1D",
    )

    _assert_same_curve(ours.value, theirs.value())


@pytest.mark.parametrize(
    ("size_type", "vbt_size_type", "scale"),
    [("target_quantity", "targetamount", 50.0), ("target_value", "targetvalue", 20_000.0)],
)
def test_simulate_with_quantity_and_value_targets_matches_vectorbt(size_type, vbt_size_type, scale):
    close, _ = _random_market(5, n_bars=200, n_assets=8)
    weights = _random_weights(5, close, gross=1.0) * scale

    ours = engine.simulate(close, weights, size_type=size_type, fees=0.001, init_cash=1e6)
    theirs = vbt.Portfolio.from_orders(
        close,
        weights,
        size_type=vbt_size_type,
        group_by=True,
        cash_sharing=True,
        call_seq="auto",
        fees=0.001,
        init_cash=1e6,
        freq="1D",
    )

    _assert_same_curve(ours.value, theirs.value())
