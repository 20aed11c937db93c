"""Trading costs: the cost models, the built-in market presets and their resolution.

An asset's costs are resolved from layers, the most general first: the settings of
``portfolio`` (for every asset), then its ``costs`` entries for the asset's currency
(``HKD``), exchange (``XHKG``) and symbol (``0700.HK``). Within a layer the preset comes
first and the settings written beside it override it; mappings such as ``fees`` and
``charges`` merge key by key (`merge`). Money amounts are in the currency the asset
trades in, as brokers charge them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

from pydantic import Field, field_validator, model_validator

from engine.config.base import ConfigModel, Money, Rate, merge


class FeeConfig(ConfigModel):
    """The broker's commission per fill: ``max(rate * value, minimum) + fixed``.

    Money amounts are in the currency the asset trades in, as brokers charge them.
    """

    rate: Rate = 0.0
    minimum: Money = 0.0
    fixed: Money = 0.0


class ChargeConfig(ConfigModel):
    """An exchange or regulatory charge per fill: ``clip(rate * value, minimum, maximum)``."""

    rate: Rate = 0.0
    minimum: Money = 0.0
    maximum: Money | None = None

    @model_validator(mode="after")
    def _bounds(self) -> ChargeConfig:
        if self.maximum is not None and self.maximum < self.minimum:
            raise ValueError(f"maximum {self.maximum} is below minimum {self.minimum}")
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
    """Trading costs of one market: a preset, then explicit settings over it."""

    preset: Literal["hk", "us"] | None = None
    fees: FeeConfig = Field(default_factory=FeeConfig)
    charges: dict[str, ChargeConfig] = Field(default_factory=dict)
    buy_tax: Rate = 0.0
    sell_tax: Rate = 0.0
    slippage: Rate = 0.0
    borrow_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0

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
    """The resolved costs of one asset; money amounts in its trading currency."""

    fee_rate: float
    fee_minimum: float
    fee_fixed: float
    charges: dict[str, tuple[float, float, float]]
    buy_tax: float
    sell_tax: float
    slippage: float
    borrow_rate: float


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
    settings: list[Mapping[str, Any]] = []
    for layer in layers:
        if layer.preset:
            settings.append(COST_PRESETS[layer.preset])
        settings.append(layer.model_dump(exclude_unset=True, include=_COST_KEYS))
    merged: dict[str, Any] = {}
    for setting in settings:
        merged = merge(merged, setting)
    costs = CostConfig.model_validate(merged)
    return AssetCosts(
        fee_rate=costs.fees.rate,
        fee_minimum=costs.fees.minimum,
        fee_fixed=costs.fees.fixed,
        charges={
            name: (c.rate, c.minimum, float("inf") if c.maximum is None else c.maximum)
            for name, c in sorted(costs.charges.items())
        },
        buy_tax=costs.buy_tax,
        sell_tax=costs.sell_tax,
        slippage=costs.slippage,
        borrow_rate=costs.borrow_rate,
    )
