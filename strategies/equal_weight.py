"""Equal weight across the assets that trade."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from pydantic import Field

from engine.data import Market
from engine.strategy import Strategy, StrategyParams, listed


class EqualWeightParams(StrategyParams):
    """Parameters of `equal_weight`."""

    gross: Annotated[float, Field(gt=0.0, le=10.0, description="sum of weights")] = 1.0


class EqualWeight(Strategy[EqualWeightParams]):
    """Hold every listed asset in equal parts of `gross`, rebalanced monthly by default.

    An asset counts from its first price on; before that it gets no instruction. A listed
    asset that does not trade on a rebalance bar (a holiday) still gets its weight: its
    order waits for its next trading bar.
    """

    name = "equal_weight"
    params_model = EqualWeightParams
    rebalance = "monthly"

    def target_weights(self, market: Market) -> pd.DataFrame:
        """Return equal weights over the priced assets at every bar."""
        on = listed(market)
        count = on.sum(axis=1).replace(0, float("nan"))
        return on.div(count, axis=0).mul(self.params.gross).where(on)
