"""Trading rules and liquidity, from frames and settings to the kernel's arrays.

Risk limits (a maximum weight per name, a net exposure band, gross and net limits per
group of symbols), the drawdown rule and stops are applied by the kernel at its target
step (``engine/kernel/sim_nb.py``, step 3b and 10b-c), so a sweep, which never holds
targets, obeys them too. The participation cap and the square-root impact model need
traded volume: `trailing_liquidity` measures each bar's volatility and average daily
volume over the bars before it, never the bar itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.errors import SimulationError
from engine.kernel import sim_nb as nb

Execution = Literal["close", "open"]


@dataclass(frozen=True)
class GroupLimit:
    """Limits on one group of symbols: gross weight (sum of |weights|) at most `gross`,
    net weight (sum of weights) within `net`, a band that contains 0."""

    symbols: Sequence[str]
    gross: float = float("inf")
    net: tuple[float, float] = (float("-inf"), float("inf"))


@dataclass(frozen=True)
class DrawdownRule:
    """Cut every target weight to `fraction` of itself once the value has fallen
    `trigger` (a fraction) from its peak; restore once it has risen `recovery` from its
    lowest value since. Both moves trade at the next tradable bar."""

    trigger: float
    fraction: float
    recovery: float


@dataclass(frozen=True, eq=False)
class RuleArrays:
    """The kernel's liquidity and trading-rule arrays (``market[12:]``)."""

    volume_cap: npt.NDArray[np.float64]  # (V, N): V = 1 means no cap
    impact: npt.NDArray[np.float64]  # (I, N): I = 1 means no impact model
    max_weight: npt.NDArray[np.float64]  # (N,)
    groups: npt.NDArray[np.float64]  # (G, N)
    group_limits: npt.NDArray[np.float64]  # (G, 3)
    net_band: npt.NDArray[np.float64]  # (2,)
    drawdown: npt.NDArray[np.float64]  # (3,)
    stops: npt.NDArray[np.float64]  # (2, N)

    def args(self) -> tuple[Any, ...]:
        return (
            self.volume_cap,
            self.impact,
            self.max_weight,
            self.groups,
            self.group_limits,
            self.net_band,
            self.drawdown,
            self.stops,
        )

    @property
    def limits_on(self) -> bool:
        """Whether a limit or the drawdown rule cuts target weights."""
        return bool(
            np.isfinite(self.max_weight).any()
            or self.groups.shape[0] > 0
            or np.isfinite(self.net_band).any()
            or np.isfinite(self.drawdown[nb.DD_TRIGGER])
        )

    def window(self, start: int, stop: int) -> RuleArrays:
        """The same rules over bars ``[start, stop)``."""

        def rows(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            return np.ascontiguousarray(a[start:stop]) if a.shape[0] > 1 else a

        return RuleArrays(
            rows(self.volume_cap),
            rows(self.impact),
            self.max_weight,
            self.groups,
            self.group_limits,
            self.net_band,
            self.drawdown,
            self.stops,
        )


def trailing_liquidity(
    close: pd.DataFrame, volume: pd.DataFrame, window: int = 20
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each bar's volatility and average daily volume over the `window` bars before it.

    Volatility is the sample standard deviation (ddof 1) of close-to-close simple
    returns; ADV is the mean volume of the bars whose volume is known (a bar with volume
    0 or NaN, such as a Hong Kong half-day row, is left out). Bar t is never in its own
    window, so a fill at bar t's open or close knows both. At least
    ``max(2, window // 2)`` observations, else NaN (the impact term is then 0).
    """
    if window < 2:
        raise SimulationError(f"impact_window must be at least 2 bars, was {window}")
    least = max(2, window // 2)
    returns = close.ffill().pct_change(fill_method=None)
    returns = returns.where(close.notna())
    sigma = returns.rolling(window, min_periods=least).std(ddof=1).shift(1)
    known = volume.where(volume > 0.0)
    adv = known.rolling(window, min_periods=least).mean().shift(1)
    return sigma, adv


def rule_arrays(
    index: pd.Index,
    columns: pd.Index,
    *,
    close: pd.DataFrame,
    volume: pd.DataFrame | None,
    participation: float | None,
    execution: Execution,
    impact: npt.NDArray[np.float64],
    impact_window: int,
    volatility: pd.DataFrame | None,
    adv: pd.DataFrame | None,
    max_weight: npt.NDArray[np.float64],
    net_exposure: tuple[float, float] | None,
    group_limits: Mapping[str, GroupLimit],
    drawdown: DrawdownRule | None,
    stop_loss: npt.NDArray[np.float64],
    take_profit: npt.NDArray[np.float64],
) -> RuleArrays:
    """Validate the trading rules and liquidity inputs and build the kernel's arrays.

    `impact`, `max_weight`, `stop_loss` and `take_profit` are ``[N]`` already (per-asset
    values); frames are aligned to `index` and `columns`.
    """
    n_bars, n_assets = len(index), len(columns)
    vol = None if volume is None else _aligned_volume(volume, index, columns)
    if participation is not None:
        if not 0.0 < participation <= 1.0:
            raise SimulationError(f"participation must be in (0, 1], was {participation}")
        if vol is None:
            raise SimulationError("participation needs volume: pass volume=[T, N] shares")
        # at the open, the asset's last volume before the bar: on a union calendar the
        # row before may be a holiday of its exchange, with no volume at all
        known = vol.ffill().shift(1) if execution == "open" else vol
        arr = known.to_numpy(dtype=np.float64)
        cap = np.where(arr > 0.0, participation * arr, np.inf)  # NaN > 0 is False
        volume_cap = np.ascontiguousarray(cap if n_bars > 1 else np.vstack([cap, cap]))
    else:
        volume_cap = np.full((1, n_assets), np.inf)
    if np.any(impact > 0.0):
        if volatility is None or adv is None:
            if vol is None:
                raise SimulationError("impact needs volume (or volatility and adv)")
            volatility, adv = trailing_liquidity(close, vol, impact_window)
        sigma = _aligned(volatility, index, columns, "volatility")
        days = _aligned(adv, index, columns, "adv")
        with np.errstate(invalid="ignore", divide="ignore"):
            coef = impact[None, :] * sigma / np.sqrt(days)
        coef = np.where(np.isfinite(coef) & (coef > 0.0), coef, 0.0)
        impact_arr = np.ascontiguousarray(coef)
        if impact_arr.shape[0] == 1:  # one bar: keep it distinct from "no model"
            impact_arr = np.vstack([impact_arr, impact_arr])
    else:
        impact_arr = np.zeros((1, n_assets))
    band = _net_band(net_exposure, "net_exposure")
    members, limits = _groups(group_limits, columns)
    return RuleArrays(
        volume_cap=volume_cap,
        impact=impact_arr,
        max_weight=_positive(max_weight, "max_weight"),
        groups=members,
        group_limits=limits,
        net_band=band,
        drawdown=_drawdown(drawdown),
        stops=np.ascontiguousarray(
            np.vstack([_positive(stop_loss, "stop_loss"), _positive(take_profit, "take_profit")])
        ),
    )


def _aligned_volume(volume: pd.DataFrame, index: pd.Index, columns: pd.Index) -> pd.DataFrame:
    frame = volume.reindex(index=index, columns=columns)
    if len(frame.columns.difference(volume.columns)):
        raise SimulationError(
            f"volume has no column for {list(columns.difference(volume.columns))}"
        )
    values = frame.to_numpy(dtype=np.float64)
    bad = np.argwhere(values < 0.0)
    if len(bad):
        t, j = bad[0]
        raise SimulationError(f"volume of {columns[j]} on {index[t]} is negative ({values[t, j]})")
    return frame.astype(np.float64)


def _aligned(frame: pd.DataFrame, index: pd.Index, columns: pd.Index, name: str) -> np.ndarray:
    missing = columns.difference(frame.columns)
    if len(missing):
        raise SimulationError(f"{name} has no column for {list(missing)}")
    return frame.reindex(index=index, columns=columns).to_numpy(dtype=np.float64)


def _positive(values: npt.NDArray[np.float64], name: str) -> npt.NDArray[np.float64]:
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if np.isnan(arr).any() or (arr <= 0.0).any():
        raise SimulationError(f"{name} must be positive (inf: none), was {arr.min()}")
    return arr


def _net_band(band: tuple[float, float] | None, name: str) -> npt.NDArray[np.float64]:
    lo, hi = (-np.inf, np.inf) if band is None else (float(band[0]), float(band[1]))
    if not lo <= 0.0 <= hi:
        raise SimulationError(
            f"{name} must be a band [low, high] with low <= 0 <= high (a limit only ever "
            f"cuts exposure, so the band must contain a flat book), was [{lo}, {hi}]"
        )
    return np.array([lo, hi])


def _groups(
    limits: Mapping[str, GroupLimit], columns: pd.Index
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    members = np.zeros((len(limits), len(columns)))
    table = np.zeros((len(limits), 3))
    for g, (name, limit) in enumerate(limits.items()):
        unknown = [s for s in limit.symbols if s not in columns]
        if unknown:
            raise SimulationError(f"group_limits[{name!r}] names symbols not traded: {unknown}")
        members[g] = columns.isin(list(limit.symbols))
        if not limit.gross > 0.0:
            raise SimulationError(f"group_limits[{name!r}].gross must be positive")
        lo, hi = _net_band(limit.net, f"group_limits[{name!r}].net")
        table[g] = (limit.gross, lo, hi)
    return members, table


def _drawdown(rule: DrawdownRule | None) -> npt.NDArray[np.float64]:
    if rule is None:
        return np.array([np.inf, 1.0, np.inf])
    if not 0.0 < rule.trigger < 1.0:
        raise SimulationError(f"drawdown trigger must be in (0, 1), was {rule.trigger}")
    if not 0.0 <= rule.fraction < 1.0:
        raise SimulationError(f"drawdown fraction must be in [0, 1), was {rule.fraction}")
    if not rule.recovery > 0.0:
        raise SimulationError(f"drawdown recovery must be positive, was {rule.recovery}")
    return np.array([rule.trigger, rule.fraction, rule.recovery])
