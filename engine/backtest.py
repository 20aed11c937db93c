"""Run one configured backtest: the pipeline's K = 1 case, with a benchmark and metrics.

Market, strategy, targets and kernel inputs come from `engine.pipeline`, the same
functions a sweep uses; this module adds the benchmark curve and the metrics that need
pandas, and holds no YAML parsing or printing.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine import metrics as m
from engine.attribution import Attribution, attribute
from engine.bootstrap import bootstrap_metrics
from engine.config import RunConfig, load_config, override_config
from engine.data import Market
from engine.data.dividends import total_return_close
from engine.errors import StrategyError
from engine.inputs import KernelMarket
from engine.kernel.sim_nb import risk_free_per_bar_nb
from engine.periods import periods_per_year
from engine.pipeline import (
    ResolvedStrategy,
    build_targets,
    check_strategy,
    gross_limit,
    load_market,
    load_markets,
    prepare_kernel,
    resolve_strategy,
    schedule_of,
    strategy_params,
    weights_array,
)
from engine.results import Bankruptcy, SimulationResult
from engine.round_trips import round_trips
from engine.simulation import run_portfolios
from engine.strategy import base_close

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "BacktestResult",
    "Prepared",
    "benchmark_value",
    "check_strategy",
    "configured",
    "load_market",
    "prepare",
    "run",
    "simulate_prepared",
    "target_weights",
    "weights_array",
]


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """A finished backtest: its config, market, weights, simulation, benchmark and metrics.

    ``market`` is the simulated span (from ``data.start``; the strategy also saw the
    warm-up before it). ``target_weights`` are the strategy's targets on the bars it
    rebalances (NaN elsewhere), before the execution lag; ``held_weights`` are the
    weights the portfolio held at each close. ``risk_free`` is the risk-free return of
    each bar, the one Sharpe, Sortino and alpha measure excess returns against.
    ``kernel`` holds the arrays the portfolio was simulated on (``attribution`` reads
    its execution prices, borrow rates and year fractions).

    In a notebook the result shows a short summary; ``plot()`` draws equity and drawdown,
    ``to_html(path)`` writes the full report and ``stats()`` lists the metrics.
    """

    config: RunConfig
    market: Market
    target_weights: pd.DataFrame
    simulation: SimulationResult
    metrics: dict[str, float]
    benchmark: pd.Series | None = None
    benchmark_metrics: dict[str, float] | None = None
    risk_free: pd.Series | None = None
    kernel: KernelMarket | None = None

    @property
    def value(self) -> pd.Series:
        """Portfolio value at the end of each bar, in the base currency."""
        return self.simulation.value

    @property
    def returns(self) -> pd.Series:
        """Simple return of each bar (the first from the initial cash), dated; the series
        the metrics are computed from, in the form quantstats and empyrical take."""
        return self.simulation.returns

    @property
    def held_weights(self) -> pd.DataFrame:
        """Weight of each asset held at each close: position value over portfolio value."""
        return self.simulation.weights

    @property
    def weights(self) -> pd.DataFrame:
        """Deprecated: the strategy's targets before the lag; use ``target_weights``
        (or ``held_weights`` for what was held)."""
        warnings.warn(
            "BacktestResult.weights is the strategy's targets before the lag; use "
            "target_weights, or held_weights for what the portfolio held",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.target_weights

    @property
    def trades(self) -> pd.DataFrame:
        """One row per fill: date, symbol, side, signed quantity, fill price, fx and costs."""
        return self.simulation.trades

    @cached_property
    def round_trips(self) -> pd.DataFrame:
        """Closed trades, fills matched first in, first out per asset (`round_trips`)."""
        return round_trips(self.simulation.trades)

    @cached_property
    def attribution(self) -> Attribution:
        """The P&L of each asset by bar, split into price, fx and costs (`engine.attribution`)."""
        if self.kernel is None:
            raise ValueError("attribution needs the result of run(), which keeps its kernel inputs")
        return attribute(self.simulation, self.kernel)

    @property
    def bankruptcy(self) -> Bankruptcy | None:
        """Where the value fell to zero or below and what drove it there, or None."""
        return self.simulation.bankruptcy

    def stats(self) -> pd.Series:
        """The metrics of metrics.json as a Series, labelled as in the report."""
        from engine.report import notebook  # plotly and the report load on first use

        return notebook.stats(self)

    def plot(self) -> go.Figure:
        """A plotly figure: equity vs the benchmark above the drawdown."""
        from engine.report import notebook

        return notebook.figure(self)

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the run's report page (the report.html of ``eastwind run``) to `path`."""
        from engine.report import notebook

        return notebook.write_page(self, Path(path))

    def _repr_html_(self) -> str:
        from engine.report import notebook

        return notebook.summary_html(self)

    def to_vectorbt(self, freq: str | None = "1D") -> Any:
        """A vectorbt ``Portfolio`` replaying this run's fills (`engine.vectorbt_bridge`)."""
        from engine.vectorbt_bridge import to_vectorbt

        return to_vectorbt(self.simulation, freq)


