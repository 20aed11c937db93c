"""Inverse-volatility weights: each asset contributes about the same risk (risk parity lite)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import Field

from engine.data import Market
from engine.strategy import Strategy, StrategyParams, daily_returns


class InverseVolatilityParams(StrategyParams):
    """Parameters of `inverse_volatility`."""

    lookback: Annotated[int, Field(ge=2, le=2520, description="bars of returns")] = 63
    gross: Annotated[float, Field(gt=0.0, le=10.0, description="sum of weights")] = 1.0


class InverseVolatility(Strategy[InverseVolatilityParams]):
    """Weight each asset by 1 / (its volatility over `lookback` bars), scaled to `gross`.

    Volatility is the standard deviation of base-currency daily returns; an asset needs
    `lookback` returns before it gets a weight, and one with zero volatility (no price
    moves) gets none. Rebalanced monthly by default.
    """

    name = "inverse_volatility"
    params_model = InverseVolatilityParams
    rebalance = "monthly"

    @classmethod
    def history(cls, params: StrategyParams) -> int:
        """`lookback` returns need one price more."""
        assert isinstance(params, InverseVolatilityParams)
        return params.lookback + 1

    def target_weights(self, market: Market) -> pd.DataFrame:
        """Return inverse-volatility weights at every bar with enough history."""
        lookback = self.params.lookback
        vol = daily_returns(market).rolling(lookback, min_periods=lookback).std()
        inverse = (1.0 / vol).replace(np.inf, np.nan)
        total = inverse.sum(axis=1, min_count=1)
        return inverse.div(total, axis=0).mul(self.params.gross)
