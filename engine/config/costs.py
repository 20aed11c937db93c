"""Trading costs: the cost models, the built-in market presets and their resolution.

An asset's costs are resolved from layers, the most general first: the settings of
``portfolio`` (for every asset), then its ``costs`` entries for the asset's currency
(``HKD``), exchange (``XHKG``) and symbol (``0700.HK``). Within a layer the preset comes
first and the settings written beside it override it; ``fees`` and ``charges`` merge
key by key (`merge`), and any other setting, a dated schedule or a rate series
included, replaces the earlier one whole. Money amounts are in the currency the asset
trades in, as brokers charge them.

Every cost setting may be a dated schedule (`engine.config.dated`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import Field, field_validator, model_validator

from engine.config.base import ConfigModel, Loc, merge
from engine.config.dated import (
    BorrowRate,
    Dated,
    DatedAnnual,
    DatedCap,
    DatedMoney,
    DatedRate,
    RateSeriesConfig,
    value_on,
)


class FeeConfig(ConfigModel):
    """The broker's commission per fill: ``max(rate * value, minimum) + fixed``.

    Money amounts are in the currency the asset trades in, as brokers charge them.
    """

    rate: DatedRate = 0.0
    minimum: DatedMoney = 0.0
    fixed: DatedMoney = 0.0


class ChargeConfig(ConfigModel):
    """An exchange or regulatory charge per fill: ``clip(rate * value, minimum, maximum)``."""

    rate: DatedRate = 0.0
    minimum: DatedMoney = 0.0
    maximum: DatedCap = None

    @model_validator(mode="after")
    def _bounds(self) -> ChargeConfig:
        days = [d for s in (self.minimum, self.maximum) if isinstance(s, Mapping) for d in s]
        for day in days or [dt.date.max]:
            try:
                low, high = value_on(self.minimum, day), value_on(self.maximum, day)
            except ValueError:  # one schedule starts later: nothing to compare yet
                continue
            if high is not None and high < low:
                on = f" on {day}" if days else ""
                raise ValueError(f"maximum {high} is below minimum {low}{on}")
        return self


def fee_shorthand(value: Any) -> Any:
    """Read a bare number given for ``fees`` as the commission rate.

    Parameters
    ----------
    value
        The raw ``fees`` setting: ``0.001`` stands for ``{rate: 0.001}``.

    Returns
    -------
    Any
        `value` as a mapping with ``rate`` when it was a number, else unchanged.
    """
    return {"rate": value} if isinstance(value, int | float) else value


class CostConfig(ConfigModel):
    """Trading costs of one market: a preset, then explicit settings over it.

    Every setting is a number or a dated schedule; ``borrow_rate`` may also be a rate
    series. ``rebate_spread`` is what a broker keeps of the cash rate on short-sale
    proceeds: each short pays it on its value, on top of its ``borrow_rate``.
    """

    preset: Literal["hk", "us"] | None = None
    fees: FeeConfig = Field(default_factory=FeeConfig)
    charges: dict[str, ChargeConfig] = Field(default_factory=dict)
    buy_tax: DatedRate = 0.0
    sell_tax: DatedRate = 0.0
    slippage: DatedRate = 0.0
    borrow_rate: BorrowRate = 0.0
    rebate_spread: DatedAnnual = 0.0

    fees_shorthand = field_validator("fees", mode="before")(fee_shorthand)


# Built-in market cost presets; amounts in the market's currency. Sources (checked
# 2026-11): HKEX trading fee 0.00565%, SFC levy 0.0027%, AFRC levy 0.00015%, HKSCC
# settlement fee 0.002% (min HK$2, max HK$100), trading tariff HK$0.50 per trade, stamp
# duty 0.1% on each side since 2023-11-17; SEC section 31 fee on US sales at US$27.80 per
# million. Broker commissions vary: the ones below are a typical online broker's, to be
# overridden with your own (``portfolio.costs.XHKG.fees.rate``).
COST_PRESETS: dict[str, dict[str, Any]] = {
    "hk": {
        "fees": {"rate": 0.0003, "minimum": 50.0, "fixed": 0.5},
        "charges": {
            "trading_fee": {"rate": 0.0000565},
            "sfc_levy": {"rate": 0.000027},
            "afrc_levy": {"rate": 0.0000015},
            "settlement": {"rate": 0.00002, "minimum": 2.0, "maximum": 100.0},
        },
        "buy_tax": 0.001,
        "sell_tax": 0.001,
    },
    "us": {
        "fees": {"rate": 0.0005, "minimum": 1.0},
        "sell_tax": 0.0000278,
    },
}
_COST_KEYS = set(CostConfig.model_fields) - {"preset"}


@dataclass(frozen=True)
class AssetCosts:
    """The resolved costs of one asset; money amounts in its trading currency.

    Each is a number or a dated schedule (``{date: value}``, sorted); ``borrow_rate``
    may be a rate series, read when a run prepares the kernel.
    """

    fee_rate: Dated
    fee_minimum: Dated
    fee_fixed: Dated
    charges: dict[str, tuple[Dated, Dated, Dated]]
    buy_tax: Dated
    sell_tax: Dated
    slippage: Dated
    borrow_rate: Dated | RateSeriesConfig
    rebate_spread: Dated = 0.0


class CostSettings(Protocol):
    """A layer of cost settings: a `CostConfig`, or the portfolio's settings for every asset."""

    @property
    def preset(self) -> str | None:
        """The preset that applies before this layer's own settings, if any."""

    def model_dump(self, *, include: set[str], exclude_unset: bool) -> dict[str, Any]:
        """Return the settings, as pydantic's ``BaseModel.model_dump`` does."""


