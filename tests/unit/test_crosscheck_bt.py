"""Cross-check `engine.simulate` against bt (pmorissette/bt), a second independent oracle.

Both engines get the same closes and the same target weights on the same bars. bt trades
at the close of the bar its algos run on, with that close, so eastwind gets the weights on
that row (no lag). The schedule is bt's `RunMonthly` rule: the first bar, then every bar
that opens a new month, except the last bar (bt's `run_on_last_date=False`). bt prepends
a NaN row dated one day before the first bar; its values start after that row.

- Without costs, monthly equal weights on real US and HK closes (2021-2024), fractional
  and whole shares (bt ``integer_positions=True``, eastwind ``lot_size=1``: bt floors the
  trade delta of a long position, eastwind floors the target; equal for whole holdings),
  and monthly inverse-volatility weights computed here from bt's documented rule (and
  checked against the weights bt holds): value curves agree to 1e-12 relative.
- With a proportional fee r, the curves differ (measured 6e-6 US, 2e-5 HK at r = 10 bp)
  because the engines size trades differently. Each child's allocation in bt is
  a = (w - w_now) * V; bt's `SecurityBase.allocate` solves outlay(q) = a, so a buy spends
  a including its fee (q = a / (p (1 + r))) and a sell raises a net of its fee
  (q = a / (p (1 - r))). eastwind sells to the target w V / p exactly and scales all buys
  by one factor so that they and their fees fit in the cash. From cash the two rules give
  the same first buy (both scale by 1 / (1 + r)); when a rebalance sells and buys, eastwind
  sells less than bt (exactly to target) and buys less (all the fees fall on the buys), so
  its holdings differ at first order in r and its fees at second order. The hand case
  derives both on two bars. On real data bt's quantities follow its rule at every
  rebalance (1e-12), and the value gap stays within the bound derived in `_fee_rule_bound`.

Tests on real data skip when the shared folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engine
from engine.results import SimulationResult

bt = pytest.importorskip("bt")

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
needs_real = pytest.mark.skipif(not REAL.exists(), reason="shared real data is absent")
MARKETS = {
    "us": ["AAPL", "MSFT", "AMZN", "GOOGL"],
    "hk": ["0700.HK", "9988.HK", "1810.HK", "3690.HK"],
}
INIT = 1_000_000.0
LOOKBACK = pd.DateOffset(months=3)


def _closes(market: str, start: str = "2021-01-01") -> pd.DataFrame:
    frames = {
        s: pd.read_csv(REAL / market / f"{s}.csv", index_col="date", parse_dates=True)["close"]
        for s in MARKETS[market]
    }
    return pd.concat(frames, axis=1).loc[start:"2024-12-31"]


def _monthly_bars(index: pd.DatetimeIndex) -> np.ndarray:
    month = index.to_period("M")
    bars = np.r_[True, month[1:] != month[:-1]]
    bars[-1] = False  # bt's RunMonthly does not run on the last bar
    return bars


def _weights_on(close: pd.DataFrame, bars: np.ndarray, rows: pd.DataFrame | float) -> pd.DataFrame:
    weights = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    weights.loc[bars] = rows
    return weights


def _run_bt(
    close: pd.DataFrame,
    run: list[bt.core.Algo],
    weigh: bt.core.Algo,
    *,
    integer: bool = False,
    fee: float = 0.0,
    init: float = INIT,
) -> bt.Backtest:
    strategy = bt.Strategy("s", [*run, bt.algos.SelectAll(), weigh, bt.algos.Rebalance()])
    commissions = (lambda q, p: fee * abs(q) * p) if fee else None
    backtest = bt.Backtest(
        strategy, close, initial_capital=init, integer_positions=integer, commissions=commissions
    )
    backtest.run()
    return backtest


def _max_relative(ours: pd.Series, backtest: bt.Backtest) -> float:
    theirs = backtest.strategy.values.iloc[1:]  # drop bt's row before the first bar
    assert theirs.index.equals(ours.index)
    return float(np.abs(ours.to_numpy() / theirs.to_numpy() - 1.0).max())


@needs_real
@pytest.mark.parametrize("integer", [False, True], ids=["fractional", "whole-shares"])
@pytest.mark.parametrize("market", ["us", "hk"])
def test_simulate_with_monthly_equal_weights_returns_bt_value_curve(market, integer):
    close = _closes(market)
    bars = _monthly_bars(close.index)
    weights = _weights_on(close, bars, 1.0 / close.shape[1])

    theirs = _run_bt(close, [bt.algos.RunMonthly()], bt.algos.WeighEqually(), integer=integer)
    ours = engine.simulate(close, weights, init_cash=INIT, lot_size=1 if integer else None)

    bt_positions = theirs.strategy.positions.iloc[1:][close.columns]
    traded = bt_positions.diff().fillna(bt_positions).ne(0.0).any(axis=1).to_numpy()
    np.testing.assert_array_equal(traded, bars)  # bt traded on exactly our schedule
    assert _max_relative(ours.value, theirs) < 1e-12
    if integer:
        np.testing.assert_array_equal(ours.positions.to_numpy(), bt_positions.to_numpy())


def _inverse_volatility(close: pd.DataFrame, bars: np.ndarray) -> pd.DataFrame:
    # bt's WeighInvVol: returns of the closes from `now - lookback` to `now` (both included),
    # sample std (ddof=1), weights proportional to 1 / std
    rows = []
    for day in close.index[bars]:
        inverse = 1.0 / close.loc[day - LOOKBACK : day].pct_change().std(ddof=1)
        rows.append(inverse / inverse.sum())
    return pd.DataFrame(rows, index=close.index[bars])


@needs_real
@pytest.mark.parametrize("market", ["us", "hk"])
def test_simulate_with_inverse_volatility_weights_returns_bt_value_curve(market):
    # three months of warm-up before the first rebalance, so every window is full: on its
    # first bar bt sees no return and WeighInvVol sets no weight at all
    close = _closes(market, start="2020-10-01")
    bars = _monthly_bars(close.index) & (close.index > "2020-12-31")
    expected = _inverse_volatility(close, bars)
    weights = _weights_on(close, bars, expected)

    run = [bt.algos.RunAfterDate("2020-12-31"), bt.algos.RunMonthly()]
    theirs = _run_bt(close, run, bt.algos.WeighInvVol(lookback=LOOKBACK))
    ours = engine.simulate(close, weights, init_cash=INIT)

    held = theirs.security_weights.loc[expected.index, close.columns]
    np.testing.assert_allclose(held.to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert _max_relative(ours.value, theirs) < 1e-12


def test_first_two_rebalances_with_fee_return_each_engine_sizing_rule_by_hand():
    # cash 10,000, fee r = 1%, 50/50 each bar; A: 10 -> 12, B: 20 -> 18
    r = 0.01
    index = pd.date_range("2024-01-01", periods=2, freq="D")
    close = pd.DataFrame({"A": [10.0, 12.0], "B": [20.0, 18.0]}, index=index)
    weights = pd.DataFrame(0.5, index=index, columns=close.columns)

    ours = engine.simulate(close, weights, init_cash=10_000.0, fees=r)
    theirs = _run_bt(
        close,
        [bt.algos.RunDaily(run_on_last_date=True)],
        bt.algos.WeighEqually(),
        fee=r,
        init=10_000.0,
    )

    # bar 0, from cash. bt: each 5,000 allocation buys 5000 / (p (1 + r)). eastwind: targets
    # 500 A and 250 B need 10,000 (1 + r) > 10,000, so both scale by 1 / (1 + r). Same.
    bar0 = [500 / 1.01, 250 / 1.01]
    # bar 1: V = (500 * 12 + 250 * 18) / 1.01 = 10500 / 1.01; each target 5250 / 1.01;
    # A holds 6000 / 1.01 (sell a = 750 / 1.01), B holds 4500 / 1.01 (buy a = 750 / 1.01).
    a = 750 / 1.01
    # bt: the sell raises a net of fee, the buy spends a with its fee; cash ends at 0
    bt_bar1 = [500 / 1.01 - a / (12 * (1 - r)), 250 / 1.01 + a / (18 * (1 + r))]
    bt_fees = r * a / (1 - r) + r * a / (1 + r)
    # eastwind: A sold to its target; B buys with what the sale left, a (1 - r), fee included
    ew_bar1 = [5250 / 1.01 / 12, 250 / 1.01 + a * (1 - r) / (1 + r) / 18]
    ew_fees = r * a + r * a * (1 - r) / (1 + r)
    value_before = 10500 / 1.01

    bt_positions = theirs.strategy.positions.iloc[1:][["A", "B"]].to_numpy()
    # bt stops its fee search at np.isclose(outlay, a, rtol=1e-16), whose atol is 1e-8
    np.testing.assert_allclose(bt_positions, [bar0, bt_bar1], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(theirs.strategy.cash.iloc[1:], 0.0, atol=4e-8)
    np.testing.assert_allclose(theirs.strategy.values.iloc[-1], value_before - bt_fees, rtol=1e-12)
    np.testing.assert_allclose(ours.positions.to_numpy(), [bar0, ew_bar1], rtol=1e-12)
    np.testing.assert_allclose(ours.cash, 0.0, atol=1e-9)
    np.testing.assert_allclose(ours.value.iloc[-1], value_before - ew_fees, rtol=1e-12)


def _fee_rule_bound(
    close: pd.DataFrame, bars: np.ndarray, ours: SimulationResult, r: float
) -> np.ndarray:
    """Bound |V_eastwind / V_bt - 1| per bar, from the two sizing rules.

    Fully invested with no cash, a rebalance at value V with one-way turnover
    tau = sum(buys a) / V = sum(|sells a|) / V: bt pays fees 2 r tau V / (1 - r^2), eastwind
    2 r tau V / (1 + r); the value ratio jumps by at most their gap over the value after.
    Post-trade weights then differ by sum |dw| <= 2 r tau / ((1 - r) (1 - fees_bt / V)),
    with sum dw = 0, so until the next rebalance the ratio moves by at most half of that
    times the spread (max g - min g) / min g of the assets' growth g since the rebalance.
    Products of per-period factors become expm1 of a sum. Both engines' turnovers and
    post-trade weights differ by terms of second order in r, which the 10% margin covers.
    """
    trades = ours.trades
    sells = (-trades["value"].clip(upper=0.0)).groupby(trades["date"]).sum()
    held_before = ours.positions.shift(1, fill_value=0.0)
    value_before = ours.cash.shift(1, fill_value=ours.init_cash) + (held_before * close).sum(axis=1)
    tau = (sells.reindex(close.index, fill_value=0.0) / value_before).to_numpy()
    prices = close.to_numpy()
    starts = np.flatnonzero(bars)
    terms = np.zeros(len(close))
    for k, t0 in enumerate(starts):
        t1 = starts[k + 1] if k + 1 < len(starts) else len(close) - 1
        growth = prices[t0 : t1 + 1] / prices[t0]
        spread = ((growth.max(axis=1) - growth.min(axis=1)) / growth.min(axis=1)).max()
        after = 1.0 - 2.0 * r * tau[t0] / (1.0 - r**2)
        terms[t0] = tau[t0] * (r * spread / (1.0 - r) + 2.0 * r**2 / (1.0 - r**2)) / after
    return 1.1 * np.expm1(np.cumsum(terms))


@needs_real
@pytest.mark.parametrize("market", ["us", "hk"])
def test_simulate_with_fee_returns_bt_value_curve_within_sizing_rule_bound(market):
    r = 0.001
    close = _closes(market)
    bars = _monthly_bars(close.index)
    weights = _weights_on(close, bars, 1.0 / close.shape[1])

    theirs = _run_bt(close, [bt.algos.RunMonthly()], bt.algos.WeighEqually(), fee=r)
    ours = engine.simulate(close, weights, init_cash=INIT, fees=r)

    # bt's rule at every rebalance, from bt's own holdings and cash before it
    held = theirs.strategy.positions.iloc[1:][close.columns].to_numpy()
    cash = theirs.strategy.cash.iloc[1:].to_numpy()
    prices = close.to_numpy()
    for t in np.flatnonzero(bars)[1:]:
        value = cash[t - 1] + held[t - 1] @ prices[t]
        a = value / close.shape[1] - held[t - 1] * prices[t]
        rule = held[t - 1] + a / (prices[t] * np.where(a < 0.0, 1.0 - r, 1.0 + r))
        np.testing.assert_allclose(held[t], rule, rtol=1e-12, err_msg=str(close.index[t]))
    ratio = ours.value.to_numpy() / theirs.strategy.values.iloc[1:].to_numpy() - 1.0
    bound = _fee_rule_bound(close, bars, ours, r)
    assert np.all(np.abs(ratio) <= bound + 1e-14), np.max(np.abs(ratio) - bound)
    assert np.abs(ratio).max() > 1e-7  # the rules do differ: this is not a 1e-12 case
