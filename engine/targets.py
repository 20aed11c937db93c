"""Targets: a strategy's weights -> the kernel's targets, on the schedule and lagged.

`build_targets` turns K parameter sets into targets ``[K, T, N]``: the strategy's
weights (`raw_weights`), the rebalance schedule and the execution lag (`TargetPlan`,
applied by the kernel's `schedule_nb`, the same code a sweep of a signal strategy runs
per portfolio), and a reason for each set the strategy rejected or whose targets ask
for more gross exposure than `gross_limit` allows. Importing this module does not
import numba; building targets does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from engine.config import PortfolioConfig, RunConfig, Schedule
from engine.data import Market
from engine.errors import BacktestError
from engine.resolve import Loc, ResolvedStrategy, located

__all__ = [
    "GrossLimit",
    "TargetPlan",
    "build_targets",
    "gross_limit",
    "gross_reason",
    "raw_weights",
    "schedule_of",
    "scheduled",
    "target_plan",
]


def schedule_of(config: RunConfig, strategy: ResolvedStrategy) -> Schedule:
    """The rebalance schedule: ``portfolio.rebalance``, else the strategy's own."""
    return config.portfolio.rebalance or strategy.rebalance


def raw_weights(
    strategy: ResolvedStrategy,
    market: Market,
    params: Sequence[Any],
    where: Callable[[Loc], str],
) -> tuple[npt.NDArray[np.float64], list[str | None]]:
    """The strategy's weights ``[K, T, N]`` for validated parameter sets, before schedule
    and lag, and for each set None or the reason it failed (its weights stay NaN).

    A registered strategy computes the batch at once; if that fails, each set is retried
    alone so one bad set does not sink the others.
    """
    n_bars, n_assets = len(market.index), len(market.symbols)
    out = np.full((len(params), n_bars, n_assets), np.nan)
    reasons: list[str | None] = [None] * len(params)

    def attempt(rows: list[int]) -> str | None:
        try:
            out[rows] = strategy.compute_many(market, [params[i] for i in rows])
        except BacktestError as exc:
            return located(where, exc)
        except Exception as exc:  # user code: report it as the strategy's failure
            return f"strategy {strategy.name!r} failed: {type(exc).__name__}: {exc}"
        return None

    if params and (reason := attempt(list(range(len(params))))) is not None:
        reasons = [reason] if len(params) == 1 else [attempt([i]) for i in range(len(params))]
    if np.isinf(out).any():  # one pass over the batch; name the first bad bar per set
        for k in range(len(params)):
            bad = np.isinf(out[k])
            if reasons[k] is None and bad.any():
                t, j = np.argwhere(bad)[0]
                reasons[k] = (
                    f"strategy {strategy.name!r} gave an infinite weight for "
                    f"{market.symbols[j]} on {market.index[t].date()}"
                )
                out[k] = np.nan
    return out, reasons


class GrossLimit(NamedTuple):
    """The largest gross exposure targets may ask for, the setting that sets it, and the
    largest value that setting accepts (its bound in `PortfolioConfig`)."""

    value: float
    setting: Loc
    ceiling: float


def gross_limit(portfolio: PortfolioConfig) -> GrossLimit:
    """``max_leverage`` when there is a leverage cap, else ``max_gross``."""
    if portfolio.max_leverage is not None:
        return GrossLimit(portfolio.max_leverage, ("portfolio", "max_leverage"), 20.0)
    return GrossLimit(portfolio.max_gross, ("portfolio", "max_gross"), 1000.0)


class TargetPlan(NamedTuple):
    """How decisions become targets on one market: the schedule, the lag, where the
    simulated bars start, the series that end, and the gross limit
    (`engine.kernel.sim_nb.schedule_nb` documents each field)."""

    keep: npt.NDArray[np.bool_]  # calendar schedule: which bars of the window count
    on_change: bool
    lag: int
    decide: int  # first bar of the schedule's window: ``first - lag``, or 0
    first: int  # first simulated bar (after the warm-up)
    closing: npt.NDArray[np.int64]  # simulated bar each series ends, -1: none
    limit: float

    def kernel_args(self, lag: int | None = None) -> tuple[Any, ...]:
        """The arguments `schedule_nb` takes after the decisions, with another `lag`
        for the decisions themselves (``lag=0`` with the same window)."""
        return (
            self.keep,
            self.on_change,
            self.lag if lag is None else lag,
            self.decide,
            self.first,
            self.closing,
            self.limit,
        )


