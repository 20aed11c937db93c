"""The YAML run configuration: pydantic models, and a loader with precise errors."""

from engine.config.base import Loc, Money, Rate, Schedule, merge
from engine.config.costs import COST_PRESETS, AssetCosts, ChargeConfig, CostConfig, FeeConfig
from engine.config.loader import load_config, parse_config, validate_strategy_params
from engine.config.schema import (
    AssetMetadataConfig,
    BenchmarkConfig,
    CheckConfig,
    ColumnsConfig,
    DataConfig,
    LinearRange,
    LogRange,
    PortfolioConfig,
    ReportConfig,
    RunConfig,
    SeriesFileConfig,
    StrategyConfig,
    SweepConfig,
    Tolerance,
    WalkForwardConfig,
)

__all__ = [
    "COST_PRESETS",
    "AssetCosts",
    "AssetMetadataConfig",
    "BenchmarkConfig",
    "ChargeConfig",
    "CheckConfig",
    "ColumnsConfig",
    "CostConfig",
    "DataConfig",
    "FeeConfig",
    "LinearRange",
    "Loc",
    "LogRange",
    "Money",
    "PortfolioConfig",
    "Rate",
    "ReportConfig",
    "RunConfig",
    "Schedule",
    "SeriesFileConfig",
    "StrategyConfig",
    "SweepConfig",
    "Tolerance",
    "WalkForwardConfig",
    "load_config",
    "merge",
    "parse_config",
    "validate_strategy_params",
]