def resolve_costs(layers: Sequence[CostSettings]) -> AssetCosts:
    """Resolve the costs of one asset from its cost layers, general to specific.

    Parameters
    ----------
    layers
        The layers that apply to the asset, the most general first. In each, the
        preset applies before the settings given explicitly, and only settings that
        were given override earlier layers.

    Returns
    -------
    AssetCosts
        The merged costs; a charge without a maximum gets ``inf``.
    """
    merged: dict[str, Any] = {}
    for setting in _settings(layers):
        nested = {k: v for k, v in setting.items() if k in _NESTED}
        merged = merge(merged, nested) | {k: v for k, v in setting.items() if k not in _NESTED}
    costs = CostConfig.model_validate(merged)
    return AssetCosts(
        fee_rate=costs.fees.rate,
        fee_minimum=costs.fees.minimum,
        fee_fixed=costs.fees.fixed,
        charges={
            name: (c.rate, c.minimum, _no_cap_is_inf(c.maximum))
            for name, c in sorted(costs.charges.items())
        },
        buy_tax=costs.buy_tax,
        sell_tax=costs.sell_tax,
        slippage=costs.slippage,
        borrow_rate=costs.borrow_rate,
        rebate_spread=costs.rebate_spread,
    )


def cost_origin(layers: Sequence[tuple[Loc, CostSettings]], path: Sequence[str]) -> Loc:
    """Return the YAML path that gave an asset the cost setting `path` (e.g.
    ``("charges", "sfc_levy", "rate")``): the most specific layer that sets it, the
    setting itself if written, else that layer's ``preset``.

    `layers` are the asset's layers as `resolve_costs` takes them, each with its YAML
    path (``("portfolio", "costs", "XHKG")``).
    """
    for loc, layer in reversed(layers):
        if _lookup(layer.model_dump(exclude_unset=True, include=_COST_KEYS), path):
            return (*loc, *path)
        if layer.preset and _lookup(COST_PRESETS[layer.preset], path):
            return (*loc, "preset")
    return (*layers[0][0], *path)


_NESTED = ("fees", "charges")  # merged key by key; every other setting replaces


def _settings(layers: Sequence[CostSettings]) -> list[Mapping[str, Any]]:
    settings: list[Mapping[str, Any]] = []
    for layer in layers:
        if layer.preset:
            settings.append(COST_PRESETS[layer.preset])
        settings.append(layer.model_dump(exclude_unset=True, include=_COST_KEYS))
    return settings


def _lookup(settings: Mapping[str, Any], path: Sequence[str]) -> bool:
    node: Any = settings
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _no_cap_is_inf(maximum: Any) -> Dated:
    if isinstance(maximum, Mapping):
        return {day: float("inf") if v is None else v for day, v in maximum.items()}
    return float("inf") if maximum is None else maximum
