"""Long a basket, short a hedge: dollar- or beta-neutral, with optional volatility targeting."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from engine.data import Market
from engine.errors import StrategyError
from engine.strategy import (
    Strategy,
    StrategyParams,
    annual_bars,
    daily_returns,
    listed,
    resolve_symbols,
)

Names = str | list[str]


class LongShortParams(StrategyParams):
    """Parameters of `long_short`."""

    long: Names = Field(description="group name or symbols of the long basket")
    short: Names = Field(description="group name or symbols of the hedge basket")
    long_gross: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0
    hedge: Literal["dollar", "beta"] = "dollar"
    hedge_ratio: Annotated[float, Field(ge=0.0, le=5.0, description="times the hedge")] = 1.0
    beta_lookback: Annotated[int, Field(ge=10, le=2520, description="bars")] = 126
    beta_horizon: Annotated[
        int, Field(ge=1, le=20, description="bars per return in the beta regression")
    ] = 5
    vol_target: Annotated[float, Field(gt=0.0, le=2.0)] | None = Field(
        default=None, description="annual volatility to scale the book to; null: no scaling"
    )
    vol_lookback: Annotated[int, Field(ge=5, le=2520)] = 63
    max_gross: Annotated[float, Field(gt=0.0, le=20.0, description="cap on |long|+|short|")] = 3.0


class LongShort(Strategy[LongShortParams]):
    """Hold `long_gross` in the long basket and a hedge against it in the short basket.

    Each basket is equally weighted over its listed assets. ``dollar``: the hedge is
    ``hedge_ratio * long_gross``. ``beta``: it is that times the rolling beta of the long
    basket's returns on the hedge basket's, over `beta_lookback` bars of overlapping
    `beta_horizon`-bar returns (multi-day returns absorb the time-zone lag between Hong
    Kong and New York closes); the beta is floored at 0. With `vol_target`, both legs
    are scaled so the book's realised volatility over `vol_lookback` bars matches the
    target, and gross is capped at `max_gross`. Returns are in the base currency. Bars
    before the beta or volatility estimate exists get no instruction. Rebalanced
    monthly by default.
    """

    name = "long_short"
    params_model = LongShortParams
    rebalance = "monthly"

    @classmethod
    def history(cls, params: StrategyParams) -> int:
        """Returns and the weights' one-bar shift, then the beta and volatility windows."""
        assert isinstance(params, LongShortParams)
        bars = 2
        if params.hedge == "beta":
            bars += params.beta_horizon + params.beta_lookback
        if params.vol_target is not None:
            bars += params.vol_lookback + 1
        return bars

    def target_weights(self, market: Market) -> pd.DataFrame:
        """Return the long and hedge weights at every bar where they are defined."""
        p = self.params
        longs = resolve_symbols(market, p.long, "strategy.params.long")
        shorts = resolve_symbols(market, p.short, "strategy.params.short")
        overlap = sorted(set(longs) & set(shorts))
        if overlap:
            raise StrategyError(
                f"{overlap} are in both the long and the short basket",
                loc=("strategy", "params"),
            )
        on = listed(market)
        long_w = on[longs].div(on[longs].sum(axis=1), axis=0)
        short_w = on[shorts].div(on[shorts].sum(axis=1), axis=0)
        returns = daily_returns(market)  # NaN before listing, 0 over a gap
        long_r = (returns[longs] * long_w.shift(1)).sum(axis=1, min_count=1)
        short_r = (returns[shorts] * short_w.shift(1)).sum(axis=1, min_count=1)

        hedge = pd.Series(p.hedge_ratio, index=market.index)
        if p.hedge == "beta":
            h = p.beta_horizon
            long_h = np.log1p(long_r).rolling(h).sum()
            short_h = np.log1p(short_r).rolling(h).sum()
            n = p.beta_lookback
            beta = (
                long_h.rolling(n, min_periods=n).cov(short_h)
                / short_h.rolling(n, min_periods=n).var()
            )
            hedge = p.hedge_ratio * beta.clip(lower=0.0)
        scale = pd.Series(p.long_gross, index=market.index)
        if p.vol_target is not None:
            book = p.long_gross * (long_r - hedge.shift(1) * short_r)
            n = p.vol_lookback
            vol = book.rolling(n, min_periods=n).std() * np.sqrt(annual_bars(market, n))
            scale = p.long_gross * p.vol_target / vol.replace(0.0, np.nan)
        scale = np.minimum(scale, p.max_gross / (1.0 + hedge))  # NaN stays NaN
        weights = pd.concat(
            [long_w.mul(scale, axis=0), -short_w.mul(scale * hedge, axis=0)], axis=1
        )
        others = [s for s in market.symbols if s not in weights.columns]
        weights = weights.reindex(columns=market.symbols)
        weights[others] = 0.0
        defined = scale.notna() & hedge.notna()
        return weights.where(defined, axis=0).where(on)
