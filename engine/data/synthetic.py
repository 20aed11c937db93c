"""The offline synthetic source: a seeded, regime-switching factor model.

Daily log returns on one weekday grid (2000-01-03 .. 2035-12-31)::

    r[i, t] = drift_i + beta_i * (market_t + region_t) + sector_t + idio[i, t]
              + earnings[i, t] + flow_effect[i, t]

- ``market`` switches between a calm and a stressed regime (a two-state Markov chain:
  an episode starts about every two years, lasts about three months and has 1.8 times
  the volatility and a falling drift, like 2008, 2020 or 2022).
- Every factor and every idiosyncratic series is a stationary GARCH(1,1): persistence
  alpha + beta = 0.97, so a shock's effect on the variance halves in about 23 days,
  and the conditional variance is capped at 4 times its long-run level. Shocks are
  Student-t(4) scaled to unit variance and winsorised at 5 deviations. Together these
  keep the tails equity-like: over 2010-2025 and seeds 0-5 an index moves at most about
  12% in a day and a single stock about 35%, against 11-13% (SPY, QQQ, HSI) and 30-36%
  (NVDA, META, 1024.HK, 9618.HK) in the real files.
- ``earnings``: one day a quarter a stock gaps by a normal draw of 2.5 daily
  idiosyncratic deviations (clipped at 3.5 of its own), the source of many of a real
  stock's largest moves.
- A broad index (SPY, 2800.HK) has a small own sector factor, so its members correlate
  with it about as they do with the real index (0.4-0.8); 2800.HK loads on the China
  internet factor, as the Hang Seng Index does.
- Each asset trades on its exchange's sessions (exchange-calendars: XHKG and XNYS have
  different holidays); returns on days the exchange is closed accrue into the next
  session. Known late listings start at their listing date; Hong Kong stocks have
  occasional suspensions (NaN runs) after which the price resumes where the latent
  path went.
- USD/HKD stays inside the 7.75-7.85 band.
- `synthetic_holdings`: per-stock southbound holdings in the akshare source's shape,
  moved by those flows, for the southbound series of ``data.extras``.
- ``southbound_net_buy`` (HKD millions, per HK stock) is a noisy read of a persistent
  latent signal that also drives the stock's return over the next week; `flow_link`
  sets the strength (0 removes the link). ``traded_value`` (HKD millions, per HK
  stock) is the day's turnover, persistent around a stock-specific level, so flows can
  be normalised by it.
- Volume (shares per session) is the day's traded value over its close. The value moves
  around a per-asset level: for a Hong Kong stock the ``traded_value`` series above, for
  a US ETF (QQQ, SPY) a level drawn once between USD 10 and 25 billion a day, for another
  US stock between USD 5 and 30 billion (a mega cap's), each clustered by a persistent
  lognormal activity. On top of it the day's turnover reacts to the size of its move (a
  three-deviation day trades about twice as much as a typical one) with lognormal
  noise. An index (``^HSI``, a lot size of 0) has no volume (NaN). Volume draws from
  streams of its own: the prices are those of a source without volume, bit for bit.

Every component is seeded from a SHA-256 of (seed, component name) and generated on the
whole grid, so a symbol's series on a date depends on neither the window nor the other
symbols requested, as with real data. Every market built here is labelled synthetic.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from engine.data import calendars
from engine.data.market import Market, assemble_market, asset_info
from engine.errors import DataError

GRID_START = pd.Timestamp("2000-01-03")
GRID_END = pd.Timestamp("2035-12-31")
_DAYS = 252.0
FLOW_HORIZON = 5  # bars over which a flow signal feeds into returns

# Volatility: GARCH(1,1) with persistence alpha + beta = 0.97 (a shock's effect on the
# variance halves in about 23 days), conditional variance capped at VARIANCE_CAP times its
# long-run level, and Student-t(4) shocks scaled to unit variance, winsorised at SHOCK_CLIP.
GARCH_ALPHA = 0.10
GARCH_BETA = 0.87
VARIANCE_CAP = 4.0
SHOCK_DF = 4.0
SHOCK_CLIP = 5.0
# The market regime: calm, or stressed (2008, 2020, 2022) with higher volatility and a
# falling drift; the chances are per day.
MARKET_VOL = 0.12
STRESS_ENTRY = 0.002
STRESS_EXIT = 0.015
STRESS_VOL = 1.8
STRESS_DRIFT = -0.30
CALM_DRIFT = 0.03
# Earnings: one day a quarter the stock gaps by a normal draw of EARNINGS_SIZE daily
# idiosyncratic deviations, clipped at EARNINGS_CLIP of its own deviations.
EARNINGS_EVERY = 63
EARNINGS_SIZE = 2.5
EARNINGS_CLIP = 3.5
# Volume: the day's traded value is its level x exp(VOLUME_MOVE x (|move| in daily
# deviations, at most VOLUME_MOVE_CAP, less its mean) + VOLUME_NOISE x a normal draw).
US_ETFS = frozenset({"QQQ", "SPY"})
US_ETF_VALUE = (10e9, 25e9)  # USD a day
US_STOCK_VALUE = (5e9, 30e9)
VOLUME_ACTIVITY = 0.4  # log deviation of the persistent activity (AR(1), 0.95)
VOLUME_MOVE = 0.35
VOLUME_MOVE_CAP = 6.0
VOLUME_NOISE = 0.15


@dataclass(frozen=True)
class Profile:
    """How a synthetic asset behaves: factor loadings, noise and listing date."""

    sector: str
    beta: float
    idio_vol: float
    drift: float
    listed: str | None = None


_PROFILES: dict[str, Profile] = {
    "0700.HK": Profile("china_internet", 1.1, 0.25, 0.06, None),
    "9988.HK": Profile("china_internet", 1.2, 0.38, 0.02, "2019-11-26"),
    "1810.HK": Profile("china_internet", 1.2, 0.36, 0.06, "2018-07-09"),
    "1024.HK": Profile("china_internet", 1.3, 0.50, -0.02, "2021-02-05"),
    "3690.HK": Profile("china_internet", 1.3, 0.45, 0.04, "2018-09-20"),
    "9618.HK": Profile("china_internet", 1.1, 0.45, 0.02, "2020-06-18"),
    "9999.HK": Profile("china_internet", 1.0, 0.28, 0.05, "2020-06-11"),
    "QQQ": Profile("us_tech", 1.0, 0.02, 0.09, None),
    "SPY": Profile("broad", 0.9, 0.01, 0.07, None),
    "AAPL": Profile("us_tech", 1.0, 0.20, 0.12, None),
    "MSFT": Profile("us_tech", 1.0, 0.18, 0.12, None),
    "NVDA": Profile("us_semis", 1.5, 0.35, 0.20, None),
    "AMZN": Profile("us_tech", 1.2, 0.25, 0.10, None),
    "GOOGL": Profile("us_tech", 1.0, 0.22, 0.10, "2004-08-19"),
    "META": Profile("us_tech", 1.2, 0.30, 0.10, "2012-05-18"),
    "TSLA": Profile("us_auto", 1.6, 0.50, 0.15, "2010-06-29"),
    "2800.HK": Profile("china_internet", 0.9, 0.05, 0.04, None),
}

_REGION_VOL = {"US": 0.10, "HK": 0.14}
# A broad index (SPY) holds every sector, so its own sector factor is small; Hong Kong
# internet names move together more than US tech does (other sectors: 0.10).
_SECTOR_VOL = {"broad": 0.03, "china_internet": 0.16}


def _rng(seed: int, component: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{component}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _profile(seed: int, symbol: str, exchange: str) -> Profile:
    if symbol in _PROFILES:
        return _PROFILES[symbol]
    rng = _rng(seed, f"profile:{symbol}")
    sector = "china_internet" if exchange == "XHKG" else "us_tech"
    return Profile(sector, rng.uniform(0.8, 1.3), rng.uniform(0.15, 0.35), rng.uniform(0, 0.1))


@lru_cache(maxsize=1)
def _grid() -> pd.DatetimeIndex:
    return pd.bdate_range(GRID_START, GRID_END)


def _garch(rng: np.random.Generator, n: int, annual_vol: float) -> np.ndarray:
    """Student-t shocks with a stationary, capped GARCH(1,1) variance scaled to `annual_vol`."""
    shocks = rng.standard_t(SHOCK_DF, size=n) / np.sqrt(SHOCK_DF / (SHOCK_DF - 2.0))
    # with the variance cap, winsorising bounds a day's move: one draw cannot start a bubble
    shocks = np.clip(shocks, -SHOCK_CLIP, SHOCK_CLIP)
    long_run = (annual_vol / np.sqrt(_DAYS)) ** 2
    omega = (1.0 - GARCH_ALPHA - GARCH_BETA) * long_run
    cap = VARIANCE_CAP * long_run
    # Python floats, not numpy scalars: the same IEEE arithmetic at a third of the cost
    out = []
    var = float(long_run)
    for shock in shocks.tolist():
        x = math.sqrt(var) * shock
        out.append(x)
        var = min(omega + GARCH_BETA * var + GARCH_ALPHA * x**2, cap)
    return np.array(out, dtype=np.float64)


@lru_cache(maxsize=32)
def _market_factor(seed: int) -> np.ndarray:
    rng = _rng(seed, "factor:market")
    n = len(_grid())
    stress = np.zeros(n, dtype=bool)
    state = False
    draws = rng.random(n)
    for t in range(n):  # a stress episode starts about every two years and lasts ~3 months
        state = draws[t] < (1.0 - STRESS_EXIT if state else STRESS_ENTRY)
        stress[t] = state
    base = _garch(rng, n, MARKET_VOL)
    return np.where(stress, STRESS_VOL * base + STRESS_DRIFT / _DAYS, base + CALM_DRIFT / _DAYS)


@lru_cache(maxsize=64)
def _factor(seed: int, name: str, annual_vol: float) -> np.ndarray:
    return _garch(_rng(seed, f"factor:{name}"), len(_grid()), annual_vol)


@lru_cache(maxsize=8)
def _usdhkd(seed: int) -> np.ndarray:
    walk = np.cumsum(_rng(seed, "fx:USDHKD").normal(0.0, 0.04, len(_grid())))
    return 7.80 + 0.045 * np.tanh(walk / 8.0)


def _earnings(rng: np.random.Generator, n: int, idio_vol: float) -> np.ndarray:
    jumps = np.zeros(n, dtype=np.float64)
    days = np.arange(rng.integers(EARNINGS_EVERY), n, EARNINGS_EVERY)
    size = np.clip(rng.standard_normal(len(days)), -EARNINGS_CLIP, EARNINGS_CLIP)
    jumps[days] = EARNINGS_SIZE * idio_vol / np.sqrt(_DAYS) * size
    return jumps


def _suspensions(rng: np.random.Generator, n: int, per_year: float) -> np.ndarray:
    halted = np.zeros(n, dtype=bool)
    for start in np.flatnonzero(rng.random(n) < per_year / _DAYS):
        halted[start : start + 1 + rng.geometric(0.2)] = True
    return halted


def _ar1(noise: np.ndarray, phi: float) -> np.ndarray:
    """The AR(1) ``x[t] = phi x[t-1] + sqrt(1 - phi^2) noise[t]`` from ``x[0] = 0``."""
    scale = math.sqrt(1.0 - phi * phi)
    out = [0.0]
    for shock in noise[1:].tolist():  # Python floats: see `_garch`
        out.append(phi * out[-1] + scale * shock)
    return np.array(out, dtype=np.float64)


@dataclass(frozen=True)
class _Paths:
    """One asset's latent series on the whole grid; flows only for Hong Kong stocks."""

    level: np.ndarray
    opened: np.ndarray
    keep: np.ndarray
    flows: pd.Series | None
    turnover: pd.Series | None  # HKD millions a day


