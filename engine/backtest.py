"""Run a configured backtest: market -> strategy weights -> lag -> simulation -> metrics.

This is the orchestration layer: it imports config, data, strategies and the simulator,
and holds no YAML parsing or printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from engine.config import DataConfig, RunConfig, validate_strategy_params
from engine.data import (
    Columns,
    FileSpec,
    Market,
    SeriesFile,
    YahooCache,
    load_files_market,
    load_yahoo_market,
    synthetic_market,
)
from engine.errors import BacktestError, StrategyError
from engine.metrics import summary_metrics
from engine.results import SimulationResult
from engine.simulation import simulate
from strategies import REGISTRY


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """A finished backtest: its config, market, target weights, simulation and metrics."""

    config: RunConfig
    market: Market
    weights: pd.DataFrame
    simulation: SimulationResult
    metrics: dict[str, float]

    @property
    def value(self) -> pd.Series:
        """Portfolio value at the end of each bar, in the base currency."""
        return self.simulation.value


def load_market(
    config: RunConfig | DataConfig, offline: bool = False, base_dir: Path | None = None
) -> Market:
    """Build the market a config's ``data`` section describes.

    Relative file paths are taken from `base_dir`, else from the folder of the config
    file, else from the working directory. With `offline`, the yahoo source reads its
    cache only.
    """
    data = config.data if isinstance(config, RunConfig) else config
    if base_dir is None and isinstance(config, RunConfig) and config.path:
        base_dir = config.path.parent
    start, end = pd.Timestamp(data.start), pd.Timestamp(data.end)
    if data.source == "synthetic":
        return synthetic_market(
            data.symbols,
            start,
            end,
            seed=data.seed,
            base_currency=data.base_currency,
            flow_link=data.flow_link,
        )
    here = base_dir or Path.cwd()
    metadata = {s: m.model_dump(exclude_none=True) for s, m in data.metadata.items()}
    if data.source == "yahoo":
        cache = YahooCache(here / data.cache if data.cache else None)
        return load_yahoo_market(
            data.symbols,
            start=start,
            end=end,
            base_currency=data.base_currency,
            cache=cache,
            metadata=metadata,
            offline=offline,
        )
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
        spec,
        data.symbols,
        start=start,
        end=end,
        base_currency=data.base_currency,
        metadata=metadata,
    )


def target_weights(config: RunConfig, market: Market) -> pd.DataFrame:
    """Return the configured strategy's target weights, before the execution lag."""
    params = validate_strategy_params(
        config, {name: cls.params_model for name, cls in REGISTRY.items()}
    )
    strategy = REGISTRY[config.strategy.name](params)
    try:
        weights = strategy.target_weights(market)
    except BacktestError:
        raise
    except Exception as exc:
        raise StrategyError(f"strategy {config.strategy.name!r} failed: {exc}") from exc
    if not (weights.index.equals(market.index) and weights.columns.equals(market.close.columns)):
        raise StrategyError(
            f"strategy {config.strategy.name!r} returned weights that are not shaped like "
            "market.close"
        )
    return weights


def run(config: RunConfig) -> BacktestResult:
    """Run the backtest `config` describes and return its result with metrics."""
    market = load_market(config)
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
        fees=p.fees,
        fixed_fees=p.fixed_fees,
        min_fees=p.min_fees,
        buy_tax=p.buy_tax,
        sell_tax=p.sell_tax,
        slippage=p.slippage,
        fx_cost=p.fx_cost,
        borrow_rate=p.borrow_rate,
        cash_rate=p.cash_rate,
        max_leverage=p.max_leverage,
    )
    metrics = summary_metrics(simulation.value, p.init_cash)
    return BacktestResult(config, market, weights, simulation, metrics)
