"""The strategy library: every strategy `eastwind` knows, by name."""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from engine.strategy import Strategy
from strategies.buy_and_hold import BuyAndHold
from strategies.equal_weight import EqualWeight
from strategies.factor_rank import FactorRank
from strategies.fixed_weights import FixedWeights
from strategies.flow_following import FlowFollowing
from strategies.inverse_volatility import InverseVolatility
from strategies.long_short import LongShort
from strategies.momentum import Momentum
from strategies.trend import Trend

REGISTRY: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        BuyAndHold,
        EqualWeight,
        FactorRank,
        FixedWeights,
        FlowFollowing,
        InverseVolatility,
        LongShort,
        Momentum,
        Trend,
    )
}


def summary(cls: type[Strategy]) -> str:
    """The first paragraph of a strategy's docstring, on one line."""
    return " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type_name(args[0])
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (Union, UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is not None:
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def describe_params(cls: type[Strategy]) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) of each parameter of a strategy."""
    rows = []
    for name, field in cls.params_model.model_fields.items():
        if field.is_required():
            default = "(required)"
        else:
            default = repr(field.get_default(call_default_factory=True))
        rows.append((name, _type_name(field.annotation), default, field.description or ""))
    return rows


__all__ = ["REGISTRY", "describe_params", "summary"]