@lru_cache(maxsize=32)
def _paths(seed: int, symbol: str, exchange: str, flow_link: float) -> _Paths:
    grid = _grid()
    n = len(grid)
    p = _profile(seed, symbol, exchange)
    region = "HK" if exchange == "XHKG" else "US"
    rng = _rng(seed, f"asset:{symbol}")
    log_ret = (
        p.drift / _DAYS
        + p.beta * (_market_factor(seed) + _factor(seed, f"region:{region}", _REGION_VOL[region]))
        + _factor(seed, f"sector:{p.sector}", _SECTOR_VOL.get(p.sector, 0.10))
        + _garch(rng, n, p.idio_vol)
        + _earnings(_rng(seed, f"earnings:{symbol}"), n, p.idio_vol)
    )
    flows = turnover = None
    if region == "HK":
        frng = _rng(seed, f"flow:{symbol}")
        signal = _ar1(frng.normal(size=n), 0.9)  # persistent latent demand
        daily_idio = p.idio_vol / np.sqrt(_DAYS)
        effect = flow_link * daily_idio * signal
        for k in range(1, FLOW_HORIZON + 1):  # today's demand moves the next week's prices
            log_ret[k:] += effect[:-k] / FLOW_HORIZON
        flows = pd.Series(300.0 * (signal + 1.5 * frng.normal(size=n)), index=grid)
        trng = _rng(seed, f"turnover:{symbol}")
        activity = _ar1(trng.normal(size=n), 0.95)  # traded value clusters like volatility
        turnover = pd.Series(trng.uniform(800.0, 8000.0) * np.exp(0.4 * activity), index=grid)

    level = np.exp(np.cumsum(log_ret)) * _rng(seed, f"level:{symbol}").uniform(20.0, 400.0)
    gap = _rng(seed, f"open:{symbol}").normal(0.0, 0.004, n)
    opened = np.concatenate(([level[0]], level[:-1])) * np.exp(gap)
    halted = _suspensions(_rng(seed, f"halt:{symbol}"), n, 0.3 if region == "HK" else 0.0)
    listed = pd.Timestamp(p.listed) if p.listed else GRID_START
    keep = (~halted) & (grid >= listed)
    return _Paths(level, opened, keep, flows, turnover)


