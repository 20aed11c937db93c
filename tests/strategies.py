"""Hypothesis strategies for random markets and simulation settings, shared by property tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from engine.simulation import Charge


@dataclass
class Case:
    """A random market, targets and simulation keyword arguments for `engine.simulate`."""

    close: pd.DataFrame
    weights: pd.DataFrame
    kwargs: dict = field(default_factory=dict)


@st.composite
def markets(
    draw: st.DrawFn,
    max_bars: int = 60,
    max_assets: int = 5,
    gaps: bool = True,
    lots: bool = True,
    fx: bool = True,
    costs: bool = True,
    leverage: bool = True,
    rates: bool = True,
    open_execution: bool = False,
    dividends: bool = True,
) -> Case:
    """Draw a market of 2..max_bars bars and 1..max_assets assets with optional features."""
    n_bars = draw(st.integers(2, max_bars))
    n_assets = draw(st.integers(1, max_assets))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    columns = [f"S{j}" for j in range(n_assets)]
    index = pd.bdate_range("2021-01-04", periods=n_bars)

    vol = draw(st.sampled_from([0.01, 0.03, 0.08]))
    levels = rng.uniform(1.0, 500.0, n_assets)
    prices = levels * np.exp(np.cumsum(rng.normal(0.0, vol, (n_bars, n_assets)), axis=0))
    if gaps and draw(st.booleans()):
        prices[rng.random((n_bars, n_assets)) < draw(st.sampled_from([0.05, 0.2]))] = np.nan
        late = rng.integers(0, n_assets)
        prices[: rng.integers(0, n_bars // 2 + 1), late] = np.nan  # a late listing
    close = pd.DataFrame(prices, index=index, columns=columns)

    density = draw(st.sampled_from([0.1, 0.3, 1.0]))
    rows = rng.random(n_bars) < density
    rows[0] = True
    gross = draw(st.sampled_from([0.5, 0.95, 1.5, 3.0]))
    raw = rng.normal(size=(n_bars, n_assets))
    raw *= gross / np.maximum(np.abs(raw).sum(axis=1, keepdims=True), 1e-12)
    raw[rng.random((n_bars, n_assets)) < 0.15] = np.nan  # no instruction for some assets
    weights = pd.DataFrame(np.where(rows[:, None], raw, np.nan), index=index, columns=columns)

    kwargs: dict = {"init_cash": draw(st.sampled_from([1e4, 1e6]))}
    if fx and draw(st.booleans()):
        codes = [draw(st.sampled_from(["USD", "HKD"])) for _ in columns]
        rate = 0.128 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n_bars)))
        rate[rng.random(n_bars) < 0.1] = np.nan
        rate[0] = 0.128
        kwargs["fx"] = pd.DataFrame({"HKD": rate}, index=index)
        kwargs["currency"] = dict(zip(columns, codes, strict=True))
        kwargs["base_currency"] = "USD"
    if lots and draw(st.booleans()):
        kwargs["lot_size"] = [float(draw(st.sampled_from([1, 10, 100]))) for _ in columns]
    if costs and draw(st.booleans()):
        kwargs["fees"] = draw(st.sampled_from([0.0, 0.001, 0.01]))
        kwargs["fixed_fees"] = draw(st.sampled_from([0.0, 1.0]))
        kwargs["min_fees"] = draw(st.sampled_from([0.0, 5.0]))
        kwargs["charges"] = draw(
            st.sampled_from(
                [(), (Charge(0.0002, 2.0, 100.0),), (Charge(0.00005), Charge(0.001, 0.0, 3.0))]
            )
        )
        kwargs["buy_tax"] = draw(st.sampled_from([0.0, 0.001]))
        kwargs["sell_tax"] = draw(st.sampled_from([0.0, 0.0013]))
        if draw(st.booleans()):  # dated schedules: a rate that changes on a calendar day
            change = index[0] + pd.Timedelta(days=int(rng.integers(1, 2 * n_bars)))
            dates = pd.DatetimeIndex([index[0] - pd.Timedelta(days=30), change])
            for name in ("sell_tax", "min_fees"):
                values = rng.choice([0.0, 0.001, 0.002, 5.0 if name == "min_fees" else 0.0], 2)
                kwargs[name] = pd.DataFrame(
                    np.repeat(values[:, None], n_assets, axis=1), index=dates, columns=columns
                )
        kwargs["slippage"] = draw(st.sampled_from([0.0, 0.0005, 0.01]))
        kwargs["fx_cost"] = draw(st.sampled_from([0.0, 0.0002]))
    if leverage and draw(st.booleans()):
        kwargs["max_leverage"] = draw(st.sampled_from([0.5, 1.0, 1.5, 3.0]))
    if rates and draw(st.booleans()):
        kwargs["borrow_rate"] = draw(st.sampled_from([0.0, 0.03, 0.5]))
        kwargs["cash_rate"] = draw(st.sampled_from([0.0, 0.04, -0.01]))
        kwargs["cash_debit_rate"] = draw(st.sampled_from([None, 0.08]))
    if dividends and draw(st.booleans()):
        # sparse ex-dates, some on bars without a price; about 1% of the first price level
        paid = np.where(rng.random((n_bars, n_assets)) < 0.1, levels * 0.01, 0.0)
        kwargs["dividends"] = pd.DataFrame(paid, index=index, columns=columns)
        kwargs["withholding"] = draw(st.sampled_from([0.0, 0.1, [0.3] * n_assets]))
    if open_execution:
        opens = close * np.exp(rng.normal(0.0, 0.005, close.shape))
        opens[rng.random(close.shape) < 0.05] = np.nan
        kwargs["exec_price"] = opens
    return Case(close, weights, kwargs)


@st.composite
def risk_markets(draw: st.DrawFn, max_bars: int = 40, max_assets: int = 4, **market) -> Case:
    """A `markets` case with issue 22's settings drawn on top: volume (with NaN and 0
    rows), participation, half-spread and impact, name, group and net limits, a drawdown
    rule and stops; each is off in some draws."""
    from engine.inputs import DrawdownRule, GroupLimit

    case = draw(markets(max_bars=max_bars, max_assets=max_assets, **market))
    close, kwargs = case.close, dict(case.kwargs)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_bars, n_assets = close.shape
    columns = list(close.columns)
    # a bar trades between 0.05x and 5x of what the whole book would buy of one name
    shares = kwargs["init_cash"] / close.bfill().ffill().to_numpy()
    volume = (
        shares
        * np.exp(rng.normal(0.0, 1.0, (n_bars, n_assets)))
        * draw(st.sampled_from([0.05, 0.5, 5.0]))
    )
    volume[rng.random(volume.shape) < 0.05] = np.nan
    volume[rng.random(volume.shape) < 0.05] = 0.0
    if draw(st.booleans()):
        kwargs["volume"] = pd.DataFrame(volume, index=close.index, columns=columns)
        kwargs["participation"] = draw(st.sampled_from([None, 0.05, 0.3, 1.0]))
        kwargs["impact"] = draw(st.sampled_from([0.0, 0.1, 1.0]))
        kwargs["impact_window"] = draw(st.sampled_from([2, 5, 20]))
        if "exec_price" in kwargs:
            kwargs["execution"] = draw(st.sampled_from(["close", "open"]))
    kwargs["half_spread"] = draw(st.sampled_from([0.0, 0.0005, 0.002]))
    kwargs["max_weight"] = draw(
        st.sampled_from([np.inf, 0.15, 0.4]) | st.just([0.1 + 0.2 * j for j in range(n_assets)])
    )
    kwargs["net_exposure"] = draw(st.sampled_from([None, (-0.1, 0.1), (0.0, 0.5), (-0.6, 0.0)]))
    groups = {}
    for g in range(draw(st.integers(0, 3))):
        members = [s for s in columns if rng.random() < 0.6] or columns[:1]
        gross = draw(st.sampled_from([np.inf, 0.3, 0.8]))
        net = draw(st.sampled_from([(-np.inf, np.inf), (-0.1, 0.1), (0.0, 0.4), (-0.5, 0.0)]))
        groups[f"g{g}"] = GroupLimit(members, gross=gross, net=net)
    kwargs["group_limits"] = groups
    if draw(st.booleans()):
        kwargs["drawdown"] = DrawdownRule(
            trigger=draw(st.sampled_from([0.01, 0.03, 0.1])),
            fraction=draw(st.sampled_from([0.0, 0.3, 0.7])),
            recovery=draw(st.sampled_from([0.005, 0.02, 0.05])),
        )
    kwargs["stop_loss"] = draw(st.sampled_from([np.inf, 0.02, 0.05, [0.03] * n_assets]))
    kwargs["take_profit"] = draw(st.sampled_from([np.inf, 0.02, 0.08]))
    return Case(close, case.weights, kwargs)
