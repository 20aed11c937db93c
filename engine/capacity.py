"""Capacity: one config simulated at several multiples of its starting cash, side by side.

The question is how big a strategy can get before its costs and the market's liquidity
bite: a fixed minimum fee weighs less on a bigger book, while market impact and the
participation cap weigh more. The market is loaded, the strategy's targets built and the
kernel's arrays prepared once (`engine.backtest.prepare`: none of it depends on the
cash); only the simulation and its metrics run again for each multiple, through the same
function `engine.run` uses, so the row of multiple 1 is the plain run bit for bit.

A sweep over ``portfolio.init_cash`` would give the same numbers, but it treats each
cash amount as its own group of portfolio settings, so it would compute the strategy's
targets and the kernel's arrays once per multiple, and keep only the kernel's metrics:
the average value that puts costs in basis points would be gone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.backtest import BacktestResult, configured, prepare, simulate_prepared
from engine.config import RunConfig
from engine.config.schema import MAX_INIT_CASH
from engine.errors import ConfigError
from engine.results import day_label

__all__ = [
    "COLUMNS",
    "COST_PARTS",
    "DEFAULT_MULTIPLIERS",
    "CapacityResult",
    "capacity",
    "check_multipliers",
    "parse_multipliers",
]

DEFAULT_MULTIPLIERS: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0)
BPS = 1e4
# the costs a fill pays, base currency; "impact" is half-spread plus the square-root model
COST_PARTS: tuple[str, ...] = ("fees", "taxes", "slippage", "fx_costs", "impact")

# Each column of the table, in order, and what it means (the CSV, JSON, page and README).
COLUMNS: dict[str, str] = {
    "multiplier": "The multiple of the config's portfolio.init_cash.",
    "init_cash": "Starting cash of this row, base currency: multiplier x portfolio.init_cash.",
    "total_return": "Final value over the starting cash, minus 1.",
    "cagr": "Compound annual growth rate over the run.",
    "sharpe": "Annualised mean excess return over its standard deviation.",
    "max_drawdown": "Largest fall of the value from its running peak.",
    "turnover": "Traded value over the value before trading, summed, per year.",
    "costs": "What trading cost: fees + taxes + slippage + fx_costs + impact, base currency.",
    "costs_bps": "costs over the average value of the portfolio, in basis points (1/10,000).",
    "impact": "Half-spread and square-root market impact paid on fills, base currency.",
    "impact_bps": "impact over the average value, in basis points.",
    "unfilled": "Value of orders the participation cap held back, summed over the bars they "
    "waited (an order waiting three bars counts three times), base currency.",
    "unfilled_share": "unfilled over (average value x bars): the share of the book's value "
    "that waited on the participation cap at an average bar.",
    "unfilled_bars": "Bars on which the participation cap held some order back.",
    "shortfall": "Value of buys that cash or the leverage cap could not fund.",
    "n_trades": "Number of fills.",
    "fees": "Commissions and per-fill charges, base currency.",
    "taxes": "Buy and sell taxes (stamp duty), base currency.",
    "slippage": "What fills paid over the quote by the slippage setting, base currency.",
    "fx_costs": "Currency conversion costs on foreign fills, base currency.",
    "avg_value": "Mean of the portfolio's value at each bar's close, base currency.",
    "bankrupt": "The date the value fell to zero or below, else empty.",
}


def parse_multipliers(text: str) -> tuple[float, ...]:
    """Return the numbers of a comma-separated list (``"1,10,100,1000"``), as given.

    Raises
    ------
    ConfigError
        For an empty item or one that is not a number, naming it.
    """
    values = []
    for item in text.split(","):
        try:
            values.append(float(item))
        except ValueError:
            raise ConfigError(
                f"--multipliers: {item.strip()!r} is not a number; give positive numbers "
                "separated by commas, e.g. 1,10,100,1000"
            ) from None
    return tuple(values)


def check_multipliers(multipliers: Sequence[float], config: RunConfig) -> tuple[float, ...]:
    """Return `multipliers` in ascending order after checking each one.

    Raises
    ------
    ConfigError
        For no multiples, a repeated one, one that is not a positive finite number, or
        one whose cash passes the 1e15 cap on ``portfolio.init_cash``; the message names it.
    """
    if not len(multipliers):
        raise ConfigError("multipliers: none given; give at least one, e.g. 1,10,100,1000")
    init_cash = config.portfolio.init_cash
    seen: set[float] = set()
    for given in multipliers:
        try:
            value = float(given)
        except (TypeError, ValueError):
            raise ConfigError(
                f"multiplier {given!r} is not a number; give positive numbers, e.g. 1, 10, 100"
            ) from None
        if not math.isfinite(value) or value <= 0.0:
            raise ConfigError(
                f"multiplier {value:g} is not a positive number; each multiple of "
                "portfolio.init_cash must be above 0, e.g. 1, 10, 100"
            )
        if value * init_cash > MAX_INIT_CASH:
            raise ConfigError(
                f"multiplier {value:g}: {value:g} x portfolio.init_cash {init_cash:,.0f} = "
                f"{value * init_cash:.3g}, over the {MAX_INIT_CASH:.0e} cap on the starting "
                f"cash ({config.where(('portfolio', 'init_cash'))}); drop it or lower "
                "portfolio.init_cash"
            )
        if value in seen:
            raise ConfigError(f"multiplier {value:g} is given twice; give each multiple once")
        seen.add(value)
    return tuple(sorted(float(v) for v in multipliers))


@dataclass(frozen=True, eq=False)
class CapacityResult:
    """The capacity table of a config and the run behind each of its rows.

    ``table`` has one row per multiple, ascending, with the columns of `COLUMNS`;
    ``results[i]`` is the full `BacktestResult` of row i (its config's
    ``portfolio.init_cash`` is that row's cash).
    """

    config: RunConfig
    table: pd.DataFrame
    results: tuple[BacktestResult, ...]

    @property
    def multipliers(self) -> tuple[float, ...]:
        """The multiples of ``portfolio.init_cash``, ascending."""
        return tuple(float(v) for v in self.table["multiplier"])

    @property
    def is_synthetic(self) -> bool:
        """Whether the market was generated rather than read from a source."""
        return self.results[0].market.is_synthetic

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of the table: one row per multiple."""
        return self.table.copy()

    def _repr_html_(self) -> str:
        return str(self.table.to_html(index=False, na_rep="n/a"))


def _row(multiplier: float, result: BacktestResult) -> dict[str, Any]:
    """One row of the table from a finished run."""
    metrics: Mapping[str, float] = result.metrics

    def metric(key: str) -> float:
        return float(metrics[key])

    average = float(np.mean(result.value.to_numpy()))
    costs = math.fsum(metric(key) for key in COST_PARTS)
    per_value = BPS / average if average > 0.0 else math.nan
    bankruptcy = result.bankruptcy
    row = {
        "multiplier": multiplier,
        "init_cash": result.config.portfolio.init_cash,
        **{k: metric(k) for k in ("total_return", "cagr", "sharpe", "max_drawdown", "turnover")},
        "costs": costs,
        "costs_bps": costs * per_value,
        "impact": metric("impact"),
        "impact_bps": metric("impact") * per_value,
        "unfilled": metric("unfilled"),
        "unfilled_share": metric("unfilled") * per_value / BPS / len(result.value),
        **{k: metric(k) for k in ("unfilled_bars", "shortfall", "n_trades")},
        **{k: metric(k) for k in COST_PARTS if k != "impact"},
        "avg_value": average,
        "bankrupt": "" if bankruptcy is None else day_label(bankruptcy.date),
    }
    return {name: row[name] for name in COLUMNS}


def capacity(
    config: RunConfig | str | os.PathLike[str],
    multipliers: Sequence[float] = DEFAULT_MULTIPLIERS,
    *,
    set: Sequence[str] | Mapping[str, Any] = (),
    offline: bool = False,
    progress: Callable[[int, float], None] | None = None,
) -> CapacityResult:
    """Run `config` at each multiple of its ``portfolio.init_cash``; return the table.

    `config` and `set` are as for `engine.run`. The market, targets and cost arrays are
    prepared once; `progress` is called with ``(i, multiplier)`` (i from 1) before the
    i-th simulation. The multiples are checked before any data loads.

    Raises
    ------
    ConfigError
        For a bad multiple (`check_multipliers`) or config.
    """
    config = configured(config, set)
    ordered = check_multipliers(multipliers, config)
    prepared = prepare(config, offline)
    results = []
    for i, multiplier in enumerate(ordered, 1):
        if progress is not None:
            progress(i, multiplier)
        cash = multiplier * config.portfolio.init_cash
        results.append(simulate_prepared(prepared, cash))
    table = pd.DataFrame(
        [_row(m, r) for m, r in zip(ordered, results, strict=True)], columns=list(COLUMNS)
    )
    return CapacityResult(config, table, tuple(results))