@lru_cache(maxsize=32)
def _volume(seed: int, symbol: str, exchange: str, flow_link: float) -> np.ndarray | None:
    """Shares traded on each grid day (NaN where not traded); None for an index."""
    if symbol.startswith("^") or asset_info(symbol).lot_size == 0:
        return None
    paths = _paths(seed, symbol, exchange, flow_link)
    n = len(_grid())
    vrng = _rng(seed, f"volume:{symbol}")
    if paths.turnover is not None:
        level = paths.turnover.to_numpy() * 1e6
    else:
        low, high = US_ETF_VALUE if symbol in US_ETFS else US_STOCK_VALUE
        typical = math.exp(vrng.uniform(math.log(low), math.log(high)))
        level = typical * np.exp(VOLUME_ACTIVITY * _ar1(vrng.normal(size=n), 0.95))
    returns = np.diff(np.log(paths.level), prepend=np.log(paths.level[0]))
    size = np.minimum(np.abs(returns) / np.std(returns), VOLUME_MOVE_CAP)
    react = VOLUME_MOVE * (size - np.mean(size)) + VOLUME_NOISE * vrng.normal(size=n)
    shares = np.maximum(np.rint(level * np.exp(react) / paths.level), 1.0)
    return np.where(paths.keep, shares, np.nan)


