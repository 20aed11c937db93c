"""How sure the numbers are: the bootstrap behind the confidence intervals, and the bounds
``eastwind check`` holds a metric to.

``report.bootstrap`` sets the seeded block bootstrap of daily returns
(`engine.bootstrap`); ``check.bounds`` holds a metric inside limits whatever its
baseline (e.g. the 5th percentile of the bootstrapped Sharpe above 0).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from engine.config.base import ConfigModel


class BootstrapConfig(ConfigModel):
    """A stationary block bootstrap of the daily returns (Politis & Romano, 1994).

    ``samples`` resampled paths (0 switches it off) of blocks of geometric length with
    mean ``block`` bars: ``auto`` is ``ceil(T ** (1/3))`` for T bars, the rate that
    minimises the error of block-bootstrap variance estimates (Hall, Horowitz & Jing,
    1995): 10 bars for 4 years of days. ``seed`` makes reruns bit-identical.
    """

    samples: Annotated[int, Field(ge=0, le=100_000)] = 1000
    block: Annotated[int, Field(ge=1, le=1000)] | Literal["auto"] = "auto"
    seed: Annotated[int, Field(ge=0)] = 0


class Bound(ConfigModel):
    """Limits a metric must stay within in ``eastwind check``: ``min <= value <= max``."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"max {self.max} is below min {self.min}")
        return self
