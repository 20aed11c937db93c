"""Run a configured backtest: market -> strategy weights -> schedule and lag -> simulation.

This is the orchestration layer: it imports config, data, strategies and the simulator,
and holds no YAML parsing or printing.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from engine import metrics as m
from engine.config import DataConfig, RunConfig, validate_strategy_params
from engine.data import (
    Columns,
    FileSpec,
    Market,
    SeriesFile,
    YahooCache,
    load_files_market,
    load_yahoo_market,
    read_extras,
    synthetic_market,
)
from engine.data.calendars import sessions
from engine.errors import BacktestError, ConfigError, DataError, StrategyError
from engine.results import SimulationResult
from engine.simulation import Charge, simulate
from engine.strategy import base_close, schedule_rebalance
from strategies import REGISTRY


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """A finished backtest: its config, market, weights, simulation, benchmark and metrics.

    ``weights`` are the strategy's targets on the bars it rebalances (NaN elsewhere),
    before the execution lag.
    """

    config: RunConfig
    market: Market
    weights: pd.DataFrame
    simulation: SimulationResult
    metrics: dict[str, float]
    benchmark: pd.Series | None = None
    benchmark_metrics: dict[str, float] | None = None

    @property
    def value(self) -> pd.Series:
        """Portfolio value at the end of each bar, in the base currency."""
        return self.simulation.value


def _base_dir(config: RunConfig | DataConfig, base_dir: Path | None) -> Path:
    if base_dir is not None:
        return base_dir
    if isinstance(config, RunConfig) and config.path:
        return config.path.parent
    return Path.cwd()


def _load_symbols(data: DataConfig, symbols: list[str], offline: bool, here: Path) -> Market:
    start, end = pd.Timestamp(data.start), pd.Timestamp(data.end)
    if data.source == "synthetic":
        return synthetic_market(
            symbols,
            start,
            end,
            seed=data.seed,
            base_currency=data.base_currency,
            flow_link=data.flow_link,
        )
    metadata = {s: m.model_dump(exclude_none=True) for s, m in data.metadata.items()}
    if data.source == "yahoo":
        cache = YahooCache(here / data.cache if data.cache else None)
        market = load_yahoo_market(
            symbols,
            start=start,
            end=end,
            base_currency=data.base_currency,
            cache=cache,
            metadata=metadata,
            offline=offline,
        )
        if not data.extras:
            return market
        files = FileSpec(
            root=here / (data.path or "."),
            extras={n: SeriesFile(**f.model_dump()) for n, f in data.extras.items()},
        )
        extras = {n: e.reindex(market.index) for n, e in read_extras(files, symbols).items()}
        return replace(market, extras={**market.extras, **extras})
    spec = FileSpec(
        root=here / str(data.path),
        files=data.files,
        pattern=data.pattern,
        wide=data.wide,
        columns=Columns(**data.columns.model_dump()),
        fx={c: SeriesFile(**f.model_dump()) for c, f in data.fx.items()},
        extras={n: SeriesFile(**f.model_dump()) for n, f in data.extras.items()},
    )
    return load_files_market(
        spec, symbols, start=start, end=end, base_currency=data.base_currency, metadata=metadata
    )


def _restrict_to_calendar(market: Market, calendar: str, where: str) -> Market:
    if calendar == "union":
        return market
    try:
        days = sessions(calendar, market.index[0], market.index[-1])
    except Exception as exc:  # exchange-calendars raises its own errors for unknown names
        raise ConfigError(
            f"{where}: unknown calendar {calendar!r}; use union or an exchange code "
            f"such as XHKG, XNYS, XNAS ({exc.__class__.__name__})"
        ) from None
    restricted = market.select(dates=days)
    if restricted.close.empty:
        raise DataError(f"{where}: no {calendar} session between the data's dates")
    return restricted


def _load(
    config: RunConfig | DataConfig, offline: bool, base_dir: Path | None
) -> tuple[Market, Market | None]:
    data = config.data if isinstance(config, RunConfig) else config
    here = _base_dir(config, base_dir)
    symbols = data.symbol_list
    bench = config.benchmark if isinstance(config, RunConfig) else None
    wanted = symbols + [s for s in (bench.symbols if bench else []) if s not in symbols]
    source = str(config.path) if isinstance(config, RunConfig) and config.path else None
    try:
        loaded = _load_symbols(data, wanted, offline, here)
    except DataError as exc:
        raise DataError(f"{source}: {exc}" if source else str(exc)) from None
    where = config.where(("data", "calendar")) if isinstance(config, RunConfig) else "data.calendar"
    everything = _restrict_to_calendar(loaded, data.calendar, where)
    market = everything.select(symbols)
    if len(wanted) > len(symbols):  # drop dates only the benchmark traded on
        priced = market.close.notna().any(axis=1) | market.index.isin(
            [day for _, day in market.placeholders]
        )
        market = market.select(dates=market.index[priced.to_numpy()])
    market = replace(market, groups=data.groups)
    return market, (everything.select(bench.symbols) if bench else None)


def load_market(
    config: RunConfig | DataConfig, offline: bool = False, base_dir: Path | None = None
) -> Market:
    """Build the market a config's ``data`` section describes.

    Relative file paths are taken from `base_dir`, else from the folder of the config
    file, else from the working directory. With `offline`, the yahoo source reads its
    cache only. Symbol groups are attached; ``data.calendar`` selects the bars.
    """
    return _load(config, offline, base_dir)[0]


@contextlib.contextmanager
def _importable_from(folder: Path) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))


def _user_strategy(config: RunConfig) -> Callable[[Market, dict[str, Any]], pd.DataFrame]:
    """Import the ``module:function`` a config names, from the config's folder or sys.path."""
    module_name, _, function_name = config.strategy.name.partition(":")
    where = config.where(("strategy", "name"))
    try:
        with _importable_from(_base_dir(config, None)):
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{where}: cannot import {module_name!r} ({exc}); put {module_name}.py next to "
            "the config or install it"
        ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ConfigError(f"{where}: {module_name!r} has no function {function_name!r}")
    return function


