"""Buy once, then hold: no rebalancing ever."""

from __future__ import annotations

import pandas as pd
from pydantic import Field

from engine.data import Market
from engine.strategy import Strategy, StrategyParams, listed
from strategies.fixed_weights import fixed_row


class BuyAndHoldParams(StrategyParams):
    """Parameters of `buy_and_hold`."""

    weights: dict[str, float] = Field(
        default_factory=dict,
        description="symbol -> initial weight, negative for short; empty: equal weights",
    )


class BuyAndHold(Strategy[BuyAndHoldParams]):
    """Buy each asset at its weight on its first priced bar, then never trade it again.

    Assets listed at the start are bought on the first bar; a later listing is bought
    on its own first bar with its weight of the portfolio value then. Positions drift
    with prices.
    """

    name = "buy_and_hold"
    params_model = BuyAndHoldParams
    rebalance = "daily"

    def target_weights(self, market: Market) -> pd.DataFrame:
        """Return each asset's weight on its first priced bar and NaN everywhere else."""
        given = self.params.weights or dict.fromkeys(market.symbols, 1.0 / len(market.symbols))
        row = fixed_row(market, given, "strategy.params.weights")
        on = listed(market)
        first = on & ~on.shift(1, fill_value=False)
        return first.mul(row, axis=1).where(first)
