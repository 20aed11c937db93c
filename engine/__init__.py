"""eastwind: config-driven portfolio backtesting with a numba simulation kernel.

The public API::

    engine.simulate(close, weights, ...)   # arrays/frames in, SimulationResult out
    engine.load_config(path)               # YAML file -> validated RunConfig
    engine.run(config)                     # RunConfig -> BacktestResult (value, metrics, ...)
    engine.load_market(config.data)        # the data section -> Market
"""

from engine.backtest import BacktestResult, load_market, run
from engine.config import RunConfig, load_config
from engine.data import Market
from engine.errors import (
    BacktestError,
    ConfigError,
    DataError,
    SimulationError,
    StrategyError,
)
from engine.results import BatchResult, SimulationResult
from engine.simulation import Charge, simulate

__version__ = "0.1.0"

__all__ = [
    "BacktestError",
    "BacktestResult",
    "BatchResult",
    "Charge",
    "ConfigError",
    "DataError",
    "Market",
    "RunConfig",
    "SimulationError",
    "SimulationResult",
    "StrategyError",
    "__version__",
    "load_config",
    "load_market",
    "run",
    "simulate",
]
