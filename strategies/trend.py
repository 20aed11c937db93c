"""Trend following per asset: moving-average crossover or time-series momentum."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from engine.data import Market
from engine.strategy import Strategy, StrategyParams

Window = Annotated[int, Field(ge=1, le=2520)]


class TrendParams(StrategyParams):
    """Parameters of `trend`."""

    signal: Literal["ma_cross", "tsmom"] = "ma_cross"
    fast: Window = 50
    slow: Window = 200
    lookback: Window = Field(default=252, description="tsmom: bars of the past return")
    short: bool = Field(default=False, description="short in a downtrend instead of cash")
    gross: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0

    @model_validator(mode="after")
    def _windows(self) -> TrendParams:
        if self.signal == "ma_cross" and self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self


class Trend(Strategy[TrendParams]):
    """Hold ``gross / N`` of each asset in an uptrend; nothing (or short) otherwise.

    ``ma_cross``: uptrend while the `fast` simple moving average of the close is above
    the `slow` one. ``tsmom``: uptrend while the return over the last `lookback` bars is
    positive. Averages run over the asset's own trading bars, in its own currency. An
    asset gets no instruction until its signal has enough history. Rebalanced when a
    signal changes by default.
    """

    name = "trend"
    params_model = TrendParams
    rebalance = "on_change"

    def target_weights(self, market: Market) -> pd.DataFrame:
        """Return per-asset trend weights at every bar with a signal."""
        p = self.params
        signals = {}
        for symbol in market.symbols:
            close = market.close[symbol].dropna()
            if p.signal == "ma_cross":
                fast = close.rolling(p.fast, min_periods=p.fast).mean()
                slow = close.rolling(p.slow, min_periods=p.slow).mean()
                up, known = fast > slow, slow.notna()
            else:
                past = close / close.shift(p.lookback) - 1.0
                up, known = past > 0.0, past.notna()
            state = np.where(up, 1.0, -1.0 if p.short else 0.0)
            signals[symbol] = pd.Series(state, index=close.index).where(known)
        # carry each asset's signal over its non-trading bars
        signal = pd.DataFrame(signals).reindex(market.index).ffill()
        return signal[market.symbols] * (p.gross / len(market.symbols))
