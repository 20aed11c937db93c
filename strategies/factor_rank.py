"""Rank assets on any per-asset series the data provides (flows, valuations, ...)."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from engine.data import Market
from engine.errors import StrategyError
from engine.strategy import Count, Strategy, StrategyParams, rank_weights


class FactorRankParams(StrategyParams):
    """Parameters of `factor_rank`."""

    factor: str = Field(description="name of a per-asset extra series of the data")
    direction: Literal["high", "low"] = Field(
        default="high", description="high: larger values are better"
    )
    lookback: Annotated[int, Field(ge=1, le=2520, description="bars to average over")] = 1
    normalize_by: str | None = Field(
        default=None, description="another extra series to divide by (e.g. traded_value)"
    )
    top: Count = 0.2
    bottom: Count = 0.0
    weighting: Literal["equal", "score"] = "equal"
    gross: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0


def per_asset_extra(market: Market, name: str, where: str) -> pd.DataFrame:
    """Return the extra series `name` as a ``[T, N]`` frame over the market's symbols."""
    if name not in market.extras:
        raise StrategyError(
            f"the data has no series {name!r}; it has {sorted(market.extras)} "
            "(add one under data.extras)",
            loc=tuple(where.split(".")),
        )
    series = market.extras[name]
    if not isinstance(series, pd.DataFrame):
        raise StrategyError(
            f"{name!r} is one market-wide series; ranking needs one column per asset",
            loc=tuple(where.split(".")),
        )
    return series.reindex(columns=market.symbols).astype(float)


def smoothed_factor(
    market: Market, factor: str, lookback: int, normalize_by: str | None
) -> pd.DataFrame:
    """Average of `factor` over `lookback` bars, optionally over the average of another.

    An average needs at least half of the window's bars to be known, so a suspension
    or a missing day does not make a score unreliable or undefined.
    """
    need = max(1, lookback // 2)
    score = per_asset_extra(market, factor, "strategy.params.factor")
    score = score.rolling(lookback, min_periods=need).mean()
    if normalize_by is not None:
        base = per_asset_extra(market, normalize_by, "strategy.params.normalize_by")
        score = score / base.rolling(lookback, min_periods=need).mean().where(lambda b: b > 0)
    return score.replace([np.inf, -np.inf], np.nan)


class FactorRank(Strategy[FactorRankParams]):
    """Long the `top` assets by a smoothed factor, short the `bottom` ones.

    The score at bar t is the mean of the factor over the last `lookback` bars (divided
    by the mean of `normalize_by` when given); ``direction: low`` ranks smaller values
    first. `top` and `bottom` are counts, or fractions of the assets with a score; each
    side is weighted equally or by the size of its score. Rebalanced monthly by default.
    """

    name = "factor_rank"
    params_model = FactorRankParams
    rebalance = "monthly"

    @classmethod
    def history(cls, params: StrategyParams) -> int:
        """The averaging window."""
        assert isinstance(params, FactorRankParams)
        return params.lookback

    def target_weights(self, market: Market) -> pd.DataFrame:
        """Return rank weights at every bar where some asset has a score."""
        p = self.params
        score = smoothed_factor(market, p.factor, p.lookback, p.normalize_by)
        if p.direction == "low":
            score = -score
        return rank_weights(score, top=p.top, bottom=p.bottom, weighting=p.weighting, gross=p.gross)
