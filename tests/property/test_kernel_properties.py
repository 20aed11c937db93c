"""Accounting invariants of `engine.simulate` on random markets (hypothesis).

Every property holds for any market, target path and cost setting the strategies in
`tests/strategies.py` can draw: gaps, late listings, two currencies with fx gaps, board
lots, fee schedules, taxes, slippage, leverage caps, borrow and cash interest.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine.kernel import sim_nb
from engine.simulation import BankruptcyWarning
from tests.reference import simulate_reference
from tests.reference_inputs import reference_inputs
from tests.strategies import Case, markets


def _simulate(case: Case, **overrides):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BankruptcyWarning)
        return engine.simulate(case.close, case.weights, **{**case.kwargs, **overrides})


def _money_tol(case: Case) -> float:
    return 1e-9 * case.kwargs["init_cash"]


def _asset_fx(case: Case) -> np.ndarray:
    """Base-currency rate of each asset's currency, last known value carried forward."""
    n_bars, n_assets = case.close.shape
    if "fx" not in case.kwargs:
        return np.ones((n_bars, n_assets))
    hkd = case.kwargs["fx"]["HKD"].ffill().to_numpy()
    codes = [case.kwargs["currency"][s] for s in case.close.columns]
    return np.column_stack([hkd if c == "HKD" else np.ones(n_bars) for c in codes])


@given(markets(open_execution=True))
def test_value_with_any_market_equals_cash_plus_positions_at_last_known_prices(case):
    result = _simulate(case)
    last_close = case.close.ffill().to_numpy()
    qty = result.positions.to_numpy()
    held = np.where(qty != 0.0, qty * last_close * _asset_fx(case), 0.0).sum(axis=1)
    np.testing.assert_allclose(
        result.value, result.cash.to_numpy() + held, rtol=1e-12, atol=_money_tol(case)
    )


@given(markets(open_execution=True))
def test_costs_with_any_market_are_never_negative(case):
    result = _simulate(case)
    for column in ("fees", "tax", "fx_cost", "slippage"):
        assert (result.trades[column] >= 0.0).all(), column
    costs = result.costs
    paid = ["dividends", "dividends_paid", "withholding"]
    assert (costs[["fees", "taxes", "fx_costs", "slippage", "borrow", *paid]] >= 0.0).all().all()
    assert (costs["withholding"] <= costs["dividends"] + 1e-12).all()


@given(markets(lots=False).filter(lambda c: True), st.sampled_from([1.0, 10.0, 100.0]))
def test_quantities_with_board_lots_are_whole_lots_at_every_bar(case, lot):
    result = _simulate(case, lot_size=lot)
    lots = result.positions.to_numpy() / lot
    np.testing.assert_allclose(lots, np.round(lots), atol=1e-9)


@given(markets(open_execution=True))
def test_fills_with_nan_execution_price_never_happen_and_positions_move_only_on_fills(case):
    result = _simulate(case)
    exec_price = case.kwargs["exec_price"]
    for date, symbol in zip(result.trades["date"], result.trades["symbol"], strict=True):
        assert not math.isnan(exec_price.at[date, symbol]), (date, symbol)
    changed = result.positions.diff().fillna(result.positions).ne(0.0)
    filled = pd.DataFrame(False, index=changed.index, columns=changed.columns)
    for date, symbol in zip(result.trades["date"], result.trades["symbol"], strict=True):
        filled.at[date, symbol] = True
    assert not (changed & ~filled).any().any()


@given(markets(leverage=False), st.sampled_from([0.5, 1.0, 1.5, 2.5]))
def test_gross_leverage_with_cap_stays_below_cap_after_increasing_fills(case, cap):
    result = _simulate(case, max_leverage=cap)
    trades = result.trades
    qty_before = result.positions.shift(1).fillna(0.0)
    increasing_bars = set()
    for date, symbol, q in zip(trades["date"], trades["symbol"], trades["qty"], strict=True):
        before = qty_before.at[date, symbol]
        if abs(before + q) > abs(before) + 1e-12:
            increasing_bars.add(date)
    gross = result.gross_exposure
    for date in increasing_bars:
        assert gross.at[date] <= cap + 1e-9, (date, gross.at[date])


@given(markets(leverage=False))
def test_cash_without_cap_is_not_made_negative_by_buys(case):
    result = _simulate(case)
    trades = result.trades
    buys = trades[trades["qty"] > 0.0]
    outflow = (
        (buys["value"] + buys["fees"] + buys["tax"] + buys["fx_cost"]).groupby(buys["date"]).sum()
    )
    bankrupt = result.bankrupt_at  # closing out a bankrupt book leaves its deficit in cash
    for date, spent in outflow.items():
        if bankrupt is not None and date >= bankrupt:
            continue
        cash_after = result.cash.at[date]
        if cash_after + spent >= 0.0:  # cash before the buys was not negative
            assert cash_after >= -_money_tol(case), (date, cash_after)


@given(markets(lots=False), st.sampled_from([1.0, 10.0]))
def test_fills_with_any_market_never_overshoot_the_target_quantity(case, lot):
    targets = (case.weights * 100.0).round()  # whole units
    result = _simulate(
        Case(case.close, targets, case.kwargs), size_type="target_quantity", lot_size=lot
    )
    previous = result.positions.shift(1).fillna(0.0)
    for date, symbol, q in zip(
        result.trades["date"], result.trades["symbol"], result.trades["qty"], strict=True
    ):
        if date == result.bankrupt_at:
            continue  # the bankruptcy rule closes every position whatever the target
        given_target = targets.loc[:date, symbol].dropna().iloc[-1]
        goal = np.trunc(given_target / lot) * lot  # board lots round toward zero
        start = previous.at[date, symbol]
        low, high = min(start, goal), max(start, goal)
        assert low - 1e-9 <= start + q <= high + 1e-9, (date, symbol, start, q, goal)