def _asset(
    seed: int, symbol: str, exchange: str, flow_link: float, sessions: pd.DatetimeIndex
) -> tuple[pd.Series, pd.Series, pd.DataFrame | None, pd.Series | None]:
    """Return close, open, (HK only) flows and (not for an index) volume of one asset on
    the given sessions."""
    grid = _grid()
    paths = _paths(seed, symbol, exchange, flow_link)
    keep = paths.keep
    close = pd.Series(np.where(keep, paths.level, np.nan), index=grid).reindex(sessions)
    open_ = pd.Series(np.where(keep, paths.opened, np.nan), index=grid).reindex(sessions)
    flows = None
    if paths.flows is not None and paths.turnover is not None:
        flows = pd.concat(
            {"flow": paths.flows.where(keep), "traded": paths.turnover.where(keep)}, axis=1
        ).reindex(sessions)
    shares = _volume(seed, symbol, exchange, flow_link)
    volume = None if shares is None else pd.Series(shares, index=grid).reindex(sessions)
    return close, open_, flows, volume


def synthetic_holdings(
    symbols: Sequence[str],
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    seed: int = 7,
    flow_link: float = 0.1,
) -> dict[str, pd.DataFrame]:
    """Southbound holdings of each Hong Kong stock in `symbols`, on its trading sessions
    in [start, end], shaped like the akshare source's (`engine.data.southbound`).

    Shares held move by each grid day's synthetic net buying (the ``southbound_net_buy``
    series) divided by the day's price, from a base that keeps them positive over the
    whole grid; issued shares are constant. So the estimated net buying of a session
    is the flows since the session before, at that session's close.
    """
    out: dict[str, pd.DataFrame] = {}
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    for symbol in symbols:
        info = asset_info(symbol)
        if info.exchange != "XHKG":
            continue
        paths = _paths(seed, symbol, info.exchange, flow_link)
        if paths.flows is None:
            continue
        bought = np.where(paths.keep, paths.flows.to_numpy() * 1e6 / paths.level, 0.0)
        path = np.cumsum(bought)
        swing = float(np.max(np.abs(path))) or 1.0
        issued = 4.0 * swing  # shares held stay in (0.05, 0.55) of the issued shares
        shares = 0.3 * issued + path
        sessions = calendars.sessions("XHKG", start_ts, end_ts)
        frame = pd.DataFrame(
            {
                "close": paths.level,
                "holding_shares": shares,
                "holding_value": shares * paths.level,
                "holding_ratio": shares / issued,
            },
            index=_grid(),
        )
        frame = frame[paths.keep].reindex(sessions).dropna()
        frame.index.name = "date"
        out[symbol] = frame
    return out


