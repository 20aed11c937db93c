"""Trading costs: the cost models, the built-in market presets and their resolution.

An asset's costs are resolved from layers, the most general first: the settings of
``portfolio`` (for every asset), then its ``costs`` entries for the asset's currency
(``HKD``), exchange (``XHKG``) and symbol (``0700.HK``). Within a layer the preset comes
first and the settings written beside it override it; ``fees`` and ``charges`` merge
key by key (`merge`), and any other setting, a dated schedule or a rate series
included, replaces the earlier one whole. Money amounts are in the currency the asset
trades in, as brokers charge them.

Every cost setting may be a dated schedule (`engine.config.dated`), and the presets are:
each rate is listed from the date it took effect, so a trade pays the rate of its date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

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
    ``half_spread`` and ``impact`` (the square-root model's k) are market impact; no
    preset sets them. ``withholding`` is the tax withheld from cash dividends received
    (``data.adjust: price``). It depends on the investor's tax residence as much as on
    the market, so no preset sets it: it is 0 unless written
    (``costs.HKD.withholding: 0.2``).
    """

    preset: Literal["hk", "us"] | None = None
    fees: FeeConfig = Field(default_factory=FeeConfig)
    charges: dict[str, ChargeConfig] = Field(default_factory=dict)
    buy_tax: DatedRate = 0.0
    sell_tax: DatedRate = 0.0
    slippage: DatedRate = 0.0
    half_spread: DatedRate = Field(
        default=0.0,
        description="half the bid-ask spread, a fraction of the quote paid on every fill "
        "like slippage (no quote data: set it per market, e.g. costs.XHKG.half_spread)",
    )
    impact: Annotated[float, Field(ge=0.0)] = Field(
        default=0.0,
        description="k of the square-root impact model: a fill of d shares moves its price "
        "by k * sigma * sqrt(d / ADV) (needs volume; portfolio.impact_window bars)",
    )
    borrow_rate: BorrowRate = 0.0
    rebate_spread: DatedAnnual = 0.0
    withholding: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=0.0,
        description="data.adjust: price: tax withheld from dividends received on longs "
        "(e.g. 0.2 for a mainland investor in HK shares through Stock Connect, 0.3 on US "
        "dividends for a holder without a treaty rate); shorts pay dividends in full",
    )

    fees_shorthand = field_validator("fees", mode="before")(fee_shorthand)


