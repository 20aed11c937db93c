"""The strategy library: every strategy `eastwind` knows, by name."""

from __future__ import annotations

from engine.strategy import Strategy
from strategies.equal_weight import EqualWeight
from strategies.fixed_weights import FixedWeights

REGISTRY: dict[str, type[Strategy]] = {cls.name: cls for cls in (EqualWeight, FixedWeights)}

__all__ = ["REGISTRY"]
