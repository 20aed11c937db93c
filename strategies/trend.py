"""Trend following per asset: moving-average crossover or time-series momentum."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
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

    @classmethod
    def history(cls, params: StrategyParams) -> int:
        """The slow average's window, or the past return's lookback and its base bar."""
        assert isinstance(params, TrendParams)
        return params.slow if params.signal == "ma_cross" else params.lookback + 1

    def target_weights(self, market: Market) -> pd.DataFrame:
        """Return per-asset trend weights at every bar with a signal."""
        weights = self.target_weights_many(market, [self.params])[0]
        return pd.DataFrame(weights, index=market.index, columns=market.close.columns)

    @classmethod
    def target_weights_many(
        cls, market: Market, params: Sequence[StrategyParams]
    ) -> npt.NDArray[np.float64]:
        """Weights of many parameter sets; each average or past return is computed once."""
        n_bars, symbols = len(market.index), market.symbols
        out = np.full((len(params), n_bars, len(symbols)), np.nan)
        for j, symbol in enumerate(symbols):
            close = market.close[symbol].dropna()
            # bar of the market index for each of the asset's own trading bars
            where = market.index.get_indexer(close.index)
            features = _Features(close)
            gaps = len(where) < n_bars
            signals: dict[tuple[object, ...], npt.NDArray[np.float64]] = {}
            for k, p in enumerate(params):
                assert isinstance(p, TrendParams)
                window = (p.fast, p.slow) if p.signal == "ma_cross" else (p.lookback,)
                key = (p.signal, *window, p.short)
                if key not in signals:
                    signals[key] = _signal(features, p, where, n_bars, gaps)
                out[k, :, j] = signals[key] * (p.gross / len(symbols))
        return out


def _signal(
    features: _Features, p: TrendParams, where: npt.NDArray[np.int64], n_bars: int, gaps: bool
) -> npt.NDArray[np.float64]:
    """+1 in an uptrend, 0 or -1 otherwise, NaN before the signal exists, on the index."""
    if p.signal == "ma_cross":
        fast, slow = features.mean(p.fast), features.mean(p.slow)
        up, known = fast > slow, ~np.isnan(slow)
    else:
        past = features.past_return(p.lookback)
        up, known = past > 0.0, ~np.isnan(past)
    state = np.where(up, 1.0, -1.0 if p.short else 0.0)
    signal = np.full(n_bars, np.nan)
    signal[where] = np.where(known, state, np.nan)
    # carry the signal over the asset's non-trading bars
    return _ffill(signal) if gaps else signal


class _Features:
    """Moving averages and past returns of one close series, each computed once."""

    def __init__(self, close: pd.Series) -> None:
        self.close = close
        self._cache: dict[tuple[str, int], npt.NDArray[np.float64]] = {}

    def mean(self, window: int) -> npt.NDArray[np.float64]:
        key = ("mean", window)
        if key not in self._cache:
            rolling = self.close.rolling(window, min_periods=window).mean()
            self._cache[key] = rolling.to_numpy(dtype=np.float64)
        return self._cache[key]

    def past_return(self, lookback: int) -> npt.NDArray[np.float64]:
        key = ("past", lookback)
        if key not in self._cache:
            past = self.close / self.close.shift(lookback) - 1.0
            self._cache[key] = past.to_numpy(dtype=np.float64)
        return self._cache[key]


def _ffill(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Carry the last non-NaN value forward (NaN before the first)."""
    valid = ~np.isnan(values)
    last = np.where(valid, np.arange(len(values)), -1)
    np.maximum.accumulate(last, out=last)
    return np.where(last >= 0, values[np.maximum(last, 0)], np.nan)
