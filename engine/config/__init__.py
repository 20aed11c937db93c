"""The YAML run configuration: pydantic models, and a loader with precise errors.

One concern per module; import from the package, whose `__all__` is the public API:

- `engine.config.schema`: a model per config section, and `RunConfig` over them;
- `engine.config.costs`: the cost models, `COST_PRESETS` and how one asset's costs
  are resolved from them;
- `engine.config.dated`: settings that change over time: dated schedules (``{date:
  value}``) and rate series (`RateSeriesConfig`, a file column or an extra series);
- `engine.config.loader`: YAML files, ``extends``, ``--set`` overrides and errors that
  name the file, line and YAML path (`load_config`, `parse_config`, `describe_errors`);
- `engine.config.reader`: the YAML dialect of config files: no anchors or aliases,
  bounded nesting, no key written twice, ``1e-4`` a number;
- `engine.config.base`: what those share: the base model, which forbids unknown keys
  and freezes values, the types `Rate`, `Money`, `Schedule` and `Loc`, `merge`, and
  `Origin`, where a setting was written (its file's folder is where a relative path
  in it starts: `RunConfig.resolve_path`).

Strategy parameters are checked in a second step against the chosen strategy's own
model (`engine.pipeline.strategy_params`); the config never imports strategies.
"""

from engine.config.base import Loc, Money, Origin, Rate, Schedule, is_dated, merge
from engine.config.costs import COST_PRESETS, AssetCosts, ChargeConfig, CostConfig, FeeConfig
from engine.config.dated import (
    RATE_BOUNDS,
    Dated,
    RateSeriesConfig,
    describe,
    in_window,
    value_on,
)
from engine.config.loader import (
    describe_errors,
    load_config,
    override_config,
    parse_config,
    update_config,
)
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
    SweepCheckConfig,
    SweepConfig,
    Tolerance,
    WalkForwardConfig,
)

__all__ = [
    "COST_PRESETS",
    "RATE_BOUNDS",
    "AssetCosts",
    "AssetMetadataConfig",
    "BenchmarkConfig",
    "ChargeConfig",
    "CheckConfig",
    "ColumnsConfig",
    "CostConfig",
    "DataConfig",
    "Dated",
    "FeeConfig",
    "LinearRange",
    "Loc",
    "LogRange",
    "Money",
    "Origin",
    "PortfolioConfig",
    "Rate",
    "RateSeriesConfig",
    "ReportConfig",
    "RunConfig",
    "Schedule",
    "SeriesFileConfig",
    "StrategyConfig",
    "SweepCheckConfig",
    "SweepConfig",
    "Tolerance",
    "WalkForwardConfig",
    "describe",
    "describe_errors",
    "in_window",
    "is_dated",
    "load_config",
    "merge",
    "override_config",
    "parse_config",
    "update_config",
    "value_on",
]
