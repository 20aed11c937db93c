"""Parameter sweeps: every combination of the config's ``sweep.params`` grids, in chunks.

The market is loaded once. Combinations are grouped by their portfolio settings (each
group gets its own cost arrays, prepared once); within a group they run in chunks: the
strategy computes the chunk's weights, the sweep kernel simulates the chunk in one
parallel call and keeps only its metrics. So memory grows with combinations x metrics,
never with combinations x bars. Chunks run in this process or on a Dask cluster
(`dask=`), where the market is shipped once per worker; the result is the same array
either way, because each chunk's rows are fixed before anything runs.

Before anything runs, every combination is validated (`engine.grid`) and the
walk-forward windows are checked against the bars, so a sweep that starts can finish.

Walk-forward splits the bars into train/test windows: on each train window every
combination is scored, the best by the chosen metric runs on the following test window,
and the test windows are stitched into one out-of-sample curve.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from engine.config import RunConfig, Schedule, WalkForwardConfig
from engine.data import Market
from engine.errors import ConfigError, SimulationError, StrategyError
from engine.grid import expand_grid, short_name
from engine.inputs import KernelMarket
from engine.kernel import sim_nb as nb
from engine.metric_names import KERNEL_METRICS as SWEEP_METRICS
from engine.metric_names import LOWER_IS_BETTER
from engine.periods import periods_per_year
from engine.pipeline import (
    GrossLimit,
    Loc,
    ResolvedStrategy,
    TargetPlan,
    build_targets,
    gross_limit,
    gross_reason,
    load_market,
    prepare_kernel,
    resolve_strategy,
    schedule_of,
    target_plan,
)
from engine.simulation import run_portfolios, sweep_metrics, sweep_rule_metrics
from engine.strategy import carry_last

__all__ = [
    "LOWER_IS_BETTER",
    "ROW_STATUS",
    "SWEEP_METRICS",
    "SweepResult",
    "plan",
    "run_chunk",
    "run_sweep",
    "short_name",
]

Progress = Callable[[int], None]

# The ``status`` column of a sweep table; ``reason`` says why a row is not ok.
ROW_OK = 0
ROW_BANKRUPT = 1  # simulated; the portfolio lost all its value
ROW_INVALID = 2  # the strategy rejected the parameter set or failed on it, or it overflowed
ROW_NOT_RUN = 3  # the sweep was interrupted before its chunk ran
ROW_STATUS = {
    ROW_OK: "ok",
    ROW_BANKRUPT: "bankrupt",
    ROW_INVALID: "invalid",
    ROW_NOT_RUN: "not run",
}


@dataclass(frozen=True)
class Group:
    """Combinations that share portfolio settings, hence one set of kernel arrays."""

    overrides: dict[str, Any]
    kernel: KernelMarket
    schedule: Schedule
    lag: int
    init_cash: float
    max_leverage: float | None
    max_gross: GrossLimit  # `pipeline.gross_limit` of the group's settings
    plan: TargetPlan  # schedule, lag and gross limit on the market, for the kernel


@dataclass(frozen=True)
class Payload:
    """Everything a worker needs, shipped once: market, groups, strategy and windows.

    The strategy sees `market` whole, warm-up included; bars and windows count from
    ``market.start`` (`index`).
    """

    market: Market
    groups: list[Group]
    strategy: ResolvedStrategy
    where: Callable[[Loc], str]  # RunConfig.where of the swept config, to locate errors
    ppy: float
    windows: list[tuple[int, int]]  # walk-forward train windows, [start, stop) bars

    @property
    def index(self) -> pd.DatetimeIndex:
        """The simulated bars."""
        return self.market.index[self.market.warmup_bars :]


@dataclass(frozen=True)
class Chunk:
    """Rows ``rows`` of the result table: one group's combinations, by strategy params."""

    group: int
    rows: np.ndarray
    params: list[dict[str, Any]]


