"""Follow southbound Stock Connect flows: per stock, or market-wide as an exposure dial."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from engine.data import Market
from engine.errors import StrategyError
from engine.strategy import Count, Strategy, StrategyParams, listed, rank_weights
from strategies.factor_rank import smoothed_factor
from strategies.fixed_weights import fixed_row


class FlowFollowingParams(StrategyParams):
    """Parameters of `flow_following`."""

    mode: Literal["per_stock", "market_wide"] = "per_stock"
    flow: str = Field(default="southbound_net_buy", description="name of the flow series")
    lookback: Annotated[int, Field(ge=1, le=2520, description="bars of flows summed")] = 20
    # per_stock
    normalize: Literal["none", "traded_value"] = Field(
        default="none", description="per_stock: divide flows by the traded_value series"
    )
    top: Count = 0.3
    bottom: Count = 0.0
    weighting: Literal["equal", "score"] = "equal"
    gross: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0
    # market_wide
    basket: dict[str, float] = Field(
        default_factory=dict,
        description="market_wide: symbol -> weight at full exposure; empty: equal long",
    )
    z_window: Annotated[int, Field(ge=20, le=2520, description="bars of the z-score")] = 250
    enter: float = Field(default=0.5, description="market_wide: full exposure at z >= enter")
    exit: float = Field(default=-0.5, description="market_wide: low exposure at z <= exit")
    scaling: Literal["step", "linear"] = Field(
        default="step",
        description="step: switch at the thresholds, hold in between; linear: interpolate",
    )
    low_exposure: Annotated[float, Field(ge=-2.0, le=2.0)] = 0.0
    high_exposure: Annotated[float, Field(ge=-2.0, le=2.0)] = 1.0

    @model_validator(mode="after")
    def _thresholds(self) -> FlowFollowingParams:
        if self.exit >= self.enter:
            raise ValueError(f"exit ({self.exit}) must be below enter ({self.enter})")
        return self


def market_flow(market: Market, name: str) -> pd.Series:
    """Total daily flow: a market-wide series as is, or a per-asset frame summed.

    Days without a flow figure (Stock Connect closed, or an exchange holiday in a
    union calendar) count as zero flow once the series has started.
    """
    if name not in market.extras:
        raise StrategyError(
            f"the data has no series {name!r}; it has {sorted(market.extras)} "
            "(add one under data.extras)",
            loc=("strategy", "params", "flow"),
        )
    series = market.extras[name]
    total = series.sum(axis=1, min_count=1) if isinstance(series, pd.DataFrame) else series
    started = total.notna().cummax()
    return total.astype(float).fillna(0.0).where(started)


class FlowFollowing(Strategy[FlowFollowingParams]):
    """Trade on southbound net buying.

    ``per_stock``: rank the stocks with a flow series by their net buying summed over
    `lookback` bars (or divided by traded value with ``normalize: traded_value``) and
    hold the `top` (and short the `bottom`) — a preset of `factor_rank`.

    ``market_wide``: z-score the `lookback`-bar sum of total net buying against its own
    last `z_window` bars, and hold `basket` (e.g. long HK tech, short QQQ) scaled by an
    exposure between `low_exposure` and `high_exposure`: with ``step``, full once z
    reaches `enter` and low once it falls to `exit`, unchanged in between; with
    ``linear``, interpolated between the two thresholds. Rebalanced weekly by default.
    """

    name = "flow_following"
    params_model = FlowFollowingParams
    rebalance = "weekly"

    @classmethod
    def history(cls, params: StrategyParams) -> int:
        """The flow sum's window, and in ``market_wide`` the z-score's window after it."""
        assert isinstance(params, FlowFollowingParams)
        if params.mode == "market_wide":
            return params.lookback + params.z_window - 1
        return params.lookback

    def target_weights(self, market: Market) -> pd.DataFrame:
        """Return flow-driven weights at every bar where the flow signal is defined."""
        p = self.params
        if p.mode == "per_stock":
            normalize_by = "traded_value" if p.normalize == "traded_value" else None
            score = smoothed_factor(market, p.flow, p.lookback, normalize_by)
            return rank_weights(
                score, top=p.top, bottom=p.bottom, weighting=p.weighting, gross=p.gross
            )
        exposure = self.exposure(market)
        given = p.basket or dict.fromkeys(market.symbols, 1.0 / len(market.symbols))
        row = fixed_row(market, given, "strategy.params.basket")
        on = listed(market)
        return on.mul(row, axis=1).mul(exposure, axis=0).where(on)

    def exposure(self, market: Market) -> pd.Series:
        """Return the market-wide exposure in [low, high] at each bar (NaN while warming up)."""
        p = self.params
        flow = market_flow(market, p.flow).rolling(p.lookback, min_periods=p.lookback).sum()
        mean = flow.rolling(p.z_window, min_periods=p.z_window).mean()
        std = flow.rolling(p.z_window, min_periods=p.z_window).std()
        z = (flow - mean) / std.where(std > 0)
        low, high = p.low_exposure, p.high_exposure
        if p.scaling == "linear":
            position = ((z - p.exit) / (p.enter - p.exit)).clip(0.0, 1.0)
            return low + (high - low) * position
        switched = pd.Series(np.where(z >= p.enter, high, np.where(z <= p.exit, low, np.nan)))
        state = switched.set_axis(z.index).ffill().fillna(low)
        return state.where(z.notna())