def _reference_inputs(case: Case) -> dict:
    return reference_inputs(case.close, case.weights, case.kwargs)


@given(markets(open_execution=True))
def test_kernel_with_every_feature_on_agrees_with_the_plain_python_reference(case):
    result = _simulate(case)
    expected = simulate_reference(**_reference_inputs(case))
    tol = _money_tol(case)
    np.testing.assert_allclose(result.value, expected.value, rtol=1e-9, atol=tol)
    np.testing.assert_allclose(result.cash, expected.cash, rtol=1e-9, atol=tol)
    np.testing.assert_allclose(result.positions, expected.qty, rtol=1e-9, atol=1e-9)
    assert len(result.trades) == len(expected.fills)
    for name in ("dividends", "dividends_paid", "withholding"):
        np.testing.assert_allclose(result.costs[name], getattr(expected, name), atol=tol)


LEVER = st.sampled_from([-40.0, -12.0, 4.0, 12.0, 40.0])


def _levered(case: Case, scale: float) -> Case:
    """The case's weights times `scale`; a negative scale shorts every asset: the cases
    that go bankrupt (about one in four without a leverage cap)."""
    weights = case.weights.abs() * scale if scale < 0.0 else case.weights * scale
    return Case(case.close, weights, case.kwargs)


@given(markets(open_execution=True), LEVER)
def test_kernel_with_levered_targets_agrees_with_the_reference_through_bankruptcy(case, scale):
    levered = _levered(case, scale)
    result = _simulate(levered)
    expected = simulate_reference(**_reference_inputs(levered))
    tol = _money_tol(case)
    np.testing.assert_allclose(result.value, expected.value, rtol=1e-9, atol=tol)
    np.testing.assert_allclose(result.cash, expected.cash, rtol=1e-9, atol=tol)
    np.testing.assert_allclose(result.positions, expected.qty, rtol=1e-9, atol=1e-9)
    assert len(result.trades) == len(expected.fills)
    assert result.fail_bar == expected.fail_bar


@given(markets(open_execution=True, leverage=False), LEVER)
def test_bankrupt_portfolio_with_any_market_holds_nothing_and_stays_flat_after(case, scale):
    result = _simulate(_levered(case, scale))
    value = result.value.to_numpy()
    t = result.fail_bar
    if t < 0:
        assert (value > 0.0).all()
        return
    assert (value[:t] > 0.0).all() and value[t] <= 0.0
    assert (value[t:] == value[t]).all()  # flat: no trading, no interest, no borrow
    assert (result.positions.iloc[t:] == 0.0).all().all()  # every position closed at t
    assert (result.trades["date"] <= result.value.index[t]).all()
    assert (result.costs.iloc[t + 1 :] == 0.0).all().all()


@given(st.lists(markets(max_assets=3, max_bars=30), min_size=2, max_size=3))
def test_batch_with_k_portfolios_equals_k_separate_calls_bit_for_bit(cases):
    base = cases[0]
    n_assets = base.close.shape[1]
    weights = [
        c.weights.iloc[:, :n_assets].reindex(base.close.index).set_axis(base.close.columns, axis=1)
        if c.close.shape[1] >= n_assets
        else base.weights * (k + 1) * 0.3
        for k, c in enumerate(cases)
    ]
    cash = [1e5 * (k + 1) for k in range(len(weights))]
    caps = [None if k % 2 == 0 else 1.5 for k in range(len(weights))]
    fee_rows = np.array([[0.001 * (k + 1)] * n_assets for k in range(len(weights))])
    common = {
        k: v for k, v in base.kwargs.items() if k not in ("init_cash", "max_leverage", "fees")
    }

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BankruptcyWarning)
        batch = engine.simulate(
            base.close,
            weights,
            init_cash=cash,
            fees=fee_rows,
            max_leverage=[c if c else math.inf for c in caps],
            **common,
        )
        for k, w in enumerate(weights):
            alone = engine.simulate(
                base.close, w, init_cash=cash[k], fees=fee_rows[k], max_leverage=caps[k], **common
            )
            np.testing.assert_array_equal(batch[k].stats, alone.stats)
            np.testing.assert_array_equal(batch[k].quantities, alone.quantities)


@given(markets(open_execution=True))
def test_simulate_twice_with_same_inputs_is_bit_identical(case):
    first, second = _simulate(case), _simulate(case)
    np.testing.assert_array_equal(first.stats, second.stats)
    np.testing.assert_array_equal(first.quantities, second.quantities)
    assert first.records.tobytes() == second.records.tobytes()


@given(
    st.lists(
        st.sampled_from([0.0, -3.0, -1.0, -1e-300, 1e-300, 1.0, 2.5, 7.0]), min_size=0, max_size=100
    )
)
def test_sort_orders_with_ties_and_zeros_equals_a_stable_argsort_of_the_orders(values):
    # up to 100 orders: insertion-sorted runs of 16 and several merge passes
    signed = np.array(values, dtype=np.float64)
    seq = np.full(signed.size, -1, dtype=np.int64)
    int_buf = np.empty(signed.size, dtype=np.int64)
    keys, key_buf = np.empty(signed.size), np.empty(signed.size)
    m = sim_nb.sort_orders_nb(signed, signed, seq, int_buf, keys, key_buf)
    expected = [j for j in np.argsort(signed, kind="mergesort") if signed[j] != 0.0]
    assert seq[:m].tolist() == expected