@dataclass
class SweepResult:
    """The table of combinations and metrics; walk-forward tables when configured.

    ``table`` has one row per combination, in grid order: the swept values, then
    `SWEEP_METRICS`, ``status`` (an int of `ROW_STATUS`) and ``reason`` (why a row is
    not ok, else empty).
    ``window_metrics`` is ``[windows, rows, metrics]`` for walk-forward, else None.
    ``risk_free`` is the risk-free return of each simulated bar that the metrics used
    (of the first group of portfolio settings, should a swept cash rate set it).
    """

    config: RunConfig
    table: pd.DataFrame
    keys: list[str]
    interrupted: bool = False
    window_metrics: np.ndarray | None = None
    walk_forward: pd.DataFrame | None = None
    oos_value: pd.Series | None = None
    is_value: pd.Series | None = None
    curves: dict[str, pd.Series] = field(default_factory=dict)
    risk_free: pd.Series | None = None

    @property
    def metric(self) -> str:
        """The metric the sweep ranks by."""
        assert self.config.sweep is not None
        return self.config.sweep.metric

    def ranked(self) -> pd.DataFrame:
        """Finished rows, best first by the sweep's metric (ties keep grid order)."""
        done = self.table[self.table["status"] == ROW_OK]
        ascending = self.metric in LOWER_IS_BETTER
        return done.sort_values(self.metric, ascending=ascending, kind="stable")


def _windows(
    index: pd.DatetimeIndex, wf: WalkForwardConfig, where: str
) -> list[tuple[int, int, int, int]]:
    """Train and test windows ``(train_start, train_stop, test_start, test_stop)``, in bars.

    The last test window may be short; a first fold that does not fit is an error, not
    a walk-forward of no folds.
    """
    n_bars = len(index)
    if wf.train + wf.test > n_bars:
        span = f" ({index[0].date()} .. {index[-1].date()})" if n_bars else ""
        raise ConfigError(
            f"{where}: train {wf.train} + test {wf.test} bars is longer than the data: the "
            f"data has {n_bars} bars{span}; shorten the windows or widen data.start .. data.end"
        )
    folds = []
    train_stop = wf.train
    while train_stop < n_bars:
        train_start = train_stop - wf.train if wf.mode == "rolling" else 0
        folds.append((train_start, train_stop, train_stop, min(train_stop + wf.test, n_bars)))
        train_stop += wf.test
    return folds


def _check_param_names(config: RunConfig, keys: Sequence[str], known: set[str]) -> None:
    """A swept name the strategy does not have would make every combination invalid."""
    for key in keys:
        param = key.split(".", 2)[2]
        if param not in known:
            guess = difflib.get_close_matches(param, sorted(known), n=1)
            hint = f"; did you mean {guess[0]!r}?" if guess else ""
            raise ConfigError(
                f"{config.where(('sweep', 'params', key))}: strategy {config.strategy.name!r} "
                f"has no parameter {param!r}{hint} Known: {', '.join(sorted(known))}"
            )


def plan(
    config: RunConfig, market: Market, strategy: ResolvedStrategy | None = None
) -> tuple[Payload, list[Chunk], pd.DataFrame, list[tuple[int, int, int, int]]]:
    """Expand the grids into chunks and an empty result table (nothing is simulated)."""
    sweep = config.sweep
    if sweep is None:
        raise ConfigError(f"{config.where(('sweep',))}: no 'sweep:' section in this config")
    strategy = strategy if strategy is not None else resolve_strategy(config)
    simulated = market.index[market.warmup_bars :]
    where = config.where(("sweep", "walk_forward"))
    folds = _windows(simulated, sweep.walk_forward, where) if sweep.walk_forward else []
    if strategy.param_names is not None:
        strategy_keys = [k for k in sweep.params if k.startswith("strategy.params.")]
        _check_param_names(config, strategy_keys, strategy.param_names)
    grid = expand_grid(config, strategy)
    if all(reason is not None for reason in grid.rejected):
        raise StrategyError(
            f"{config.where(('sweep', 'params'))}: the strategy rejected all "
            f"{len(grid.rejected)} combinations, e.g. {grid.rejected[0]}"
        )
    table = grid.table.copy()
    for name in SWEEP_METRICS:
        table[name] = np.nan
    table["status"] = ROW_NOT_RUN
    table["reason"] = ""

    groups = [
        Group(
            overrides,
            prepare_kernel(variant, market),
            schedule_of(variant, strategy),
            variant.portfolio.lag,
            variant.portfolio.init_cash,
            variant.portfolio.max_leverage,
            gross_limit(variant.portfolio),
            target_plan(
                market,
                schedule_of(variant, strategy),
                variant.portfolio.lag,
                gross_limit(variant.portfolio),
            ),
        )
        for variant, overrides in zip(grid.variants, grid.overrides, strict=True)
    ]
    rows_by_group: dict[int, list[int]] = {}
    for row, g in enumerate(grid.variant_of):
        rows_by_group.setdefault(g, []).append(row)
    chunks = []
    for g, rows in rows_by_group.items():
        for i in range(0, len(rows), sweep.chunk):
            part = rows[i : i + sweep.chunk]
            chunks.append(Chunk(g, np.asarray(part), [grid.params[r] for r in part]))
    payload = Payload(
        market=market,
        groups=groups,
        strategy=strategy,
        where=config.where,
        ppy=periods_per_year(simulated),
        windows=[(a, b) for a, b, _, _ in folds],
    )
    return payload, chunks, table, folds


