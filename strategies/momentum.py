"""Cross-sectional momentum: long the recent winners, optionally short the losers."""

from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd
from pydantic import Field, model_validator

from engine.data import Market
from engine.strategy import Count, Strategy, StrategyParams, base_close, rank_weights


class MomentumParams(StrategyParams):
    """Parameters of `momentum` (defaults: 12-1 month momentum, top fifth)."""

    lookback: Annotated[int, Field(ge=2, le=2520, description="bars of the return")] = 252
    skip: Annotated[int, Field(ge=0, le=252, description="most recent bars left out")] = 21
    top: Count = 0.2
    bottom: Count = 0.0
    weighting: Literal["equal", "score"] = "equal"
    gross: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0

    @model_validator(mode="after")
    def _window(self) -> MomentumParams:
        if self.skip >= self.lookback:
            raise ValueError(f"skip ({self.skip}) must be smaller than lookback ({self.lookback})")
        if self.top == 0:
            raise ValueError("top must be positive: the strategy needs a long side")
        return self


class Momentum(Strategy[MomentumParams]):
    """Rank assets by their base-currency return from bar t-lookback to t-skip.

    Long the `top` assets (a count, or a fraction of the assets with a score), short the
    `bottom` ones; each side gets `gross` (or half of it with shorts). Assets need
    `lookback` bars of history to be ranked. Rebalanced monthly by default.
    """

    name = "momentum"
    params_model = MomentumParams
    rebalance = "monthly"

    @classmethod
    def history(cls, params: StrategyParams) -> int:
        """The lookback's bars and the bar its return starts from."""
        assert isinstance(params, MomentumParams)
        return params.lookback + 1

    def target_weights(self, market: Market) -> pd.DataFrame:
        """Return momentum weights at every bar with at least one ranked asset."""
        p = self.params
        close = base_close(market)
        score = close.shift(p.skip) / close.shift(p.lookback) - 1.0
        return rank_weights(score, top=p.top, bottom=p.bottom, weighting=p.weighting, gross=p.gross)
