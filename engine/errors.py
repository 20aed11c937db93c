"""Exceptions raised by eastwind for problems a user can fix.

::

    BacktestError              base class; the CLI prints it on one line and exits 2
    ├── ConfigError            a YAML file or setting: names the file and the YAML path
    ├── DataError              market data: names the symbol and the date
    ├── StrategyError          a strategy or one of its parameters
    ├── SimulationError        the simulation: names the bar date and the asset
    └── OutputError            an output folder or file that cannot be written

    DataWarning                a UserWarning: data that loads but may mislead (a series
                               that stops early, dates on no bar); the CLI prints one line
    BankruptcyWarning          a UserWarning: a simulated portfolio's value fell to zero
                               or below; the CLI prints one line

Any other exception escaping eastwind is a bug and keeps its traceback.
"""

from __future__ import annotations

Loc = tuple[str | int, ...]


class BacktestError(Exception):
    """A problem with the user's input that the user can fix.

    ``loc`` is the YAML path of the setting at fault when the raiser knows it (e.g.
    ``("strategy", "params", "long")``); the caller that knows the file turns it into
    ``file:line: strategy.params.long`` (`RunConfig.where`). ``message`` is the text
    without the location; ``str(error)`` shows both.
    """

    def __init__(self, message: str, *, loc: Loc | None = None) -> None:
        self.message = message
        self.loc = loc
        where = ".".join(str(part) for part in loc) if loc else ""
        super().__init__(f"{where}: {message}" if where else message)

    def __reduce__(self) -> tuple[object, ...]:
        # keep the location when the error crosses processes (Dask workers)
        return (_rebuild, (type(self), self.message, self.loc))


def _rebuild(cls: type[BacktestError], message: str, loc: Loc | None) -> BacktestError:
    return cls(message, loc=loc)


class ConfigError(BacktestError):
    """Invalid configuration file or setting."""


class DataError(BacktestError):
    """Invalid or missing market data."""


class StrategyError(BacktestError):
    """A strategy failed or was given invalid parameters."""


class SimulationError(BacktestError):
    """Invalid simulation input, or a portfolio that cannot be simulated."""


class OutputError(BacktestError):
    """An output folder or file that cannot be written (a file in the way, no permission)."""


class DataWarning(UserWarning):
    """Market data that loads but may not mean what the config expects (e.g. a short series)."""


class BankruptcyWarning(UserWarning):
    """A simulated portfolio's value fell to zero or below: its positions were closed."""