def synthetic_market(
    symbols: Sequence[str],
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    seed: int = 7,
    base_currency: str = "USD",
    flow_link: float = 0.1,
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
    flow_link
        Strength of the link from southbound flows to the next week's returns, in units
        of the stock's daily idiosyncratic volatility (0 = no link).

    Raises
    ------
    DataError
        For an empty or duplicated symbol list, a window outside the grid, `start`
        after `end`, or a symbol with no price in the window (e.g. not yet listed).
    """
    if not symbols:
        raise DataError("no symbols requested; list at least one under data.symbols")
    duplicated = sorted({s for s in symbols if list(symbols).count(s) > 1})
    if duplicated:
        raise DataError(f"symbols listed twice: {duplicated}")
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    if start_ts > end_ts:
        raise DataError(f"start {start_ts.date()} is after end {end_ts.date()}")
    if start_ts < GRID_START or end_ts > GRID_END:
        raise DataError(
            f"synthetic data covers {GRID_START.date()} .. {GRID_END.date()}; "
            f"the window {start_ts.date()} .. {end_ts.date()} is outside it"
        )
    if base_currency not in ("USD", "HKD"):
        raise DataError(f"base currency {base_currency!r} is not supported; use USD or HKD")

    info = {s: asset_info(s) for s in symbols}
    closes, opens, volumes, flows, traded = {}, {}, {}, {}, {}
    for symbol in symbols:
        exchange = info[symbol].exchange
        mic = exchange if exchange in ("XHKG", "XNYS", "XNAS") else "XNYS"
        sessions = calendars.sessions(mic, start_ts - pd.Timedelta(days=7), end_ts)
        close, opened, flow, volume = _asset(seed, symbol, exchange, flow_link, sessions)
        closes[symbol], opens[symbol] = close, opened
        if volume is not None:
            volumes[symbol] = volume
        if flow is not None:
            flows[symbol], traded[symbol] = flow["flow"], flow["traded"]
    hkd_in_usd = pd.Series(1.0 / _usdhkd(seed), index=_grid())
    fx = {"HKD": hkd_in_usd} if base_currency == "USD" else {"USD": 1.0 / hkd_in_usd}
    extras: dict[str, pd.DataFrame | pd.Series] = {}
    if flows:
        extras["southbound_net_buy"] = pd.DataFrame(flows).reindex(columns=list(symbols))
        extras["traded_value"] = pd.DataFrame(traded).reindex(columns=list(symbols))
    return assemble_market(
        closes,
        opens,
        info,
        fx,
        base_currency=base_currency,
        source="synthetic",
        start=start_ts,
        end=end_ts,
        extras=extras,
        volumes=volumes,
    )