def _timing(config: RunConfig, strategy: ResolvedStrategy) -> dict[str, Any]:
    return {
        "schedule": schedule_of(config, strategy),
        "lag": config.portfolio.lag,
        "where": config.where,
        "max_gross": gross_limit(config.portfolio),
    }


def target_weights(config: RunConfig, market: Market) -> pd.DataFrame:
    """Return the strategy's target weights on its rebalance bars from ``market.start`` on,
    before the lag.

    Raises
    ------
    ConfigError
        For an unknown strategy or invalid parameters.
    StrategyError
        When the strategy fails or gives weights that are not finite.
    """
    strategy = resolve_strategy(config)
    params = strategy_params(config, strategy)
    _, decided, reasons = build_targets(
        strategy, market, [params], keep_decided=True, **_timing(config, strategy)
    )
    if reasons[0] is not None:
        raise StrategyError(reasons[0])
    assert decided is not None
    trading = market.after_warmup()
    return pd.DataFrame(decided[0], index=trading.index, columns=trading.close.columns)


def benchmark_value(config: RunConfig, prices: Market, index: pd.DatetimeIndex) -> pd.Series:
    """Value of the benchmark basket, rebalanced daily to its weights, from ``init_cash``.

    Returns are in the base currency and carried over gaps, with the dividends
    reinvested on price-only data (``data.adjust: price``); the curve starts at the
    first bar of `index` with ``init_cash``.
    """
    bench = config.benchmark
    assert bench is not None
    weights = bench.weights or dict.fromkeys(bench.symbols, 1.0 / len(bench.symbols))
    if "dividends" in prices.extras:  # data.adjust: price: measure its total return
        prices = replace(prices, close=total_return_close(prices.close, prices.extras["dividends"]))
    close = base_close(prices)
    returns = close.reindex(index, method="ffill").pct_change(fill_method=None).fillna(0.0)
    basket = returns[list(weights)].mul(pd.Series(weights)).sum(axis=1)
    basket.iloc[0] = 0.0
    value = config.portfolio.init_cash * (1.0 + basket).cumprod()
    return value.rename("benchmark")


def run(
    config: RunConfig | str | os.PathLike[str],
    *,
    set: Sequence[str] | Mapping[str, Any] = (),
    offline: bool = False,
) -> BacktestResult:
    """Run the backtest `config` describes and return its result with metrics.

    `config` is a `RunConfig` or the path of a YAML file; `set` overrides settings as
    ``--set`` does (``["portfolio.fees.rate=0.002"]``), or as a mapping of dotted paths
    to values (`RunConfig.with_updates`).

    Raises
    ------
    ConfigError
        For a config file or override that does not validate.
    """
    return simulate_prepared(prepare(configured(config, set), offline))


