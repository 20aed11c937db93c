"""Risk settings of the portfolio: weight limits, the drawdown rule and stops.

They are applied by the kernel to the strategy's target weights (limits, the drawdown
rule) and to held positions (stops), so a sweep honours them as a run does. A setting
given per symbol is a number for every symbol, or a mapping ``{symbol: number}`` with
an optional ``default`` for the symbols it does not name (`per_symbol`). The symbols
and group names are checked against ``data.symbols`` by `check_risk_names`, which the
run config calls once both sections are validated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from engine.config.base import ConfigModel, Loc

Positive = Annotated[float, Field(gt=0.0)]
PerSymbol = Positive | dict[str, Positive]
Band = tuple[float, float]
DEFAULT = "default"  # the key of a per-symbol mapping that covers the other symbols


def _band(value: Band | None) -> Band | None:
    if value is not None and not value[0] <= 0.0 <= value[1]:
        low, high = value
        raise ValueError(
            f"[{low:g}, {high:g}] must contain 0 (low <= 0 <= high): a band that excludes "
            "a flat book cannot always be met; e.g. [-0.1, 0.3]"
        )
    return value


class GroupLimitConfig(ConfigModel):
    """Limits on one group of ``data.symbols``: gross (sum of |weights|) and a net band."""

    gross: Positive | None = Field(default=None, description="largest sum of |weights|")
    net: Band | None = Field(
        default=None, description="[low, high] of the sum of signed weights, low <= 0 <= high"
    )

    @field_validator("net")
    @classmethod
    def _net(cls, value: Band | None) -> Band | None:
        return _band(value)


class LimitsConfig(ConfigModel):
    """Weight limits applied to the strategy's targets in the kernel's target step.

    ``max_weight`` caps each name's |weight|; ``net`` bands the book's net exposure (sum
    of signed weights); ``groups`` limits named groups of ``data.symbols``.
    """

    max_weight: PerSymbol | None = Field(
        default=None, description="largest |weight| of one name: a number or {symbol: number}"
    )
    net: Band | None = Field(
        default=None, description="[low, high] of the book's net exposure, low <= 0 <= high"
    )
    groups: dict[str, GroupLimitConfig] = Field(default_factory=dict)

    @field_validator("net")
    @classmethod
    def _net(cls, value: Band | None) -> Band | None:
        return _band(value)


class DrawdownConfig(ConfigModel):
    """Cut every target to ``fraction`` after a fall of ``trigger`` from the peak value;
    restore after a rise of ``recovery`` from the trough."""

    trigger: Annotated[float, Field(gt=0.0, lt=1.0, description="drawdown that starts the cut")]
    fraction: Annotated[float, Field(ge=0.0, lt=1.0, description="share of the targets kept")]
    recovery: Annotated[float, Field(gt=0.0, description="rise from the trough that ends it")]


class StopsConfig(ConfigModel):
    """Exit a position when its close moves ``stop_loss`` against its entry price, or
    ``take_profit`` in its favour (fractions of the entry price)."""

    stop_loss: PerSymbol | None = None
    take_profit: PerSymbol | None = None

    @model_validator(mode="after")
    def _some(self) -> StopsConfig:
        if self.stop_loss is None and self.take_profit is None:
            raise ValueError("give stop_loss, take_profit or both")
        return self


def per_symbol(
    value: float | Mapping[str, float] | None, symbols: Sequence[str]
) -> dict[str, float]:
    """Return symbol -> value: `value` for all, or the mapping's entry, else its
    ``default``, else ``inf`` (no limit); ``inf`` for all when `value` is None."""
    if value is None:
        return dict.fromkeys(symbols, math.inf)
    if isinstance(value, Mapping):
        fallback = value.get(DEFAULT, math.inf)
        return {s: float(value.get(s, fallback)) for s in symbols}
    return dict.fromkeys(symbols, float(value))


def _error(loc: Loc, message: str, given: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=given)


def check_risk_names(
    limits: LimitsConfig | None,
    stops: StopsConfig | None,
    symbols: Sequence[str],
    groups: Mapping[str, Sequence[str]],
) -> None:
    """Raise a `ValidationError` located at the setting that names an unknown group or
    symbol (``portfolio.limits.groups.<name>``), listing the known ones."""
    errors = []
    known = ", ".join(symbols)
    if limits is not None:
        for name in limits.groups:
            if name not in groups:
                listed = ", ".join(groups) or "none: data.symbols is a list, not a mapping"
                errors.append(
                    _error(
                        ("portfolio", "limits", "groups", name),
                        f"unknown group {name!r}; the groups of data.symbols are: {listed}",
                        {name: limits.groups[name].model_dump()},
                    )
                )
    settings = [("limits", "max_weight", limits.max_weight if limits else None)]
    if stops is not None:
        settings += [("stops", "stop_loss", stops.stop_loss)]
        settings += [("stops", "take_profit", stops.take_profit)]
    for section, name, value in settings:
        if not isinstance(value, Mapping):
            continue
        for symbol in value:
            if symbol != DEFAULT and symbol not in symbols:
                errors.append(
                    _error(
                        ("portfolio", section, name, symbol),
                        f"{symbol!r} is not in data.symbols ({known}); name a symbol or "
                        f"'{DEFAULT}'",
                        {symbol: value[symbol]},
                    )
                )
    if errors:
        raise ValidationError.from_exception_data("RunConfig", errors)
