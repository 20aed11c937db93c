"""The look-ahead guard: does a strategy's weight at bar t change with data after t?

A strategy that peeks (``shift(-2)``, a z-score over the whole sample, a label aligned
to the wrong bar) runs cleanly and reports a Sharpe no market pays. The guard runs the
strategy on the market truncated after sampled bars and compares each truncated run
with the full one up to its cut: an honest strategy gives the same weights, to the last
bit, on every bar it could see. The suite's own no-look-ahead test is this check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.config import RunConfig
from engine.data import Market
from engine.pipeline import ResolvedStrategy, load_market, resolve_strategy, strategy_params

__all__ = ["LookAhead", "check_config", "find_lookahead", "sample_cuts"]


@dataclass(frozen=True)
class LookAhead:
    """A weight that changed when data after its bar was removed."""

    symbol: str
    bar: pd.Timestamp
    cut: pd.Timestamp
    full: float
    truncated: float

    def __str__(self) -> str:
        return (
            f"look-ahead: the weight of {self.symbol} on {self.bar.date()} is {self.full:.6g} "
            f"with all the data but {self.truncated:.6g} with the data up to "
            f"{self.cut.date()}: it reads data after its bar"
        )


def sample_cuts(n_bars: int, count: int = 6, first: int = 0) -> list[int]:
    """`count` bars spread over ``[first, n_bars - 2]``, where the market is cut after them.

    Evenly spaced and deterministic, the last two bars before the end included: a peek
    of a bar or two shows right at a cut.
    """
    last = n_bars - 2
    if last < first:
        return []
    spread = np.linspace(first, last, num=max(count - 1, 1)).round().astype(int).tolist()
    return sorted({*spread, max(last - 1, first), last})


def _same(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def find_lookahead(
    strategy: ResolvedStrategy,
    market: Market,
    params: Any,
    cuts: Sequence[int] | None = None,
) -> LookAhead | None:
    """The first weight (earliest bar, then column) that changes when `market` is cut after
    one of `cuts` (default `sample_cuts` over the whole market), or None.

    A run that fails on the shortened market counts as no evidence either way.
    """
    full = strategy.compute_many(market, [params])[0]
    found: LookAhead | None = None
    for cut in cuts if cuts is not None else sample_cuts(len(market.index)):
        shorter = market.select(dates=market.index[: cut + 1])
        try:
            seen = strategy.compute_many(shorter, [params])[0]
        except Exception:  # too short for the strategy: says nothing about look-ahead
            continue
        differ = ~_same(full[: cut + 1], seen)
        if not differ.any():
            continue
        t, j = np.argwhere(differ)[0]
        if found is None or market.index[t] < found.bar:
            found = LookAhead(
                symbol=market.symbols[j],
                bar=market.index[t],
                cut=market.index[cut],
                full=float(full[t, j]),
                truncated=float(seen[t, j]),
            )
    return found


def check_config(config: RunConfig, offline: bool = False) -> LookAhead | None:
    """Run the look-ahead guard on the strategy and data a config names (no simulation)."""
    strategy = resolve_strategy(config)
    params = strategy_params(config, strategy)
    market = load_market(config, offline)
    return find_lookahead(strategy, market, params, sample_cuts(len(market.index)))
