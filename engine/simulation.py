"""`simulate`: pandas in, the numba kernel in the middle, `SimulationResult` out.

`engine.inputs` validates and converts the frames into a `KernelMarket` once; this
module runs the kernel's two drivers on it (`run_portfolios` keeps everything,
`sweep_metrics` only metrics) and turns the kernel's status codes into warnings and
errors that name dates: a bankrupt portfolio warns (`BankruptcyWarning`), a money
amount that overflowed raises (`SimulationError`), so a curve with inf or NaN in it is
never returned.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from numba import parallel_chunksize

from engine.errors import BankruptcyWarning, SimulationError
from engine.inputs import (
    Charge,
    Dated,
    KernelMarket,
    PerAsset,
    Rate,
    aligned,
    as_frame,
    per_portfolio,
    prepare_market,
)
from engine.kernel import sim_nb as nb
from engine.kernel.inputs_nb import count_targets_nb
from engine.results import BatchResult, SimulationResult, day_label
from engine.trading_rules import DrawdownRule, Execution, GroupLimit

__all__ = [
    "MAX_INIT_CASH",
    "BankruptcyWarning",
    "Charge",
    "KernelMarket",
    "SweepChunk",
    "prepare_market",
    "run_portfolios",
    "simulate",
    "sweep_metrics",
    "sweep_rule_metrics",
]

SizeType = Literal["target_weight", "target_quantity", "target_value"]
SIZE_TYPES: dict[str, int] = {
    "target_weight": nb.SIZE_TARGET_WEIGHT,
    "target_quantity": nb.SIZE_TARGET_QUANTITY,
    "target_value": nb.SIZE_TARGET_VALUE,
}

# The sweep drivers hand portfolios to threads a few at a time, as threads free up, not
# in one equal share each: on a shared machine a thread whose core is taken by another
# process would otherwise hold the whole chunk up.
_PORTFOLIOS_PER_TASK = 4

# Above 2**53 (9.0e15) a float64 no longer holds every whole unit of money, and no
# portfolio holds a quadrillion of any currency; beyond this, amounts are not money.
MAX_INIT_CASH = 1e15


@dataclass(frozen=True, eq=False)
class SweepChunk:
    """Metrics ``[K, N_METRICS]`` of K portfolios (columns ``sim_nb.METRIC_NAMES``),
    values ``[K, T]`` if kept, each portfolio's ``sim_nb.STATUS_*`` and the bar where
    that status was set (-1 for ok). A portfolio that overflowed has NaN metrics."""

    metrics: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64] | None
    status: npt.NDArray[np.int64]
    fail_bar: npt.NDArray[np.int64]


def _checked_targets(
    market: KernelMarket, targets: Any, size_type: str
) -> tuple[np.ndarray, npt.NDArray[np.int64]]:
    """Targets ``[K, T, N]`` as the kernel reads them, and the non-NaN count of each row."""
    targets = np.asarray(targets, dtype=np.float64)
    n_bars, n_assets = market.close.shape
    if targets.ndim != 3 or targets.shape[1:] != (n_bars, n_assets):
        raise SimulationError(
            f"targets must be [K, {n_bars}, {n_assets}] for this market, was {targets.shape}"
        )
    if size_type not in SIZE_TYPES:
        raise SimulationError(f"size_type must be one of {sorted(SIZE_TYPES)}, was {size_type!r}")
    if size_type != "target_weight" and market.rules.limits_on:
        raise SimulationError(
            f"limits and the drawdown rule cut target weights; size_type {size_type!r} "
            "has none (use target_weight, or leave the limits out)"
        )
    rows = market.portfolio_rows
    if rows not in (1, targets.shape[0]):
        raise SimulationError(f"costs have {rows} portfolio rows for {targets.shape[0]} portfolios")
    counts = np.empty(targets.shape[:2], dtype=np.int64)
    # the kernel reads a bar's row at a time, from arrays of one type: C order, writable
    targets = np.require(targets, requirements=["C", "W"])
    if count_targets_nb(targets, counts):
        raise SimulationError("targets hold an infinite value; use NaN for no instruction")
    return targets, counts


def _portfolio_settings(
    k: int, init_cash: Any, max_leverage: Any
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    cash = per_portfolio(init_cash, k, "init_cash", allow_inf=False)
    if np.any(cash <= 0.0):
        raise SimulationError(f"init_cash must be positive, was {init_cash}")
    if np.any(cash > MAX_INIT_CASH):
        raise SimulationError(
            f"init_cash must be at most {MAX_INIT_CASH:g}, was {float(cash.max()):g}; amounts "
            "this large are not money, and past 9e15 a float cannot hold each unit of it"
        )
    leverage = (
        np.full(k, np.inf)
        if max_leverage is None
        else per_portfolio(max_leverage, k, "max_leverage", allow_inf=True)
    )
    if np.any(leverage <= 0.0):
        raise SimulationError(f"max_leverage must be positive or None, was {max_leverage}")
    return cash, leverage


def sweep_metrics(
    market: KernelMarket,
    targets: npt.NDArray[np.float64],
    *,
    init_cash: float | Sequence[float] = 1_000_000.0,
    max_leverage: float | Sequence[float] | None = None,
    size_type: SizeType = "target_weight",
    ppy: float = 252.0,
    keep_values: bool = False,
) -> SweepChunk:
    """Simulate the K portfolios of `targets` ``[K, T, N]`` and keep only their metrics.

    Metrics are ``sim_nb.METRIC_NAMES``, measured against the market's risk-free rate
    and annualised with `ppy` bars per year; memory is ``K x metrics`` (plus ``K x T``
    with `keep_values`).
    """
    targets, rows = _checked_targets(market, targets, size_type)
    k, n_bars = targets.shape[0], targets.shape[1]
    cash, leverage = _portfolio_settings(k, init_cash, max_leverage)
    metrics = np.empty((k, nb.N_METRICS), dtype=np.float64)
    values = np.empty((k, n_bars) if keep_values else (0, 0), dtype=np.float64)
    status = np.zeros(k, dtype=np.int64)
    fail_bar = np.full(k, -1, dtype=np.int64)
    with parallel_chunksize(_PORTFOLIOS_PER_TASK):
        nb.sweep_nb(
            market.args(), targets, rows, SIZE_TYPES[size_type], cash, leverage, float(ppy),
            metrics, values, status, fail_bar,
        )  # fmt: skip
    metrics[status == nb.STATUS_NOT_FINITE] = np.nan
    return SweepChunk(metrics, values if keep_values else None, status, fail_bar)


RULES = {"cross": nb.RULE_CROSS, "sign": nb.RULE_SIGN}


@dataclass(frozen=True, eq=False)
class RuleChunk(SweepChunk):
    """A `SweepChunk` of a decision rule, with the first targets row of each portfolio
    whose gross exceeds the plan's limit (-1: none; that portfolio did not run and its
    metrics are NaN) and that gross."""

    over: npt.NDArray[np.int64]
    gross: npt.NDArray[np.float64]


def sweep_rule_metrics(
    market: KernelMarket,
    rule: str,
    features: npt.NDArray[np.float64],
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
    up: npt.NDArray[np.float64],
    down: npt.NDArray[np.float64],
    plan: tuple[Any, ...],
    *,
    init_cash: float | Sequence[float] = 1_000_000.0,
    max_leverage: float | Sequence[float] | None = None,
    size_type: SizeType = "target_weight",
    ppy: float = 252.0,
    keep_values: bool = False,
) -> RuleChunk:
    """`sweep_metrics` for K portfolios whose decisions are a rule on shared features
    (``engine.strategy.DecisionRule``'s fields), scheduled and lagged by `plan` (the
    arguments of the kernel's `schedule_nb` after the decisions, from
    ``engine.targets.TargetPlan.kernel_args``). No [K, T, N] array is built."""
    if rule not in RULES:
        raise SimulationError(f"rule must be one of {sorted(RULES)}, was {rule!r}")
    if size_type not in SIZE_TYPES:
        raise SimulationError(f"size_type must be one of {sorted(SIZE_TYPES)}, was {size_type!r}")
    n_bars, n_assets = market.close.shape
    features = np.require(features, dtype=np.float64, requirements=["C", "W"])
    if features.ndim != 3 or features.shape[2] != n_assets:
        raise SimulationError(f"features must be [F, T0, {n_assets}], was {features.shape}")
    k = len(a)
    if market.portfolio_rows not in (1, k):
        raise SimulationError(f"costs have {market.portfolio_rows} portfolio rows for {k} sets")
    cash, leverage = _portfolio_settings(k, init_cash, max_leverage)
    metrics = np.empty((k, nb.N_METRICS), dtype=np.float64)
    values = np.empty((k, n_bars) if keep_values else (0, 0), dtype=np.float64)
    status = np.zeros(k, dtype=np.int64)
    fail_bar = np.full(k, -1, dtype=np.int64)
    over = np.empty(k, dtype=np.int64)
    gross = np.empty(k, dtype=np.float64)
    with parallel_chunksize(_PORTFOLIOS_PER_TASK):
        nb.sweep_rule_nb(
            market.args(), features, RULES[rule], np.asarray(a, dtype=np.int64),
            np.asarray(b, dtype=np.int64), np.asarray(up, dtype=np.float64),
            np.asarray(down, dtype=np.float64), plan, SIZE_TYPES[size_type], cash, leverage,
            float(ppy), metrics, values, status, fail_bar, over, gross,
        )  # fmt: skip
    metrics[status == nb.STATUS_NOT_FINITE] = np.nan
    return RuleChunk(metrics, values if keep_values else None, status, fail_bar, over, gross)


def run_portfolios(
    market: KernelMarket,
    targets: npt.NDArray[np.float64],
    *,
    init_cash: float | Sequence[float] = 1_000_000.0,
    max_leverage: float | Sequence[float] | None = None,
    size_type: SizeType = "target_weight",
) -> list[SimulationResult]:
    """Simulate the K portfolios of `targets` ``[K, T, N]`` and keep everything."""
    targets, rows = _checked_targets(market, targets, size_type)
    k, n_bars, _ = targets.shape
    cash, leverage = _portfolio_settings(k, init_cash, max_leverage)
    args = market.args()
    counts = [nb.record_slots_nb(args, rows[p]) for p in range(k)]
    rec_start = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    records = np.zeros(int(rec_start[-1]), dtype=nb.TRADE_DTYPE)
    # each bar zeroes its row's columns in use; the rules' columns stay 0 when unused
    stats = np.zeros((k, n_bars, nb.N_STATS), dtype=np.float64)
    rec_count = np.zeros(k, dtype=np.int64)
    status = np.zeros(k, dtype=np.int64)
    fail_bar = np.full(k, -1, dtype=np.int64)
    if k == 1:
        # one portfolio: call the core directly; the parallel driver's compile and thread
        # start-up cost more than a typical single simulation
        rec_count[0], status[0], fail_bar[0] = nb.simulate_one_nb(
            market.args(), 0, targets[0], rows[0], SIZE_TYPES[size_type], cash[0], leverage[0],
            0, stats[0], records,
        )  # fmt: skip
    else:
        nb.simulate_nb(
            market.args(), targets, rows, SIZE_TYPES[size_type], cash, leverage, stats, records,
            rec_start, rec_count, status, fail_bar,
        )  # fmt: skip
    overflowed = np.flatnonzero(status == nb.STATUS_NOT_FINITE)
    if len(overflowed):
        p = int(overflowed[0])
        who = f" (portfolio {p})" if k > 1 else ""
        fills = records[rec_start[p] : rec_start[p] + rec_count[p]]
        raise SimulationError(_overflow_message(market, fills, stats[p], int(fail_bar[p]), who))
    results = []
    for p in range(k):
        start = rec_start[p]
        results.append(
            SimulationResult(
                index=market.index,
                columns=market.columns,
                init_cash=float(cash[p]),
                stats=stats[p],
                records=records[start : start + rec_count[p]],
                close=market.close,
                fx=market.fx,
                asset_ccy=market.asset_ccy,
                status=int(status[p]),
                fail_bar=int(fail_bar[p]),
            )
        )
        bankruptcy = results[-1].bankruptcy
        if bankruptcy is not None:
            who = "the portfolio" if k == 1 else f"portfolio {p}"
            warnings.warn(
                f"{who} went bankrupt on {day_label(bankruptcy.date)}: {bankruptcy.cause}; "
                "every position was closed at that bar's close and nothing traded after",
                BankruptcyWarning,
                stacklevel=3,
            )
    return results


_STAT_NAMES = {
    nb.STAT_VALUE: "the portfolio's value",
    nb.STAT_CASH: "cash",
    nb.STAT_GROSS: "the gross exposure",
    nb.STAT_VALUE_PRE: "the value before trading",
    nb.STAT_TRADED: "the value traded",
    nb.STAT_SHORTFALL: "the value of the buys not funded",
}


def _overflow_message(
    market: KernelMarket, fills: np.ndarray, stats: np.ndarray, t: int, who: str
) -> str:
    """Say which amount stopped being finite at bar `t`: a position if one did."""
    qty = np.empty(market.close.shape, dtype=np.float64)
    nb.positions_nb(fills, qty)
    last = pd.DataFrame(market.close[: t + 1]).ffill().to_numpy()[-1]
    rate = pd.DataFrame(market.fx[: t + 1]).ffill().to_numpy()[-1, market.asset_ccy]
    row = qty[t]
    with np.errstate(over="ignore", invalid="ignore"):
        held = row * last * rate
    bad = np.flatnonzero((row != 0.0) & ~np.isfinite(held))
    if len(bad):
        j = int(bad[0])
        side = "short" if row[j] < 0.0 else "long"
        what = (
            f"the {side} position in {market.columns[j]} ({row[j]:,.6g} x {last[j]:.6g}) "
            "is not finite"
        )
    else:
        column = next((c for c in _STAT_NAMES if not np.isfinite(stats[t, c])), nb.STAT_VALUE)
        what = f"{_STAT_NAMES[column]} is not finite"
    return (
        f"the simulation overflowed on {day_label(market.index[t])}{who}: {what}; amounts this "
        "large cannot be simulated: check the prices near that date, the weights and init_cash"
    )


def simulate(
    close: pd.DataFrame,
    weights: pd.DataFrame | Sequence[pd.DataFrame] | npt.NDArray[np.float64],
    *,
    exec_price: pd.DataFrame | None = None,
    fx: pd.DataFrame | None = None,
    currency: Mapping[str, str] | Sequence[str] | pd.Series | None = None,
    lot_size: PerAsset | None = None,
    init_cash: float | Sequence[float] = 1_000_000.0,
    fees: Dated = 0.0,
    fixed_fees: Dated = 0.0,
    min_fees: Dated = 0.0,
    charges: Sequence[Charge] = (),
    buy_tax: Dated = 0.0,
    sell_tax: Dated = 0.0,
    slippage: Dated = 0.0,
    fx_cost: Dated = 0.0,
    borrow_rate: Dated = 0.0,
    cash_rate: Rate = 0.0,
    cash_debit_rate: Rate | None = None,
    max_leverage: float | Sequence[float] | None = None,
    size_type: SizeType = "target_weight",
    base_currency: str | None = None,
    year_days: float = 365.0,
    dividends: pd.DataFrame | None = None,
    withholding: PerAsset = 0.0,
    volume: pd.DataFrame | None = None,
    participation: float | None = None,
    execution: Execution = "close",
    half_spread: Dated = 0.0,
    impact: PerAsset = 0.0,
    impact_window: int = 20,
    volatility: pd.DataFrame | None = None,
    adv: pd.DataFrame | None = None,
    max_weight: PerAsset = float("inf"),
    net_exposure: tuple[float, float] | None = None,
    group_limits: Mapping[str, GroupLimit] | None = None,
    drawdown: DrawdownRule | None = None,
    stop_loss: PerAsset = float("inf"),
    take_profit: PerAsset = float("inf"),
) -> SimulationResult | BatchResult:
    """Simulate a portfolio that trades to the given targets.

    Row t of `weights` executes at row t of the execution price: no lag is applied here.

    Parameters
    ----------
    close
        Adjusted close prices ``[T, N]`` (one column per asset), NaN where the asset
        did not trade. Used for valuation, and for execution unless `exec_price` is given.
    weights
        Targets ``[T, N]`` in the units of `size_type`; NaN means no instruction for that
        asset at that bar, a row of NaN means no rebalance. A list of frames or a 3-D
        array ``[K, T, N]`` simulates K portfolios in one call.
    exec_price
        Execution prices ``[T, N]`` (e.g. the open); NaN means the asset cannot trade
        then and its order waits for its next tradable bar.
    fx
        Price of one unit of each currency in the base currency, ``[T, C]``, one column
        per currency code. Missing values carry the last known rate.
    currency
        Currency code of each asset (mapping symbol -> code, or a sequence in column
        order). Assets whose currency is the base currency need no fx column.
    lot_size
        Board lot per asset; target quantities round toward zero to whole lots.
        None trades fractional quantities.
    init_cash
        Starting cash in the base currency (one value, or one per portfolio).
    fees, fixed_fees, min_fees
        Per fill: ``max(fees * value, min_fees) + fixed_fees``; `min_fees` and
        `fixed_fees` are in the asset's own currency, converted at the bar's fx. Each
        cost setting is a scalar, one value per asset, a ``(K, N)`` array (one row per
        portfolio), or a dated schedule: a DataFrame indexed by effective date, one
        column per symbol, each row in force from its date on (`engine.inputs`).
    charges
        Extra charges per fill, each ``clip(rate * value, minimum, maximum)``, bounds in
        the asset's currency and each field given like `fees` (e.g. exchange levies, or
        a settlement fee with a minimum and a maximum).
    buy_tax, sell_tax
        Taxes on the traded value of buys and of sells (e.g. stamp duty).
    slippage
        Adverse fractional move of the fill price; the target quantity is computed
        from the quoted price.
    fx_cost
        Conversion cost on the traded value of assets quoted in a foreign currency.
    borrow_rate
        Annual borrow fee on short market value, accrued per calendar day; a scalar,
        per-asset values, or a dated frame (one column per symbol) whose rate in force
        at bar t applies to (t-1, t].
    cash_rate
        Annual interest earned on positive cash; a scalar or a dated series (carried
        forward; the rate in force at bar t applies to (t-1, t]).
    cash_debit_rate
        Annual interest paid on negative cash, given like `cash_rate`; None: `cash_rate`.
    max_leverage
        Cap on gross exposure over value. Orders that would breach it are scaled down,
        and cash may then go negative (margin). None: no cap, and buys are limited
        to the cash available (short proceeds included).
    size_type
        ``"target_weight"`` (fraction of portfolio value), ``"target_quantity"``
        (units), or ``"target_value"`` (base currency).
    base_currency
        Code of the base currency; needed only when it cannot be inferred.
    year_days
        Calendar days per year for borrow and cash interest (ACT/365 by default).
    dividends
        Cash dividends per share ``[T, N]`` on their ex-dates, in each asset's currency
        (0 or NaN for none), for a `close` that is not dividend-adjusted. The quantity
        held entering the ex-date bar receives it (a long) or pays it (a short), in
        cash, before that bar's trades. None: `close` is taken as total-return adjusted.
    withholding
        Tax rate withheld from dividends received on long positions (a scalar or one
        value per asset, in [0, 1]); shorts pay the full dividend.
    volume
        Shares traded per bar ``[T, N]``; NaN or 0 is unknown. Needed by `participation`
        and by `impact` unless `volatility` and `adv` are given.
    participation
        At most this fraction of a bar's volume per asset and bar: the volume of the bar
        itself with ``execution="close"``, the asset's last volume before the bar with
        ``"open"`` (the bar's own is not known at its open). The rest of an order waits
        for later bars and is reported as ``unfilled``. A bar of unknown volume is not
        capped.
    half_spread, impact, impact_window, volatility, adv
        Each fill's price moves against it by ``half_spread + impact * sigma *
        sqrt(units / ADV)`` on top of `slippage`, reported as ``impact``; sigma (std of
        close-to-close returns) and ADV (mean known volume) are over the
        `impact_window` bars before the fill's bar (`engine.inputs.trailing_liquidity`),
        or the `volatility` and `adv` frames given. `half_spread` is a cost setting
        like `slippage`; `impact` (k) is a scalar or one value per asset.
    max_weight, net_exposure, group_limits, drawdown
        Limits on target weights, applied by the kernel when targets arrive: |weight|
        at most `max_weight` per name; net weight within `net_exposure` (a band around
        0); per `engine.inputs.GroupLimit`, the group's gross and net; and, with a
        `engine.inputs.DrawdownRule`, every weight cut to a fraction during a drawdown.
        ``result.risk`` reports what each cut, per bar.
    stop_loss, take_profit
        Per asset, fractions of the average entry price: a position that loses (gains)
        that much at a close is closed at its next tradable bar, and the asset waits for
        the strategy's next target after the exit.

    Returns
    -------
    SimulationResult or BatchResult
        One result for a 2-D `weights`, a `BatchResult` of K results otherwise.

    Raises
    ------
    SimulationError
        When inputs do not line up or hold invalid values; the message names the
        argument, and the symbol and date where there is one.
    """
    close_frame = as_frame(close, "close")
    targets, batched = _targets_array(weights, close_frame.index, close_frame.columns)
    market = prepare_market(
        close_frame,
        portfolios=targets.shape[0],
        exec_price=exec_price,
        fx=fx,
        currency=currency,
        lot_size=lot_size,
        fees=fees,
        fixed_fees=fixed_fees,
        min_fees=min_fees,
        charges=charges,
        buy_tax=buy_tax,
        sell_tax=sell_tax,
        slippage=slippage,
        fx_cost=fx_cost,
        borrow_rate=borrow_rate,
        cash_rate=cash_rate,
        cash_debit_rate=cash_debit_rate,
        base_currency=base_currency,
        year_days=year_days,
        dividends=dividends,
        withholding=withholding,
        volume=volume,
        participation=participation,
        execution=execution,
        half_spread=half_spread,
        impact=impact,
        impact_window=impact_window,
        volatility=volatility,
        adv=adv,
        max_weight=max_weight,
        net_exposure=net_exposure,
        group_limits=group_limits,
        drawdown=drawdown,
        stop_loss=stop_loss,
        take_profit=take_profit,
    )
    results = run_portfolios(
        market, targets, init_cash=init_cash, max_leverage=max_leverage, size_type=size_type
    )
    return BatchResult(results) if batched else results[0]


def _targets_array(
    weights: Any, index: pd.Index, columns: pd.Index
) -> tuple[npt.NDArray[np.float64], bool]:
    if isinstance(weights, np.ndarray) and weights.ndim == 3:
        if weights.shape[1:] != (len(index), len(columns)):
            raise SimulationError(
                f"weights has shape {weights.shape}, expected (K, {len(index)}, {len(columns)})"
            )
        arr, batched = np.asarray(weights, dtype=np.float64), True
    elif isinstance(weights, list | tuple):
        if not weights:
            raise SimulationError("weights is an empty list; give at least one weight frame")
        frames = [aligned(w, index, columns, f"weights[{k}]") for k, w in enumerate(weights)]
        arr, batched = np.stack([f.to_numpy(dtype=np.float64) for f in frames]), True
    else:
        frame = aligned(weights, index, columns, "weights")
        arr, batched = frame.to_numpy(dtype=np.float64)[None], False
    return arr, batched
