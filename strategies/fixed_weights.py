"""Fixed, user-given weights (e.g. 60/40, or long a basket and short a hedge)."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from pydantic import Field

from engine.data import Market
from engine.errors import StrategyError
from engine.strategy import Schedule, Strategy, StrategyParams, schedule_rebalance


class FixedWeightsParams(StrategyParams):
    """Parameters of `fixed_weights`."""

    weights: Annotated[
        dict[str, float], Field(description="symbol -> weight; negative for short")
    ] = Field(default_factory=dict)
    rebalance: Schedule = "monthly"


class FixedWeights(Strategy[FixedWeightsParams]):
    """Hold each listed symbol at its given weight, rebalanced on a schedule.

    Symbols not named hold nothing (weight 0). With no weights given, every asset gets
    an equal share, so the default is a sensible buy-and-hold. A symbol counts from its
    first price on; before that it gets no instruction.
    """

    name = "fixed_weights"
    params_model = FixedWeightsParams

    def target_weights(self, market: Market) -> pd.DataFrame:
        """Return the fixed weights on rebalance bars for assets already listed."""
        given = self.params.weights or dict.fromkeys(market.symbols, 1.0 / len(market.symbols))
        unknown = sorted(set(given) - set(market.symbols))
        if unknown:
            raise StrategyError(
                f"fixed_weights: strategy.params.weights names {unknown}, which are not in "
                f"data.symbols {market.symbols}"
            )
        row = pd.Series(0.0, index=market.close.columns).add(pd.Series(given), fill_value=0.0)
        listed = market.close.notna().cummax()
        weights = listed.mul(row[market.close.columns], axis=1).where(listed)
        return schedule_rebalance(weights, self.params.rebalance)
