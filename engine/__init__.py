"""eastwind: config-driven portfolio backtesting with a numba simulation kernel.

The public API::

    engine.simulate(close, weights, ...)   # arrays/frames in, SimulationResult out
    engine.load_config(path)               # YAML file -> validated RunConfig
    engine.run(config, set=[...])          # RunConfig or YAML path -> BacktestResult
    engine.capacity(config, [1, 10, 100])  # the run at multiples of its initial cash
    engine.load_market(config.data)        # the data section -> Market

The names are imported on first use (PEP 562), so ``import engine`` and commands that
do not simulate, such as ``eastwind validate``, do not import numba.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from engine.errors import (
    BacktestError,
    BankruptcyWarning,
    ConfigError,
    DataError,
    SimulationError,
    StrategyError,
)

if TYPE_CHECKING:
    from engine.backtest import BacktestResult, run
    from engine.capacity import CapacityResult, capacity
    from engine.config import RunConfig, load_config
    from engine.data import Market
    from engine.pipeline import load_market
    from engine.results import BatchResult, SimulationResult
    from engine.simulation import Charge, simulate

__version__ = "0.1.0"

# public name -> the module that defines it, imported when the name is first used
_LAZY = {
    "BacktestResult": "engine.backtest",
    "CapacityResult": "engine.capacity",
    "capacity": "engine.capacity",
    "load_market": "engine.pipeline",  # the same function, without importing numba
    "run": "engine.backtest",
    "RunConfig": "engine.config",
    "load_config": "engine.config",
    "Market": "engine.data",
    "BatchResult": "engine.results",
    "SimulationResult": "engine.results",
    "Charge": "engine.simulation",
    "simulate": "engine.simulation",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "BacktestError",
    "BacktestResult",
    "BankruptcyWarning",
    "BatchResult",
    "CapacityResult",
    "Charge",
    "ConfigError",
    "DataError",
    "Market",
    "RunConfig",
    "SimulationError",
    "SimulationResult",
    "StrategyError",
    "__version__",
    "capacity",
    "load_config",
    "load_market",
    "run",
    "simulate",
]
