"""Exceptions raised by eastwind for problems a user can fix.

::

    BacktestError              base class; the CLI prints it on one line and exits 2
    ├── ConfigError            a YAML file or setting: names the file and the YAML path
    ├── DataError              market data: names the symbol and the date
    ├── StrategyError          a strategy or one of its parameters
    └── SimulationError        the simulation: names the bar date and the asset

Any other exception escaping eastwind is a bug and keeps its traceback.
"""

from __future__ import annotations


class BacktestError(Exception):
    """A problem with the user's input that the user can fix."""


class ConfigError(BacktestError):
    """Invalid configuration file or setting."""


class DataError(BacktestError):
    """Invalid or missing market data."""


class StrategyError(BacktestError):
    """A strategy failed or was given invalid parameters."""


class SimulationError(BacktestError):
    """Invalid simulation input, or a portfolio that cannot be simulated."""