# Built-in market cost presets: amounts in the market's currency, each rate from the date
# it took effect (a trade pays the rate of its trade date). A preset covers trades from its
# first date (HK_FROM, US_FROM); a run that starts earlier must set the rates itself.
# Broker commissions vary: the ones below are a typical online broker's, to be
# overridden with your own (``portfolio.costs.XHKG.fees.rate``).
HK_FROM = dt.date(2006, 12, 1)
US_FROM = dt.date(2008, 4, 1)
HK_STAMP_DUTY = {  # on buys and sells, Stamp Duty Ordinance (Cap. 117), head 2
    HK_FROM: 0.001,  # 0.1% since 2001 (the 2021-22 Budget raised it "from 0.1%")
    dt.date(2021, 8, 1): 0.0013,  # 2021-22 Budget; IRD "Budget 2021 stamp duty" page
    dt.date(2023, 11, 17): 0.001,  # Stamp Duty (Amendment) (Stock Transfers) Ord. 2023
}
# SEC section 31 fee on US sales, per dollar sold (the SEC sets it per fiscal year; a new
# rate applies from the 60th day after the SEC's appropriation is enacted). "FINRA" and
# "SEC" mark rates checked against that notice; "list" marks rates taken from a public
# list of SEC fee-rate advisories (release numbers given) and not checked further.
SEC_FEE = {
    US_FROM: 5.60e-6,  # FINRA Information Notice 3/10/08 (mid-year 2008, from $11.00)
    dt.date(2009, 4, 10): 25.70e-6,  # list: SEC Release 34-59543
    dt.date(2010, 1, 15): 12.70e-6,  # list: SEC Release 34-61268
    dt.date(2010, 4, 1): 16.90e-6,  # list: SEC Release 34-61614
    dt.date(2011, 1, 21): 19.20e-6,  # list: SEC Release 34-63595
    dt.date(2012, 2, 21): 18.00e-6,  # list: SEC Release 34-66205
    dt.date(2012, 4, 1): 22.40e-6,  # list: SEC Release 34-66490
    dt.date(2013, 5, 25): 17.40e-6,  # list: SEC Release 34-69446; FINRA 3/3/14 ("current")
    dt.date(2014, 3, 18): 22.10e-6,  # FINRA Information Notice 3/3/14
    dt.date(2015, 2, 14): 18.40e-6,  # list: SEC Release 34-74070
    dt.date(2016, 2, 16): 21.80e-6,  # list: SEC Release 34-76852; FINRA 3/15/16 ("current")
    dt.date(2017, 7, 4): 23.10e-6,  # list: SEC Release 34-80830; FINRA 5/7/18 ("current")
    dt.date(2018, 5, 22): 13.00e-6,  # FINRA Information Notice 5/7/18
    dt.date(2019, 4, 16): 20.70e-6,  # SEC Fee Rate Advisory #2, FY2019 (via FINRA notice)
    dt.date(2020, 2, 18): 22.10e-6,  # FINRA Information Notice 2/3/20
    dt.date(2021, 2, 25): 5.10e-6,  # FINRA Information Notice 2/16/21
    dt.date(2022, 5, 14): 22.90e-6,  # list: SEC Release 34-94420; SEC 34-96724 ("current")
    dt.date(2023, 2, 27): 8.00e-6,  # SEC Release 34-96724 (2023-01-23)
    dt.date(2024, 5, 22): 27.80e-6,  # SEC Release 34-99973 (2024-04-17); FINRA 4/24/25
    dt.date(2025, 5, 14): 0.0,  # FINRA Information Notice 4/24/25: $0.00 per million
}
COST_PRESETS: dict[str, dict[str, Any]] = {
    "hk": {
        "fees": {"rate": 0.0003, "minimum": 50.0},
        "charges": {
            # HKEX trading fee 0.005% (since 2001) -> 0.00565%, and the HK$0.50 trading
            # tariff per trade removed, both from 2023-01-01 (HKEX news, 2022-11-01)
            "trading_fee": {"rate": {HK_FROM: 0.00005, dt.date(2023, 1, 1): 0.0000565}},
            "trading_tariff": {
                "minimum": {HK_FROM: 0.5, dt.date(2023, 1, 1): 0.0},
                "maximum": {HK_FROM: 0.5, dt.date(2023, 1, 1): 0.0},
            },
            # SFC transaction levy: 0.004% from 2006-12-01 (Reduction of Levy Order 2006),
            # 0.003% from 2010-10-01 (Levy Amendment Order 2010), 0.0027% from 2014-11-01
            # (Levy Amendment Order 2014)
            "sfc_levy": {
                "rate": {
                    HK_FROM: 0.00004,
                    dt.date(2010, 10, 1): 0.00003,
                    dt.date(2014, 11, 1): 0.000027,
                }
            },
            # FRC (now AFRC) transaction levy 0.00015%, introduced 2022-01-01
            "afrc_levy": {"rate": {HK_FROM: 0.0, dt.date(2022, 1, 1): 0.0000015}},
            # HKSCC stock settlement fee: 0.002%, min HK$2, max HK$100 per side (HKEX fee
            # page, 2023), then a flat 0.0042% without bounds from 2025-06-30 (HKEX, 2025)
            "settlement": {
                "rate": {HK_FROM: 0.00002, dt.date(2025, 6, 30): 0.000042},
                "minimum": {HK_FROM: 2.0, dt.date(2025, 6, 30): 0.0},
                "maximum": {HK_FROM: 100.0, dt.date(2025, 6, 30): None},
            },
        },
        "buy_tax": HK_STAMP_DUTY,
        "sell_tax": HK_STAMP_DUTY,
    },
    "us": {
        "fees": {"rate": 0.0005, "minimum": 1.0},
        "sell_tax": SEC_FEE,
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
    withholding: float = 0.0
    half_spread: Dated = 0.0
    impact: float = 0.0


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
        withholding=costs.withholding,
        half_spread=costs.half_spread,
        impact=costs.impact,
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
