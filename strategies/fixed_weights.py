"""Fixed, user-given weights (e.g. 60/40, or long a basket and short a hedge)."""

from __future__ import annotations

import pandas as pd
from pydantic import Field

from engine.data import Market
from engine.errors import StrategyError
from engine.strategy import Strategy, StrategyParams, listed


class FixedWeightsParams(StrategyParams):
    """Parameters of `fixed_weights`."""

    weights: dict[str, float] = Field(
        default_factory=dict,
        description="symbol -> weight, negative for short; empty: equal weights",
    )


def fixed_row(market: Market, given: dict[str, float], where: str) -> pd.Series:
    """Return `given` as a full row over the market's symbols (0 for those not named)."""
    unknown = sorted(set(given) - set(market.symbols))
    if unknown:
        raise StrategyError(
            f"names {unknown}, which are not in data.symbols {market.symbols}",
            loc=tuple(where.split(".")),
        )
    return pd.Series(0.0, index=market.close.columns).add(pd.Series(given), fill_value=0.0)[
        market.close.columns
    ]


class FixedWeights(Strategy[FixedWeightsParams]):
    """Hold each listed symbol at its given weight, rebalanced monthly by default.

    Symbols not named hold nothing (weight 0). With no weights given, every asset gets
    an equal share. A symbol counts from its first price on; before that it gets no
    instruction.
    """

    name = "fixed_weights"
    params_model = FixedWeightsParams
    rebalance = "monthly"

    def target_weights(self, market: Market) -> pd.DataFrame:
        """Return the fixed weights at every bar for assets already listed."""
        given = self.params.weights or dict.fromkeys(market.symbols, 1.0 / len(market.symbols))
        row = fixed_row(market, given, "strategy.params.weights")
        on = listed(market)
        return on.mul(row, axis=1).where(on)
