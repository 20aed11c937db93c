"""The strategy API: parameter models, the `Strategy` base class and schedule helpers.

A strategy turns a `Market` into target weights shaped like ``market.close``. Row t may
use data up to and including bar t only; NaN means "no instruction", a row of NaN means
"do not rebalance". The backtest layer applies the execution lag.
"""

from __future__ import annotations

from typing import ClassVar, Generic, Literal, TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict

from engine.data import Market

Schedule = Literal["daily", "weekly", "monthly", "quarterly"]
_PERIOD = {"weekly": "W", "monthly": "M", "quarterly": "Q"}


class StrategyParams(BaseModel):
    """Base of every strategy's parameter model: unknown keys are errors, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=StrategyParams)


class Strategy(Generic[P]):
    """A named, parameterised rule from market data to target weights."""

    name: ClassVar[str]
    params_model: ClassVar[type[StrategyParams]]

    def __init__(self, params: P) -> None:
        self.params = params

    def target_weights(self, market: Market) -> pd.DataFrame:
        """Return target weights ``[T, N]`` using data up to each bar only."""
        raise NotImplementedError


def schedule_rebalance(weights: pd.DataFrame, schedule: Schedule) -> pd.DataFrame:
    """Keep the rows of `weights` on the first bar of each period; NaN elsewhere.

    The first bar of a new week, month or quarter is known at that bar (its date
    differs from the previous bar's period), so the schedule never looks ahead; the
    first bar of the data always rebalances.
    """
    if schedule == "daily":
        return weights
    periods = pd.Series(weights.index.to_period(_PERIOD[schedule]), index=weights.index)
    first = periods.ne(periods.shift(1))
    return weights.where(first, axis=0)
