"""Trend following per asset: moving-average crossover or time-series momentum."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import Field, model_validator

from engine.data import Market
from engine.strategy import DecisionRule, Strategy, StrategyParams

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
        out = np.empty((len(params), len(market.index), len(market.symbols)))
        rule = cls.decision_rule(market, params)
        for k, p in enumerate(params):
            # a batch that mixes signals has no one rule: each set is its own
            one = rule if rule is not None else cls.decision_rule(market, [p])
            assert one is not None
            out[k] = decide(one, k if rule is not None else 0)
        return out

    @classmethod
    def decision_rule(cls, market: Market, params: Sequence[StrategyParams]) -> DecisionRule | None:
        """``cross`` of the fast and slow averages, or ``sign`` of the past return, with
        ``up = gross / N`` and ``down = -up`` (short) or 0; None for a batch mixing both
        signals."""
        if not all(isinstance(p, TrendParams) for p in params):
            return None
        signals = {p.signal for p in params}  # type: ignore[attr-defined]
        if len(signals) != 1:
            return None
        cache = _features(market)
        n_assets = len(market.symbols)
        windows: dict[tuple[str, int], int] = {}

        def feature(kind: str, window: int) -> int:
            return windows.setdefault((kind, window), len(windows))

        a, b, up, down = [], [], [], []
        for p in params:
            assert isinstance(p, TrendParams)
            if p.signal == "ma_cross":
                a.append(feature("mean", p.fast))
                b.append(feature("mean", p.slow))
            else:
                a.append(feature("past", p.lookback))
                b.append(0)
            size = p.gross / n_assets
            up.append(1.0 * size)
            down.append((-1.0 if p.short else 0.0) * size)
        features = np.stack([cache.get(kind, window) for kind, window in windows])
        return DecisionRule(
            rule="cross" if signals == {"ma_cross"} else "sign",
            features=features,
            a=np.array(a, dtype=np.int64),
            b=np.array(b, dtype=np.int64),
            up=np.array(up),
            down=np.array(down),
        )


def decide(rule: DecisionRule, k: int) -> npt.NDArray[np.float64]:
    """The weights ``[T, N]`` that set `k` of `rule` decides at every bar."""
    first = rule.features[rule.a[k]]
    if rule.rule == "cross":
        known = rule.features[rule.b[k]]
        up = first > known
    else:
        known = first
        up = first > 0.0
    return np.where(np.isnan(known), np.nan, np.where(up, rule.up[k], rule.down[k]))


class _Features:
    """Moving averages and past returns of each asset's own trading bars, on the market's
    index (carried over the bars an asset does not trade), each computed once."""

    def __init__(self, market: Market) -> None:
        self.shape = (len(market.index), len(market.symbols))
        self._cache: dict[tuple[str, int], npt.NDArray[np.float64]] = {}
        self._own = []  # per asset: its closes on its own trading bars, and their bars
        for symbol in market.symbols:
            close = market.close[symbol].dropna()
            self._own.append((close, market.index.get_indexer(close.index)))

    def get(self, kind: str, window: int) -> npt.NDArray[np.float64]:
        """``[T, N]`` feature `kind` ("mean" or "past") over `window` bars."""
        key = (kind, window)
        if key not in self._cache:
            out = np.full(self.shape, np.nan)
            for j, (close, where) in enumerate(self._own):
                if kind == "mean":
                    values = close.rolling(window, min_periods=window).mean()
                else:
                    values = close / close.shift(window) - 1.0
                out[where, j] = values.to_numpy(dtype=np.float64)
                if len(where) < self.shape[0]:
                    out[:, j] = _carry(out[:, j], where)
            self._cache[key] = out
        return self._cache[key]


_MARKETS: weakref.WeakKeyDictionary[Market, _Features] = weakref.WeakKeyDictionary()


def _features(market: Market) -> _Features:
    """The feature cache of `market`, kept while the market lives (a sweep's chunks
    share it)."""
    if market not in _MARKETS:
        _MARKETS[market] = _Features(market)
    return _MARKETS[market]


def _carry(
    values: npt.NDArray[np.float64], where: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Carry each own-bar value over the following bars the asset does not trade
    (NaN before its first bar)."""
    own = np.zeros(len(values), dtype=bool)
    own[where] = True
    last = np.where(own, np.arange(len(values)), -1)
    np.maximum.accumulate(last, out=last)
    return np.where(last >= 0, values[np.maximum(last, 0)], np.nan)