def _validated(
    payload: Payload, params: Sequence[dict[str, Any]]
) -> tuple[list[Any], list[int], list[str | None]]:
    """The parameter sets the strategy accepts, their rows, and for each row None or the
    reason the strategy rejected it."""
    reasons: list[str | None] = [None] * len(params)
    valid, rows = [], []
    for i, p in enumerate(params):
        try:
            valid.append(payload.strategy.validate(p))
            rows.append(i)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ("strategy", "params", *(str(x) for x in first["loc"]))
            reasons[i] = f"{'.'.join(loc)}: {first['msg'].removeprefix('Value error, ')}"
    return valid, rows, reasons


def _targets(
    payload: Payload, group: Group, params: Sequence[dict[str, Any]]
) -> tuple[np.ndarray, list[str | None]]:
    """Targets ``[K, T, N]`` of a chunk (the pipeline's, with the group's schedule and lag)
    and for each row None or the reason the strategy rejected it (its targets stay NaN)."""
    market = payload.market
    shape = (len(params), len(payload.index), len(market.symbols))
    valid, rows, reasons = _validated(payload, params)
    if not valid:
        return np.full(shape, np.nan), reasons
    built, _, failed = build_targets(
        payload.strategy,
        market,
        valid,
        schedule=group.schedule,
        lag=group.lag,
        where=payload.where,
        max_gross=group.max_gross,
    )
    for i, reason in zip(rows, failed, strict=True):
        reasons[i] = reason
    if len(rows) == len(params):  # the usual chunk: no copy of the [K, T, N] batch
        return built, reasons
    targets = np.full(shape, np.nan)
    targets[rows] = built
    return targets, reasons


def _status(codes: np.ndarray) -> np.ndarray:
    """Row statuses of the kernel's status codes."""
    return np.select(
        [codes == nb.STATUS_BANKRUPT, codes == nb.STATUS_NOT_FINITE],
        [ROW_BANKRUPT, ROW_INVALID],
        ROW_OK,
    )


