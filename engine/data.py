"""Market data: the `Market` container and the offline synthetic source.

`Market` holds one date index with close/open prices ``[T, N]`` (NaN where an asset did
not trade), per-asset metadata, fx to the base currency and named extra series.

The synthetic source is a seeded factor model. Each series is generated on one fixed
business-day grid and seeded from a stable hash of (seed, component), so a symbol's
prices on a date do not depend on the requested window or on the other symbols — the
property real data has. Every market it builds is labelled ``source="synthetic"``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.errors import DataError

_GRID_START = pd.Timestamp("2000-01-03")
_GRID_END = pd.Timestamp("2035-12-31")
_TRADING_DAYS = 252.0


@dataclass(frozen=True)
class AssetInfo:
    """Static metadata of one asset."""

    currency: str
    lot_size: float
    region: str


# Board lots as set by HKEX for each counter; US shares trade in single units.
_KNOWN: dict[str, AssetInfo] = {
    "0700.HK": AssetInfo("HKD", 100, "HK"),
    "9988.HK": AssetInfo("HKD", 100, "HK"),
    "1810.HK": AssetInfo("HKD", 200, "HK"),
    "1024.HK": AssetInfo("HKD", 100, "HK"),
    "3690.HK": AssetInfo("HKD", 100, "HK"),
    "9618.HK": AssetInfo("HKD", 50, "HK"),
}


def asset_info(symbol: str) -> AssetInfo:
    """Return the built-in metadata of `symbol` (suffix ``.HK`` means HKD, else USD)."""
    if symbol in _KNOWN:
        return _KNOWN[symbol]
    if symbol.endswith(".HK"):
        return AssetInfo("HKD", 100, "HK")
    return AssetInfo("USD", 1, "US")


@dataclass(frozen=True, eq=False)
class Market:
    """Aligned prices and metadata for a set of assets over one date index.

    ``fx`` has one column per currency: the price of one unit of it in `base_currency`.
    """

    close: pd.DataFrame
    open: pd.DataFrame
    currency: dict[str, str]
    lot_size: dict[str, float]
    fx: pd.DataFrame
    base_currency: str
    source: str
    extras: dict[str, pd.DataFrame | pd.Series] = field(default_factory=dict)

    @property
    def index(self) -> pd.DatetimeIndex:
        """The bar dates."""
        return self.close.index  # type: ignore[return-value]

    @property
    def symbols(self) -> list[str]:
        """Asset symbols in column order."""
        return list(self.close.columns)

    @property
    def is_synthetic(self) -> bool:
        """True when the prices are made up by the synthetic source."""
        return self.source == "synthetic"


def _rng(seed: int, component: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{component}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _grid() -> pd.DatetimeIndex:
    return pd.bdate_range(_GRID_START, _GRID_END)


def _factor(seed: int, name: str, n: int, annual_vol: float) -> np.ndarray:
    """Daily factor returns with GARCH-like volatility clustering."""
    rng = _rng(seed, f"factor:{name}")
    shocks = rng.standard_t(df=5, size=n) / np.sqrt(5.0 / 3.0)
    daily = annual_vol / np.sqrt(_TRADING_DAYS)
    out = np.empty(n, dtype=np.float64)
    variance = daily**2
    for t in range(n):
        out[t] = np.sqrt(variance) * shocks[t]
        variance = 0.05 * daily**2 + 0.85 * variance + 0.10 * out[t] ** 2
    return out


def synthetic_market(
    symbols: Sequence[str],
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    seed: int = 7,
    base_currency: str = "USD",
) -> Market:
    """Build a deterministic synthetic market for `symbols` between `start` and `end`.

    Parameters
    ----------
    symbols
        Asset symbols; ``*.HK`` symbols are Hong Kong stocks quoted in HKD.
    start, end
        Inclusive window, within 2000-01-03 .. 2035-12-31.
    seed
        Seed of every random component; the same seed gives identical data.
    base_currency
        ``"USD"`` or ``"HKD"``: the currency the fx columns convert into.

    Raises
    ------
    DataError
        For an empty or duplicated symbol list, a window outside the grid, or
        `start` after `end`.
    """
    if not symbols:
        raise DataError("no symbols requested; list at least one under data.symbols")
    duplicated = sorted({s for s in symbols if list(symbols).count(s) > 1})
    if duplicated:
        raise DataError(f"symbols listed twice: {duplicated}")
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    if start_ts > end_ts:
        raise DataError(f"start {start_ts.date()} is after end {end_ts.date()}")
    if start_ts < _GRID_START or end_ts > _GRID_END:
        raise DataError(
            f"synthetic data covers {_GRID_START.date()} .. {_GRID_END.date()}; "
            f"the window {start_ts.date()} .. {end_ts.date()} is outside it"
        )
    if base_currency not in ("USD", "HKD"):
        raise DataError(f"base currency {base_currency!r} is not supported; use USD or HKD")

    grid = _grid()
    n = len(grid)
    market = _factor(seed, "market", n, 0.14)
    regions = {"HK": _factor(seed, "region:HK", n, 0.16), "US": _factor(seed, "region:US", n, 0.08)}

    closes, opens = {}, {}
    for symbol in symbols:
        info = asset_info(symbol)
        rng = _rng(seed, f"asset:{symbol}")
        beta = rng.uniform(0.8, 1.3)
        idio_vol = rng.uniform(0.15, 0.35) / np.sqrt(_TRADING_DAYS)
        drift = rng.uniform(0.0, 0.10) / _TRADING_DAYS
        idio = rng.standard_t(df=4, size=n) / np.sqrt(2.0) * idio_vol
        log_ret = drift + beta * market + regions[info.region] + idio
        level = rng.uniform(20.0, 400.0)
        close = level * np.exp(np.cumsum(log_ret))
        gap = rng.normal(0.0, 0.004, size=n)
        opens[symbol] = np.concatenate(([close[0]], close[:-1])) * np.exp(gap)
        closes[symbol] = close

    window = (grid >= start_ts) & (grid <= end_ts)
    if not window.any():
        raise DataError(f"no business days between {start_ts.date()} and {end_ts.date()}")
    index = grid[window]
    close_frame = pd.DataFrame(closes, index=grid).loc[index]
    open_frame = pd.DataFrame(opens, index=grid).loc[index]

    usdhkd = 7.80 + 0.045 * np.tanh(np.cumsum(_rng(seed, "fx:USDHKD").normal(0.0, 0.05, n)))
    hkd_in_usd = pd.Series(1.0 / usdhkd, index=grid).loc[index]
    if base_currency == "USD":
        fx = pd.DataFrame({"HKD": hkd_in_usd})
    else:
        fx = pd.DataFrame({"USD": 1.0 / hkd_in_usd})

    return Market(
        close=close_frame,
        open=open_frame,
        currency={s: asset_info(s).currency for s in symbols},
        lot_size={s: float(asset_info(s).lot_size) for s in symbols},
        fx=fx,
        base_currency=base_currency,
        source="synthetic",
    )
