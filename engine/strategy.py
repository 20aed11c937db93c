"""The strategy API: parameter models, the `Strategy` base class and shared helpers.

A strategy turns a `Market` into target weights shaped like ``market.close``: fractions
of portfolio value, negative for short. Row t may use data up to and including bar t
only; NaN means "no instruction for this asset", a row of NaN "do not rebalance". A
strategy returns its wish at every bar; the backtest layer keeps the rows of the
rebalance schedule and applies the execution lag (the kernel's `schedule_nb`). A signal
strategy may also offer its decisions as a `DecisionRule`, so that a sweep never holds
[K, T, N] weights.

A strategy states the history its signal needs (`Strategy.history`); the data layer
loads that much before ``data.start`` as warm-up, which the strategy sees and the
simulation does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, ClassVar, Generic, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from engine.config import Schedule
from engine.data import Market
from engine.errors import StrategyError
from engine.periods import DAYS_PER_YEAR

Count = Annotated[float, Field(ge=0.0, description="count if >= 1, else fraction of assets")]
_PERIOD = {"weekly": "W", "monthly": "M", "quarterly": "Q"}


class StrategyParams(BaseModel):
    """Base of every strategy's parameter model: unknown keys are errors, numbers finite, values
    frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


P = TypeVar("P", bound=StrategyParams)


@dataclass(frozen=True, eq=False)
class DecisionRule:
    """The decisions of K parameter sets as one rule over shared feature arrays.

    A sweep simulates each set from these without holding [K, T, N] weights: the kernel
    evaluates the rule bar by bar (`engine.kernel.sim_nb.decision_nb`). ``rule`` is
    ``"cross"`` (``up[k]`` while ``features[a[k]] > features[b[k]]``, else ``down[k]``;
    no instruction while ``features[b[k]]`` is NaN) or ``"sign"`` (``up[k]`` while
    ``features[a[k]] > 0``, else ``down[k]``; none while it is NaN). ``features`` is
    ``[F, T, N]`` on the market's index, warm-up included. A strategy that offers a rule
    must decide exactly what `Strategy.target_weights` returns, bit for bit.
    """

    rule: Literal["cross", "sign"]
    features: npt.NDArray[np.float64]
    a: npt.NDArray[np.int64]
    b: npt.NDArray[np.int64]
    up: npt.NDArray[np.float64]
    down: npt.NDArray[np.float64]


class Strategy(Generic[P]):
    """A named, parameterised rule from market data to target weights.

    `rebalance` is the schedule used when the config's ``portfolio.rebalance`` does not
    name one.
    """

    name: ClassVar[str]
    params_model: ClassVar[type[StrategyParams]]
    rebalance: ClassVar[Schedule] = "monthly"

    def __init__(self, params: P) -> None:
        self.params = params

    @classmethod
    def history(cls, params: StrategyParams) -> int:
        """Bars of data, the decision bar included, that the first full signal needs.

        The default, 1, suits a strategy that needs no past (fixed or equal weights).
        """
        return 1

    def target_weights(self, market: Market) -> pd.DataFrame:
        """Return target weights ``[T, N]`` using data up to each bar only."""
        raise NotImplementedError

    @classmethod
    def target_weights_many(
        cls, market: Market, params: Sequence[StrategyParams]
    ) -> npt.NDArray[np.float64]:
        """Return the target weights ``[K, T, N]`` of K parameter sets (for sweeps).

        The default computes them one by one; a strategy overrides this to share work
        across the batch (e.g. each moving average computed once), and must return
        exactly what `target_weights` returns for each set.
        """
        out = np.empty((len(params), len(market.index), len(market.symbols)))
        for k, p in enumerate(params):
            out[k] = cls(p).target_weights(market).to_numpy(dtype=np.float64)  # type: ignore[arg-type]
        return out

    @classmethod
    def decision_rule(cls, market: Market, params: Sequence[StrategyParams]) -> DecisionRule | None:
        """The decisions of K parameter sets as a `DecisionRule`, or None when this
        strategy has none (a sweep then builds its weights with `target_weights_many`)."""
        return None


def schedule_keep(
    values: npt.NDArray[np.float64], index: pd.DatetimeIndex, schedule: Schedule
) -> npt.NDArray[np.bool_]:
    """Which bars a schedule trades on, for weights ``[..., T, N]``; shape ``[..., T]``.

    ``weekly``, ``monthly`` and ``quarterly`` keep the first bar of each period: it is
    known at that bar (its period differs from the previous bar's), so the schedule
    never looks ahead. ``on_change`` keeps a bar when any weight differs from the
    previous bar's (NaN equals NaN), so a signal strategy trades only when its signal
    moves. The first bar always counts.
    """
    shape = values.shape[:-1]
    if schedule == "daily":
        return np.ones(shape, dtype=bool)
    if schedule == "on_change":
        keep = np.ones(shape, dtype=bool)
        now, before = values[..., 1:, :], values[..., :-1, :]
        keep[..., 1:] = ~((now == before) | (np.isnan(now) & np.isnan(before))).all(axis=-1)
        return keep
    periods = pd.Series(index.to_period(_PERIOD[schedule]))
    keep_1d = periods.ne(periods.shift(1)).to_numpy()
    return np.broadcast_to(keep_1d, shape).copy()