def _run_rule(
    payload: Payload, group: Group, params: Sequence[dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray, list[str | None]] | None:
    """Metrics ``[K, M]``, statuses and reasons of a chunk whose strategy decides by a
    `DecisionRule`: the kernel builds each portfolio's targets itself, so no [K, T, N]
    array exists. None when the strategy has no rule for these sets."""
    strategy, market = payload.strategy, payload.market
    valid, rows, reasons = _validated(payload, params)
    if strategy.decision_rule is None or not valid:
        return None
    rule = strategy.decision_rule(market, valid)
    if rule is None:
        return None
    chunk = sweep_rule_metrics(
        group.kernel,
        rule.rule,
        rule.features,
        rule.a,
        rule.b,
        rule.up,
        rule.down,
        group.plan.kernel_args(),
        init_cash=group.init_cash,
        max_leverage=group.max_leverage,
        ppy=payload.ppy,
    )
    metrics = np.full((len(params), len(SWEEP_METRICS)), np.nan)
    status = np.full(len(params), ROW_INVALID, dtype=np.int64)
    metrics[rows] = chunk.metrics
    status[rows] = _status(chunk.status)
    for i, row in enumerate(rows):
        if chunk.over[i] >= 0:
            status[row] = ROW_INVALID
            reasons[row] = gross_reason(
                float(chunk.gross[i]), int(chunk.over[i]), group.max_gross, market, group.plan,
                strategy.name, payload.where,
            )  # fmt: skip
        elif chunk.status[i] == nb.STATUS_NOT_FINITE:
            reasons[row] = _overflow_reason(group, _targets(payload, group, [params[row]])[0])
    return metrics, status, reasons


def _overflow_reason(group: Group, targets: np.ndarray) -> str:
    """Why one portfolio overflows: the error its single run raises (it names the bar)."""
    try:
        run_portfolios(
            group.kernel, targets, init_cash=group.init_cash, max_leverage=group.max_leverage
        )
    except SimulationError as exc:
        return str(exc)
    raise AssertionError("the sweep kernel overflowed where the single run did not")


def _window_targets(targets: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Targets of bars ``[start, stop)``; the first row carries the last known target."""
    return carry_last(targets[:, :stop], start)


def run_chunk(payload: Payload, chunk: Chunk) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Simulate one chunk: metrics ``[1 + windows, K, M]``, row statuses and reasons.

    A combination the strategy rejects, or whose money amounts overflow, gets NaN
    metrics, `ROW_INVALID` and the reason; the others run in one kernel call per window.
    """
    group = payload.groups[chunk.group]
    k = len(chunk.params)
    out = np.full((1 + len(payload.windows), k, len(SWEEP_METRICS)), np.nan)
    if not payload.windows and (ruled := _run_rule(payload, group, chunk.params)) is not None:
        out[0], status, reasons = ruled
        return out, status, ["" if reason is None else reason for reason in reasons]
    targets, reasons = _targets(payload, group, chunk.params)
    good = np.array([reason is None for reason in reasons])
    status = np.full(k, ROW_INVALID, dtype=np.int64)
    if good.any():
        kw = {"init_cash": group.init_cash, "max_leverage": group.max_leverage, "ppy": payload.ppy}
        full = sweep_metrics(group.kernel, targets[good], **kw)
        out[0, good] = full.metrics
        status[good] = _status(full.status)
        for row in np.flatnonzero(good)[full.status == nb.STATUS_NOT_FINITE]:
            reasons[row] = _overflow_reason(group, targets[row : row + 1])
        for w, (start, stop) in enumerate(payload.windows, 1):
            part = sweep_metrics(
                group.kernel.window(start, stop),
                _window_targets(targets[good], start, stop),
                **kw,
            )
            out[w, good] = part.metrics
    return out, status, ["" if reason is None else reason for reason in reasons]


def _local(payload: Payload, chunks: Sequence[Chunk]) -> Iterator[tuple[int, Any]]:
    for i, chunk in enumerate(chunks):
        yield i, run_chunk(payload, chunk)


def _on_dask(
    payload: Payload, chunks: Sequence[Chunk], address: str, workers: int
) -> Iterator[tuple[int, Any]]:
    """Run chunks on a Dask cluster; yield results as they finish (any order)."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise ConfigError(f"--dask needs dask.distributed ({exc})") from None
    cluster = None
    if address == "local":
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout="20s")
        except OSError as exc:
            raise ConfigError(f"--dask {address}: cannot reach the scheduler ({exc})") from None
    try:
        shipped = client.scatter(payload, broadcast=True)
        futures = {
            client.submit(run_chunk, shipped, chunk, pure=False, key=f"eastwind-chunk-{i}"): i
            for i, chunk in enumerate(chunks)
        }
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_sweep(
    config: RunConfig,
    *,
    offline: bool = False,
    dask: str | None = None,
    workers: int = 2,
    progress: Progress | None = None,
    market: Market | None = None,
) -> SweepResult:
    """Run every combination of ``config.sweep``; Ctrl-C keeps the finished chunks.

    `progress` is called with the number of combinations each finished chunk held.
    `dask` is a scheduler address, or ``"local"`` for a `LocalCluster` of `workers`
    processes.
    """
    strategy = resolve_strategy(config)  # an unknown strategy fails before any data loads
    market = market if market is not None else load_market(config, offline)
    payload, chunks, table, folds = plan(config, market, strategy)
    n_windows = len(payload.windows)
    window_metrics = np.full((n_windows, len(table), len(SWEEP_METRICS)), np.nan)
    metrics = np.full((len(table), len(SWEEP_METRICS)), np.nan)
    status = table["status"].to_numpy(dtype=np.int64).copy()
    reasons = table["reason"].to_numpy(dtype=object).copy()
    source = _local(payload, chunks) if dask is None else _on_dask(payload, chunks, dask, workers)
    interrupted = False
    try:
        for i, (out, codes, why) in source:
            rows = chunks[i].rows
            metrics[rows] = out[0]
            window_metrics[:, rows] = out[1:]
            status[rows] = codes
            reasons[rows] = why
            if progress is not None:
                progress(len(rows))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        source.close()  # on Dask: closes the client and a local cluster now, not at exit
    for j, name in enumerate(SWEEP_METRICS):
        table[name] = metrics[:, j]
    table["status"] = status
    table["reason"] = reasons
    if not interrupted and not (status != ROW_INVALID).any():
        raise StrategyError(
            f"{config.where(('sweep', 'params'))}: the strategy rejected all {len(table)} "
            f"combinations, e.g. {reasons[0]}"
        )
    keys = list(config.sweep.params) if config.sweep else []
    result = SweepResult(config, table, keys, interrupted, window_metrics if folds else None)
    result.risk_free = pd.Series(
        nb.risk_free_per_bar_nb(payload.groups[0].kernel.rates, payload.ppy), index=payload.index
    )
    if not interrupted:
        _finish(result, payload, chunks, folds)
    return result


def _score(values: np.ndarray, metric: str) -> np.ndarray:
    scored = -values if metric in LOWER_IS_BETTER else values.copy()
    return np.where(np.isnan(scored), -np.inf, scored)


def _row_chunks(chunks: Sequence[Chunk]) -> dict[int, Chunk]:
    """A one-row chunk for every row of the table, taken from the planned chunks."""
    return {
        int(row): Chunk(chunk.group, np.asarray([row]), [params])
        for chunk in chunks
        for row, params in zip(chunk.rows, chunk.params, strict=True)
    }


def _curve(payload: Payload, chunk: Chunk, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Re-simulate a one-row chunk on bars ``[start, stop)``: its value and its metrics.

    The metrics come from the same kernel call, and so from the same code as every
    train window's score.
    """
    group = payload.groups[chunk.group]
    targets, _ = _targets(payload, group, chunk.params)
    if (start, stop) == (0, len(payload.index)):
        kernel = group.kernel
    else:
        kernel = group.kernel.window(start, stop)
        targets = _window_targets(targets, start, stop)
    run = sweep_metrics(
        kernel,
        targets,
        init_cash=group.init_cash,
        max_leverage=group.max_leverage,
        ppy=payload.ppy,
        keep_values=True,
    )
    assert run.values is not None
    return run.values[0], run.metrics[0]


def _finish(
    result: SweepResult,
    payload: Payload,
    chunks: Sequence[Chunk],
    folds: list[tuple[int, int, int, int]],
) -> None:
    """Best curves, and the walk-forward fold table and stitched curves."""
    sweep = result.config.sweep
    assert sweep is not None
    table = result.table
    index = payload.index
    n_bars = len(index)
    ranked = result.ranked()
    by_row = _row_chunks(chunks)
    for row in ranked.index[: sweep.curves]:
        label = ", ".join(f"{c}={table.at[row, c]}" for c in map(short_name, result.keys))
        value, _ = _curve(payload, by_row[int(row)], 0, n_bars)
        result.curves[label] = pd.Series(value, index=index)
    if not folds or result.window_metrics is None or not len(ranked):
        return
    metric_col = SWEEP_METRICS.index(sweep.metric)
    rows, oos, insample = [], [], []
    level = 1.0
    best_full = int(ranked.index[0])
    full_curve, _ = _curve(payload, by_row[best_full], 0, n_bars)
    for w, (a, b, c, d) in enumerate(folds):
        scores = _score(result.window_metrics[w, :, metric_col], sweep.metric)
        best = int(np.argmax(scores))
        test_value, test_metrics = _curve(payload, by_row[best], c, d)
        init = payload.groups[by_row[best].group].init_cash
        growth = test_value / init
        oos.append(pd.Series(level * growth, index=index[c:d]))
        level *= growth[-1]
        insample.append(pd.Series(full_curve[c:d], index=index[c:d]))
        rows.append(
            {
                "train_start": index[a].date(),
                "train_end": index[b - 1].date(),
                "test_start": index[c].date(),
                "test_end": index[d - 1].date(),
                **{short_name(k): table.at[best, short_name(k)] for k in result.keys},
                f"train_{sweep.metric}": result.window_metrics[w, best, metric_col],
                f"test_{sweep.metric}": test_metrics[metric_col],
                "test_return": test_metrics[nb.M_TOTAL_RETURN],
            }
        )
    result.walk_forward = pd.DataFrame(rows)
    result.oos_value = pd.concat(oos).rename("out_of_sample")
    first = folds[0][2]
    is_curve = pd.concat(insample)
    result.is_value = (is_curve / full_curve[first - 1] if first > 0 else is_curve).rename(
        "in_sample_best"
    )