def check_strategy(config: RunConfig) -> BaseModel | dict[str, Any]:
    """Check the strategy a config names and return its parameters (defaults filled in).

    A ``module:function`` strategy must import; its parameters pass through.

    Raises
    ------
    ConfigError
        Naming ``strategy.name`` or the parameter's YAML path.
    """
    if ":" in config.strategy.name:
        _user_strategy(config)
        return dict(config.strategy.params)
    return validate_strategy_params(config, {k: cls.params_model for k, cls in REGISTRY.items()})


def target_weights(config: RunConfig, market: Market) -> pd.DataFrame:
    """Return the strategy's target weights on its rebalance bars, before the lag."""
    name = config.strategy.name
    if ":" in name:
        function = _user_strategy(config)
        compute = lambda: function(market, dict(config.strategy.params))  # noqa: E731
        schedule = config.portfolio.rebalance or "daily"
    else:
        params = validate_strategy_params(
            config, {key: cls.params_model for key, cls in REGISTRY.items()}
        )
        strategy = REGISTRY[name](params)
        compute = lambda: strategy.target_weights(market)  # noqa: E731
        schedule = config.portfolio.rebalance or strategy.rebalance
    try:
        weights = compute()
    except StrategyError as exc:
        located = re.match(r"^(strategy\.params(?:\.[A-Za-z_]\w*)?): (.*)$", str(exc))
        if located is None:
            raise
        loc = located.group(1).split(".")
        raise StrategyError(f"{config.where(loc)}: {located.group(2)}") from None
    except BacktestError:
        raise
    except Exception as exc:
        raise StrategyError(f"strategy {name!r} failed: {type(exc).__name__}: {exc}") from exc
    bad = np.isinf(weights_array(name, weights, market))
    if bad.any():
        t, j = np.argwhere(bad)[0]
        raise StrategyError(
            f"strategy {name!r} gave an infinite weight for {market.symbols[j]} on "
            f"{market.index[t].date()}"
        )
    return schedule_rebalance(weights.astype(np.float64), schedule)