def target_plan(market: Market, schedule: Schedule, lag: int, max_gross: GrossLimit) -> TargetPlan:
    """The `TargetPlan` of `market` for a schedule, a lag and a gross limit."""
    from engine.strategy import schedule_keep

    first = market.warmup_bars
    decide = max(first - lag, 0)
    window = market.index[decide:]
    on_change = schedule == "on_change"
    if on_change or schedule == "daily":
        keep = np.ones(len(window), dtype=bool)
    else:
        keep = schedule_keep(np.empty((len(window), 1)), window, schedule)
    closing = np.full(len(market.symbols), -1, dtype=np.int64)
    simulated = market.index[first:]
    for symbol, last in market.closing.items():  # data.on_series_end: close
        closing[market.symbols.index(symbol)] = simulated.get_loc(last)
    # a book normalised to the limit is not over it
    limit = max_gross.value * (1.0 + 1e-9)
    return TargetPlan(keep, on_change, lag, decide, first, closing, limit)


def scheduled(
    raw: npt.NDArray[np.float64], plan: TargetPlan, lag: int | None = None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Targets ``[K, T, N]`` of decisions ``raw[K, T0, N]`` under `plan` (the kernel's
    `targets_nb`), the first row of each set above the gross limit (-1: none), and its
    gross."""
    from engine.kernel.sim_nb import targets_nb  # numba: only when a run builds targets

    k, n_full, n_assets = raw.shape
    raw = np.require(raw, dtype=np.float64, requirements=["C", "W"])
    out = np.empty((k, n_full - plan.first, n_assets), dtype=np.float64)
    rows = np.empty((k, n_full - plan.first), dtype=np.int64)
    over = np.empty(k, dtype=np.int64)
    gross = np.empty(k, dtype=np.float64)
    targets_nb(raw, *plan.kernel_args(lag), out, rows, over, gross)
    return out, over, gross


def gross_reason(
    asked: float,
    t: int,
    limit: GrossLimit,
    market: Market,
    plan: TargetPlan,
    name: str,
    where: Callable[[Loc], str],
) -> str:
    """Why a set whose targets row `t` asks for gross exposure `asked` is rejected; the
    reason names the setting and the date the strategy decided that row."""
    decided = market.index[t + plan.first - plan.lag]
    path = ".".join(map(str, limit.setting))
    needed = np.ceil(asked * 100.0) / 100.0
    fix = (
        f"set {path} to {needed:g} or more to allow it"
        if needed <= limit.ceiling
        else f"no {path} allows it: scale the strategy's weights down"
    )
    return (
        f"{where(limit.setting)}: strategy {name!r} asks for gross exposure {asked:.4g} on "
        f"{decided.date()} (the sum of |weights|), above {path} = {limit.value:g}; {fix}"
    )


def build_targets(
    strategy: ResolvedStrategy,
    market: Market,
    params: Sequence[Any],
    *,
    schedule: Schedule,
    lag: int,
    where: Callable[[Loc], str],
    max_gross: GrossLimit,
    keep_decided: bool = False,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None, list[str | None]]:
    """Targets ``[K, T, N]`` for the kernel over the bars from ``market.start`` on:
    weights on the schedule's bars, lagged (`TargetPlan`, built by the kernel's
    `schedule_nb`, which a sweep of a signal strategy runs per portfolio too).

    The strategy sees the whole market, warm-up included. The schedule starts `lag` bars
    before ``market.start`` (or at the first bar), from each asset's last instruction,
    so the first decision fills on the first simulated bar. Returns the targets, with
    `keep_decided` the scheduled weights before the lag on the simulated bars (what the
    strategy decided, on the bars it decided it; else None), and for each set None or
    the reason it failed. `where` locates a strategy's error in the config
    (`RunConfig.where`). A position in a series that ends early (``Market.closing``) is
    closed on its last bar and gets no target after it. A set whose targets ask for
    more gross exposure than `max_gross` (`gross_limit` of the portfolio) fails; its
    reason names the bar the strategy decided it.
    """
    raw, reasons = raw_weights(strategy, market, params, where)
    plan = target_plan(market, schedule, lag, max_gross)
    targets, over, gross = scheduled(raw, plan)
    decided = scheduled(raw, plan, lag=0)[0] if keep_decided else None
    for k in np.flatnonzero(over >= 0):
        if reasons[k] is None:
            reasons[k] = gross_reason(
                float(gross[k]), int(over[k]), max_gross, market, plan, strategy.name, where
            )
            targets[k] = np.nan
    if decided is not None:
        decided[[r is not None for r in reasons]] = np.nan
    return targets, decided, reasons
