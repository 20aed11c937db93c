"""The offline synthetic source: a seeded factor model.

The model is deliberately small for now (market and region factors with volatility
clustering, fat-tailed idiosyncratic noise, HKD held in its band). Each series is
generated on one fixed business-day grid and seeded from a stable hash of
(seed, component), so a symbol's prices on a date do not depend on the requested
window or on the other symbols, as with real data. Every market it builds is
labelled ``source="synthetic"``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from engine.data.market import Market, asset_info
from engine.errors import DataError

_GRID_START = pd.Timestamp("2000-01-03")
_GRID_END = pd.Timestamp("2035-12-31")
_TRADING_DAYS = 252.0


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
        region = "HK" if info.exchange == "XHKG" else "US"
        log_ret = drift + beta * market + regions[region] + idio
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
        lot_size={s: asset_info(s).lot_size for s in symbols},
        exchange={s: asset_info(s).exchange for s in symbols},
        fx=fx,
        base_currency=base_currency,
        source="synthetic",
    )