def configured(
    config: RunConfig | str | os.PathLike[str], set: Sequence[str] | Mapping[str, Any] = ()
) -> RunConfig:
    """Return `config` (a `RunConfig` or a YAML path) with the `set` overrides of `run`."""
    overrides = [set] if isinstance(set, str) else set
    if isinstance(overrides, Mapping):
        loaded = config if isinstance(config, RunConfig) else load_config(config)
        return loaded.with_updates(overrides)
    if isinstance(config, RunConfig):
        return override_config(config, list(overrides)) if overrides else config
    return load_config(config, list(overrides))


@dataclass(frozen=True, eq=False)
class Prepared:
    """Everything a run computes before its simulation: market, kernel arrays, targets.

    None of it depends on ``portfolio.init_cash``, so `simulate_prepared` can simulate
    the same prepared run at several starting cash amounts (``eastwind capacity``).
    """

    config: RunConfig
    history: Market  # warm-up included
    bench_prices: Market | None
    kernel: KernelMarket
    targets: np.ndarray  # [1, T, N], scheduled and lagged
    decided: np.ndarray  # [T, N], the strategy's targets before the lag


def prepare(config: RunConfig, offline: bool = False) -> Prepared:
    """Load the market and compute the kernel's arrays and the targets of `config`.

    Raises
    ------
    StrategyError
        When the strategy fails or gives weights that are not finite.
    """
    strategy = resolve_strategy(config)
    params = strategy_params(config, strategy)
    history, bench_prices = load_markets(config, offline)
    kernel = prepare_kernel(config, history)
    targets, decided, reasons = build_targets(
        strategy, history, [params], keep_decided=True, **_timing(config, strategy)
    )
    if reasons[0] is not None:
        raise StrategyError(reasons[0])
    assert decided is not None
    return Prepared(config, history, bench_prices, kernel, targets, decided[0])


def simulate_prepared(prepared: Prepared, init_cash: float | None = None) -> BacktestResult:
    """Simulate a prepared run and measure it; `init_cash` replaces the config's.

    Raises
    ------
    ConfigError
        When `init_cash` is not a valid ``portfolio.init_cash``.
    """
    config = prepared.config
    if init_cash is not None:
        config = config.with_updates({"portfolio.init_cash": init_cash})
    history, bench_prices, kernel = prepared.history, prepared.bench_prices, prepared.kernel
    targets = prepared.targets
    market = history.after_warmup()
    p = config.portfolio
    simulation = run_portfolios(
        kernel, targets, init_cash=p.init_cash, max_leverage=p.max_leverage
    )[0]
    ppy = periods_per_year(market.index)
    rf_bar = risk_free_per_bar_nb(kernel.rates, ppy)
    metrics: dict[str, Any] = m.extras(simulation.value, p.init_cash) | m.simulation_metrics(
        simulation, ppy, rf_bar
    )
    bench = bench_metrics = None
    if bench_prices is not None:
        bench = benchmark_value(config, bench_prices, market.index)
        bench_metrics = m.performance(bench, p.init_cash, rf_bar)
        metrics |= m.relative(
            simulation.returns.to_numpy(),
            m.returns_from_value(bench.to_numpy(), p.init_cash),
            ppy,
            rf_bar,
        )
    metrics |= bootstrap_metrics(
        simulation.value.to_numpy(),
        p.init_cash,
        rf_bar,
        ppy,
        **config.report.bootstrap.model_dump(),
    )
    if simulation.bankruptcy is not None:
        metrics |= {key: float("nan") for key in m.BANKRUPT_UNDEFINED if key in metrics}
    weights = pd.DataFrame(prepared.decided, index=market.index, columns=market.close.columns)
    risk_free = pd.Series(rf_bar, index=market.index, name="risk_free")
    return BacktestResult(
        config, market, weights, simulation, metrics, bench, bench_metrics, risk_free, kernel
    )
