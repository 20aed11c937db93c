"""P&L attribution on random markets (hypothesis): the parts add up to the value curve.

Every market `tests/strategies.py` draws (gaps, late listings, two currencies with fx
gaps, board lots, fee schedules, taxes, slippage, leverage caps, borrow and interest,
dividends with withholding, open execution), and levered targets that go bankrupt.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from engine.attribution import attribute
from engine.inputs import prepare_market
from engine.kernel import sim_nb
from engine.simulation import BankruptcyWarning, run_portfolios
from tests.strategies import Case, markets

LEVER = st.sampled_from([1.0, -40.0, -12.0, 4.0, 12.0, 40.0])


def _run(case: Case, scale: float, **extra):
    kwargs = dict(case.kwargs) | extra
    init_cash = kwargs.pop("init_cash")
    cap = kwargs.pop("max_leverage", None)
    market = prepare_market(case.close, **kwargs)
    weights = case.weights.abs() * scale if scale < 0.0 else case.weights * scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BankruptcyWarning)
        sim = run_portfolios(
            market, weights.to_numpy()[None], init_cash=init_cash, max_leverage=cap
        )[0]
    return sim, market


@given(markets(open_execution=True), LEVER)
def test_attribution_with_any_market_sums_to_the_change_in_value_on_every_bar(case, scale):
    sim, market = _run(case, scale)
    parts = attribute(sim, market)
    value = sim.stats[:, sim_nb.STAT_VALUE]
    change = np.diff(np.concatenate(([sim.init_cash], value)))
    explained = parts.pnl.sum(axis=1) + parts.interest
    tol = 1e-9 * sim.init_cash
    np.testing.assert_allclose(explained, change, rtol=0.0, atol=tol)
    # over the run: the contributions sum to the total return
    total = parts.by_asset()["contribution"].sum()
    assert abs(total - (value[-1] / sim.init_cash - 1.0)) <= 1e-9
    # costs are what the kernel charged, bar by bar
    for name, column in (
        ("fees", sim_nb.STAT_FEES),
        ("taxes", sim_nb.STAT_TAXES),
        ("fx_costs", sim_nb.STAT_FX_COSTS),
        ("slippage", sim_nb.STAT_SLIPPAGE),
        ("dividends", sim_nb.STAT_DIVIDENDS),
        ("dividends_paid", sim_nb.STAT_DIVIDENDS_PAID),
        ("withholding", sim_nb.STAT_WITHHOLDING),
    ):
        np.testing.assert_allclose(parts.parts[name].sum(axis=1), sim.stats[:, column], atol=tol)


@given(markets(open_execution=True), LEVER)
def test_borrow_by_asset_with_any_market_sums_to_the_kernels_borrow_on_every_bar(case, scale):
    sim, market = _run(case, scale)
    borrow = attribute(sim, market).parts["borrow"]
    kernel = sim.stats[:, sim_nb.STAT_BORROW]
    np.testing.assert_allclose(borrow.sum(axis=1), kernel, rtol=1e-9, atol=1e-300)
    assert (borrow >= 0.0).all()
    held = np.vstack([np.zeros((1, borrow.shape[1])), sim.quantities[:-1]])
    assert (borrow[held >= 0.0] == 0.0).all()  # only shorts pay


@given(markets(open_execution=True, leverage=False), st.sampled_from([-40.0, -12.0, 12.0]))
def test_attribution_of_a_bankrupt_run_is_zero_after_the_failing_bar(case, scale):
    sim, market = _run(case, scale)
    parts = attribute(sim, market)
    if sim.fail_bar < 0:
        return
    after = slice(sim.fail_bar + 1, None)
    assert (parts.pnl[after] == 0.0).all() and (parts.interest[after] == 0.0).all()
    total = parts.by_asset()["pnl"].sum()
    np.testing.assert_allclose(total, sim.stats[-1, sim_nb.STAT_VALUE] - sim.init_cash, atol=1e-6)


@given(
    markets(open_execution=True),
    LEVER,
    st.sampled_from([0.1, 1.0, 5.0]),
    st.sampled_from([0.0, 0.0005, 0.002]),
    st.integers(0, 2**32 - 1),
)
def test_attribution_with_random_impact_sums_to_the_change_in_value_on_every_bar(
    case, scale, k, half_spread, seed
):
    rng = np.random.default_rng(seed)
    volume = rng.uniform(1e2, 1e6, case.close.shape)
    volume[rng.random(volume.shape) < 0.1] = 0.0  # unknown volume: left out of the ADV
    frame = pd.DataFrame(volume, index=case.close.index, columns=case.close.columns)
    sim, market = _run(
        case, scale, volume=frame, impact=k, half_spread=half_spread, impact_window=4
    )
    parts = attribute(sim, market)
    value = sim.stats[:, sim_nb.STAT_VALUE]
    change = np.diff(np.concatenate(([sim.init_cash], value)))
    tol = 1e-9 * sim.init_cash
    np.testing.assert_allclose(parts.pnl.sum(axis=1) + parts.interest, change, rtol=0.0, atol=tol)
    np.testing.assert_allclose(
        parts.parts["impact"].sum(axis=1), sim.stats[:, sim_nb.STAT_IMPACT], atol=tol
    )