def schedule_rebalance(weights: pd.DataFrame, schedule: Schedule) -> pd.DataFrame:
    """Keep the rows of `weights` the schedule trades on (`schedule_keep`); NaN elsewhere."""
    keep = schedule_keep(weights.to_numpy(dtype=np.float64), weights.index, schedule)
    return weights.where(pd.Series(keep, index=weights.index), axis=0)


def carry_last(weights: npt.NDArray[np.float64], start: int) -> npt.NDArray[np.float64]:
    """Weights ``[K, T, N]`` from bar `start` on, the first row holding each asset's last
    instruction at or before `start`.

    A window cut out of a longer history (the end of the warm-up, a walk-forward test
    window) then starts from what the strategy last asked for, as a run over the whole
    history would hold; rows before `start` are all the carry reads, so it never looks
    ahead.
    """
    if start == 0:
        return weights
    window = weights[:, start:].copy()
    if start > 0:
        seen = ~np.isnan(weights[:, : start + 1])
        last = np.where(seen.any(axis=1), seen.shape[1] - 1 - np.argmax(seen[:, ::-1], axis=1), -1)
        k_idx, j_idx = np.nonzero(last >= 0)
        window[k_idx, 0, j_idx] = weights[k_idx, last[k_idx, j_idx], j_idx]
    return window


def listed(market: Market) -> pd.DataFrame:
    """True from each asset's first price on (it may still have gaps after that)."""
    return market.close.notna().cummax()


def base_close(market: Market) -> pd.DataFrame:
    """Closes in the base currency, carried over gaps; NaN before an asset's first price."""
    close = market.close.ffill()
    for symbol in market.symbols:
        currency = market.currency[symbol]
        if currency != market.base_currency:
            close[symbol] = close[symbol] * market.fx[currency]
    return close.where(listed(market))


def daily_returns(market: Market) -> pd.DataFrame:
    """Per-bar simple returns in the base currency; 0 over a gap, NaN before listing."""
    return base_close(market).pct_change(fill_method=None)


def resolve_symbols(market: Market, names: str | Sequence[str], where: str) -> list[str]:
    """Expand a group name (``data.symbols`` given as groups) or a list of symbols.

    Raises
    ------
    StrategyError
        For a name that is neither a group nor a symbol of the market; `where` is the
        YAML path of the parameter, for the message.
    """
    items = [names] if isinstance(names, str) else list(names)
    symbols: list[str] = []
    for item in items:
        if item in market.groups:
            symbols.extend(market.groups[item])
        elif item in market.symbols:
            symbols.append(item)
        else:
            groups = f" or a group {sorted(market.groups)}" if market.groups else ""
            raise StrategyError(
                f"{item!r} is not in data.symbols{groups}; add it there or fix the name",
                loc=tuple(where.split(".")),
            )
    return list(dict.fromkeys(symbols))


def rank_weights(
    score: pd.DataFrame,
    *,
    top: int | float,
    bottom: int | float = 0,
    weighting: Literal["equal", "score"] = "equal",
    gross: float = 1.0,
) -> pd.DataFrame:
    """Long the `top` best-scored assets of each row, short the `bottom` worst.

    `top` and `bottom` are counts when at least 1, else fractions of the assets that
    have a score in that row (at least one asset when the fraction is positive). Each
    side gets ``gross`` (long only) or ``gross / 2`` (long and short), split equally
    or in proportion to the size of the score. Assets without a score get NaN; rows
    without any score are all NaN (no rebalance).
    """
    available = score.notna()
    count = available.sum(axis=1)

    def size(spec: int | float) -> pd.Series:
        if spec >= 1:
            return np.minimum(count, int(spec)).astype(float)
        return np.ceil(count * spec).where(count.gt(0) & (spec > 0), 0.0)

    n_top, n_bottom = size(top), size(bottom)
    # rank 1 = best; ties broken by column order, so the choice is deterministic
    best = score.rank(axis=1, ascending=False, method="first")
    longs = best.le(n_top, axis=0) & available
    worst = score.where(~longs).rank(axis=1, ascending=True, method="first")
    shorts = worst.le(n_bottom, axis=0) & available & ~longs
    side_gross = np.where(n_bottom.gt(0), gross / 2.0, gross)
    if weighting == "equal":
        long_w = longs.astype(float).div(longs.sum(axis=1), axis=0)
        short_w = shorts.astype(float).div(shorts.sum(axis=1), axis=0)
    else:
        magnitude = score.abs().fillna(0.0)
        long_w = magnitude.where(longs, 0.0)
        long_w = long_w.div(long_w.sum(axis=1), axis=0)
        short_w = magnitude.where(shorts, 0.0)
        short_w = short_w.div(short_w.sum(axis=1), axis=0)
    weights = long_w.fillna(0.0).sub(short_w.fillna(0.0)).mul(side_gross, axis=0)
    return weights.where(available).where(count.gt(0), axis=0)


def annual_bars(market: Market, window: int) -> pd.Series:
    """Bars per year at each bar, from the dates of the last `window` bars, to annualise
    a statistic over that window.

    Measured on the window itself, not the whole index, so that it uses no date after
    the bar (the whole index would make the scaling depend on where the data ends).
    NaN for the first ``window - 1`` bars.
    """
    index = market.index
    days = pd.Series(index, index=index).diff(window - 1) / pd.Timedelta(days=DAYS_PER_YEAR)
    return ((window - 1) / days).where(days > 0)