def weights_array(name: str, weights: object, market: Market) -> np.ndarray:
    """Return a strategy's weights as a float64 array after checking their shape.

    Raises
    ------
    StrategyError
        When `weights` is not a DataFrame on the market's dates and symbols.
    """
    if not isinstance(weights, pd.DataFrame) or not (
        weights.index.equals(market.index) and weights.columns.equals(market.close.columns)
    ):
        raise StrategyError(
            f"strategy {name!r} must return a DataFrame shaped like market.close "
            f"({len(market.index)} bars x {len(market.symbols)} symbols)"
        )
    return weights.to_numpy(dtype=np.float64)


def _cost_arguments(config: RunConfig, market: Market) -> dict[str, Any]:
    """Per-asset cost settings for `simulate`; money amounts in each asset's currency."""
    costs = {
        symbol: config.portfolio.asset_costs(
            symbol, market.exchange.get(symbol, ""), market.currency[symbol]
        )
        for symbol in market.symbols
    }
    names = sorted({name for c in costs.values() for name in c.charges})
    none = (0.0, 0.0, float("inf"))
    return {
        "fees": {s: c.fee_rate for s, c in costs.items()},
        "min_fees": {s: c.fee_minimum for s, c in costs.items()},
        "fixed_fees": {s: c.fee_fixed for s, c in costs.items()},
        "charges": [
            Charge(
                rate={s: c.charges.get(n, none)[0] for s, c in costs.items()},
                minimum={s: c.charges.get(n, none)[1] for s, c in costs.items()},
                maximum={s: c.charges.get(n, none)[2] for s, c in costs.items()},
            )
            for n in names
        ],
        "buy_tax": {s: c.buy_tax for s, c in costs.items()},
        "sell_tax": {s: c.sell_tax for s, c in costs.items()},
        "slippage": {s: c.slippage for s, c in costs.items()},
        "borrow_rate": {s: c.borrow_rate for s, c in costs.items()},
    }


def benchmark_value(config: RunConfig, prices: Market, index: pd.DatetimeIndex) -> pd.Series:
    """Value of the benchmark basket, rebalanced daily to its weights, from ``init_cash``.

    Returns are in the base currency and carried over gaps; the curve starts at the
    first bar of `index` with ``init_cash``.
    """
    bench = config.benchmark
    assert bench is not None
    weights = bench.weights or dict.fromkeys(bench.symbols, 1.0 / len(bench.symbols))
    close = base_close(prices)
    returns = close.reindex(index, method="ffill").pct_change(fill_method=None).fillna(0.0)
    basket = returns[list(weights)].mul(pd.Series(weights)).sum(axis=1)
    basket.iloc[0] = 0.0
    value = config.portfolio.init_cash * (1.0 + basket).cumprod()
    return value.rename("benchmark")


def run(config: RunConfig, offline: bool = False) -> BacktestResult:
    """Run the backtest `config` describes and return its result with metrics."""
    market, bench_prices = _load(config, offline, None)
    weights = target_weights(config, market)
    p = config.portfolio
    simulation = simulate(
        market.close,
        weights.shift(p.lag),
        exec_price=market.open if p.execution == "open" else None,
        fx=market.fx,
        currency=market.currency,
        lot_size=market.lot_size if p.lots else None,
        base_currency=market.base_currency,
        init_cash=p.init_cash,
        fx_cost=p.fx_cost,
        cash_rate=p.cash_rate,
        max_leverage=p.max_leverage,
        **_cost_arguments(config, market),
    )
    rf = config.report.risk_free
    metrics = m.performance(simulation.value, p.init_cash, rf) | m.trading(simulation)
    bench = bench_metrics = None
    if bench_prices is not None:
        bench = benchmark_value(config, bench_prices, market.index)
        bench_metrics = m.performance(bench, p.init_cash, rf)
        metrics |= m.relative(
            simulation.returns.to_numpy(),
            m.returns_from_value(bench.to_numpy(), p.init_cash),
            metrics["periods_per_year"],
            rf,
        )
    return BacktestResult(config, market, weights, simulation, metrics, bench, bench_metrics)
