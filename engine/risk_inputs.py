"""The portfolio's risk and liquidity settings as `prepare_market`'s keyword arguments.

`risk_arguments` turns ``portfolio.limits``, ``drawdown`` and ``stops`` into per-asset
arrays and rules; `liquidity_arguments` turns ``participation``, ``impact`` and
``impact_window`` into the volume, sigma and ADV the kernel reads. A feature that is
off passes nothing, so a run without it prepares the same arrays as before it existed.

Volume: a bar whose volume is NaN or 0 (a half-day session whose vendor row has zero
volume) is unknown, not a bar nothing traded on: the participation cap does not apply on
it and the ADV leaves it out. A symbol with no known volume in the simulated bars cannot
be capped or priced for impact at all, so asking for either is a `ConfigError`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from engine.config import RunConfig
from engine.config.risk import per_symbol
from engine.data import Market
from engine.errors import ConfigError

__all__ = ["liquidity_arguments", "risk_arguments"]


def risk_arguments(config: RunConfig) -> dict[str, Any]:
    """``max_weight``, ``net_exposure``, ``group_limits``, ``drawdown``, ``stop_loss`` and
    ``take_profit`` for `prepare_market`, for the symbols of ``data.symbols`` in order.

    Only the settings the config gives are returned; per-symbol values are
    ``{symbol: number}`` with ``inf`` (no limit) for a symbol a mapping leaves out.
    """
    p, symbols = config.portfolio, config.data.symbol_list
    out: dict[str, Any] = {}
    limits = p.limits
    if limits is not None:
        if limits.max_weight is not None:
            out["max_weight"] = per_symbol(limits.max_weight, symbols)
        if limits.net is not None:
            out["net_exposure"] = tuple(limits.net)
        if limits.groups:
            from engine.inputs import GroupLimit  # the kernel's module: only when used

            groups = config.data.groups
            out["group_limits"] = {
                name: GroupLimit(
                    list(groups[name]),
                    math.inf if g.gross is None else g.gross,
                    (-math.inf, math.inf) if g.net is None else tuple(g.net),
                )
                for name, g in limits.groups.items()
            }
    if p.drawdown is not None:
        from engine.inputs import DrawdownRule

        d = p.drawdown
        out["drawdown"] = DrawdownRule(d.trigger, d.fraction, d.recovery)
    if p.stops is not None:
        for name in ("stop_loss", "take_profit"):
            value = getattr(p.stops, name)
            if value is not None:
                out[name] = per_symbol(value, symbols)
    return out


def _unknown_volume(volume: pd.DataFrame | None, market: Market) -> list[str]:
    """Symbols without one known (finite, positive) volume in the simulated bars."""
    if volume is None:
        return list(market.symbols)
    window = volume.reindex(index=market.index, columns=market.symbols).iloc[market.warmup_bars :]
    known = (window.to_numpy(dtype=np.float64) > 0.0).any(axis=0)  # NaN > 0 is False
    return [s for s, ok in zip(market.symbols, known, strict=True) if not ok]


def liquidity_arguments(config: RunConfig, market: Market) -> dict[str, Any]:
    """``volume``, ``participation``, ``execution``, ``impact``, ``impact_window``,
    ``volatility`` and ``adv`` for `prepare_market`, or nothing when both participation
    and impact are off.

    `market` is the whole market, warm-up included: sigma and ADV of the first simulated
    bars come from the warm-up's bars (`engine.inputs.trailing_liquidity`), and are then
    cut to the simulated bars like the volume.

    Raises
    ------
    ConfigError
        When participation is set, or an asset's impact is above 0, and the source has
        no volume for an asset it applies to; names the setting and the symbol.
    """
    p = config.portfolio
    keys = {s: (s, market.exchange.get(s, ""), market.currency[s]) for s in market.symbols}
    impact = {s: p.asset_costs(*key).impact for s, key in keys.items()}
    priced = [s for s, k in impact.items() if k > 0.0]
    if p.participation is None and not priced:
        return {}
    volume: pd.DataFrame | None = getattr(market, "volume", None)
    missing = _unknown_volume(volume, market)
    if p.participation is not None and missing:
        where = config.where(("portfolio", "participation"))
        raise ConfigError(_no_volume(where, missing[0], market, "portfolio.participation"))
    for symbol in priced:
        if symbol in missing:
            loc = p.cost_origin(*keys[symbol], ("impact",))
            setting = ".".join(map(str, loc))
            raise ConfigError(_no_volume(config.where(loc), symbol, market, setting))
    assert volume is not None  # no symbol misses it
    volume = volume.reindex(index=market.index, columns=market.symbols)
    simulated = market.index[market.warmup_bars :]
    out: dict[str, Any] = {
        "volume": volume.loc[simulated],
        "participation": p.participation,
        "execution": p.execution,
    }
    if priced:
        from engine.inputs import trailing_liquidity  # the kernel's module

        sigma, adv = trailing_liquidity(market.close, volume, p.impact_window)
        out |= {
            "impact": impact,
            "impact_window": p.impact_window,
            "volatility": sigma.loc[simulated],
            "adv": adv.loc[simulated],
        }
    return out


def _no_volume(where: str, symbol: str, market: Market, setting: str) -> str:
    return (
        f"{where}: {symbol} has no volume in {market.source} between "
        f"{market.index[market.warmup_bars].date()} and {market.index[-1].date()}; remove "
        f"{setting} for it, or load prices with volume (a volume column in csv files, "
        "yahoo, synthetic)"
    )
