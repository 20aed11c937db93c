"""Dated cost settings and rate series, put onto the bars for `prepare_market`.

`engine.pipeline.prepare_kernel` resolves each asset's costs and the portfolio's rates
from the config, then turns them into what `engine.inputs.prepare_market` takes:

- `per_asset`: one cost setting across the assets. Numbers stay a mapping symbol ->
  number, exactly what a run without schedules passes, and so does a schedule that does
  not change within the run; one that changes becomes a frame of effective dates x
  symbols, which the kernel reads as cost segments (nothing extra where nothing changes).
- `rate_on_bars`: a rate (number, dated schedule or series) as a number, or as a
  Series holding the annual rate of each simulated bar, carried forward from the last
  value on or before the bar.
- `borrow_on_bars`: each asset's borrow rate plus its rebate spread.
- `dividend_arguments`: cash dividends (``data.adjust: price``) and withholding rates.

Every failure names the setting's YAML path (`RunConfig.where`): a schedule that starts
after the first bar (what applied before it is not guessed), a rate file that is missing
or unreadable, a series with no value on or before the first bar or none reaching the
window, a value out of range (often a file in percent without ``scale: 0.01``).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.config import RATE_BOUNDS, AssetCosts, Loc, RateSeriesConfig, RunConfig, in_window
from engine.data import Market
from engine.data.files import FileSpec, SeriesFile, read_series
from engine.errors import ConfigError, DataError, DataWarning

__all__ = ["borrow_on_bars", "dividend_arguments", "per_asset", "rate_on_bars", "simulated_bars"]

# A rate series that stops this long before the last bar is carried forward with a warning.
STALE_AFTER = pd.Timedelta(days=10)


def simulated_bars(market: Market) -> pd.DatetimeIndex:
    """The bars the kernel simulates: from ``market.start`` on."""
    return market.index[market.warmup_bars :]


def _starts_late(config: RunConfig, loc: Loc, what: str, first: dt.date, bar: dt.date) -> str:
    if loc and loc[-1] == "preset":
        preset = config.portfolio.costs[str(loc[-2])].preset if len(loc) > 2 else None
        preset = preset or config.portfolio.preset
        return (
            f"{config.where(loc)}: the {preset} preset's {what} starts on {first}, after the "
            f"first bar {bar}; the preset does not know earlier rates: set {what} beside "
            f"the preset, with a schedule that starts on or before {bar}"
        )
    return (
        f"{config.where(loc)}: {what} starts on {first}, after the first bar {bar}; what "
        f"applied before {first} is not guessed: add the value in force on {bar}, e.g. "
        f"{{{bar}: ..., {first}: ...}}"
    )


def per_asset(
    values: Mapping[str, Any],
    bars: pd.DatetimeIndex,
    config: RunConfig,
    origin: Callable[[str], Loc],
    what: str,
) -> dict[str, float] | pd.DataFrame:
    """One cost setting of every asset, as `prepare_market` takes it.

    Parameters
    ----------
    values
        Symbol -> number or dated schedule (`AssetCosts` fields).
    bars
        The simulated bars.
    config
        The run's config, to name where a setting was written.
    origin
        Symbol -> the YAML path that gave it its value (`PortfolioConfig.cost_origin`).
    what
        The setting's name in messages, e.g. ``sell_tax``.

    Returns
    -------
    dict or DataFrame
        Symbol -> number when nothing changes within the run; else the values of every
        symbol at each date where one changes (the first row dated the first bar).

    Raises
    ------
    ConfigError
        When a schedule starts after the first bar, naming where it was written.
    """
    first, last = bars[0].date(), bars[-1].date()
    cut: dict[str, Any] = {}
    for symbol, value in values.items():
        if isinstance(value, Mapping) and min(value) > first:
            raise ConfigError(
                _starts_late(config, origin(symbol), f"{what} ({symbol})", min(value), first)
            )
        cut[symbol] = in_window(value, first, last)
    if not any(isinstance(v, Mapping) for v in cut.values()):
        return cut
    days = sorted({day for v in cut.values() if isinstance(v, Mapping) for day in v})
    columns = {s: _on_days(v, days) for s, v in cut.items()}
    return pd.DataFrame(columns, index=pd.DatetimeIndex([pd.Timestamp(d) for d in days]))


def _on_days(setting: Any, days: list[dt.date]) -> list[float]:
    if not isinstance(setting, Mapping):
        return [float(setting)] * len(days)
    out, current = [], np.nan
    changes = iter(setting.items())
    upcoming = next(changes, None)
    for day in days:
        while upcoming is not None and upcoming[0] <= day:
            current = upcoming[1]
            upcoming = next(changes, None)
        out.append(float(current))
    return out


def rate_on_bars(
    setting: Any,
    config: RunConfig,
    market: Market,
    loc: Loc,
    *,
    symbol: str | None = None,
) -> float | pd.Series:
    """A rate as a number, or as the annual rate of each simulated bar.

    Parameters
    ----------
    setting
        A number, a dated schedule or a `RateSeriesConfig`.
    config
        The run's config: locations in messages, and where relative files start.
    market
        The whole market, warm-up included (an extra's last value before the first
        simulated bar is carried onto it).
    loc
        The YAML path of the setting; its last part names the rate (``cash_rate``,
        ``borrow_rate``, ...) and its bounds.
    symbol
        For a per-asset rate: the asset, which picks its column of a per-symbol extra.

    Raises
    ------
    ConfigError
        For a schedule that starts after the first bar or an unknown extra series.
    DataError
        For a rate file that cannot be read, a series without a value on or before the
        first bar, or values out of the rate's range.
    """
    if not isinstance(setting, Mapping | RateSeriesConfig):
        return float(setting)
    bars = simulated_bars(market)
    first = bars[0].date()
    if isinstance(setting, Mapping):
        if min(setting) > first:
            raise ConfigError(_starts_late(config, loc, str(loc[-1]), min(setting), first))
        cut = in_window(setting, first, bars[-1].date())
        if not isinstance(cut, Mapping):
            return float(cut)
        dated = pd.Series(list(cut.values()), index=pd.DatetimeIndex(list(cut)), dtype=float)
        return _carry(dated, bars).rename(str(loc[-1]))
    where = config.where(loc)
    raw = _read(setting, config, market, loc, symbol)
    if raw.empty or raw.index[-1] < bars[0]:
        span = f"ends on {raw.index[-1].date()}" if len(raw) else "has no value"
        raise DataError(
            f"{where}: {setting} {span}, before the first bar {first}; give a series that "
            "covers the backtest window"
        )
    if raw.index[0] > bars[0]:
        raise DataError(
            f"{where}: {setting} starts on {raw.index[0].date()}, after the first bar "
            f"{first}, so that bar has no rate; give a series that starts earlier, or move "
            "data.start"
        )
    if bars[-1] - raw.index[-1] > STALE_AFTER:
        warnings.warn(
            f"{where}: {setting} ends on {raw.index[-1].date()}; its last rate is carried "
            f"to the last bar {bars[-1].date()}",
            DataWarning,
            stacklevel=2,
        )
    rates = _carry(raw * setting.scale, bars).rename(str(loc[-1]))
    _check_range(rates, setting, str(loc[-1]), where)
    return rates


def _carry(series: pd.Series, bars: pd.DatetimeIndex) -> pd.Series:
    """The last value on or before each bar."""
    position = series.index.searchsorted(bars, side="right") - 1
    values = series.to_numpy(dtype=np.float64)[np.maximum(position, 0)]
    return pd.Series(np.where(position >= 0, values, np.nan), index=bars)


def _check_range(rates: pd.Series, setting: RateSeriesConfig, name: str, where: str) -> None:
    low, high = RATE_BOUNDS[name]
    bad = (rates < low) | (rates > high)
    if bad.any():
        day = rates.index[int(np.argmax(bad.to_numpy()))]
        hint = " (a file in percent needs scale: 0.01)" if rates.abs().max() > 1.0 else ""
        raise DataError(
            f"{where}: {setting} gives {rates[day]:g} on {day.date()}, outside [{low:g}, "
            f"{high:g}]; rates are annual fractions, 0.05 for 5%{hint}"
        )


def _read(
    setting: RateSeriesConfig, config: RunConfig, market: Market, loc: Loc, symbol: str | None
) -> pd.Series:
    """The series' dated values, sorted, without NaN, before scaling."""
    where = config.where(loc)
    if setting.extra is not None:
        extras = market.extras
        if setting.extra not in extras:
            known = ", ".join(sorted(extras)) or "none"
            raise ConfigError(
                f"{where}: no extra series {setting.extra!r} in the market (data.extras "
                f"names: {known})"
            )
        series = extras[setting.extra]
        if isinstance(series, pd.DataFrame):
            if symbol is None or symbol not in series:
                raise ConfigError(
                    f"{where}: extra {setting.extra!r} is per symbol"
                    + ("; a per-symbol rate suits borrow_rate only" if symbol is None else "")
                    + (f" and has no column for {symbol}" if symbol is not None else "")
                )
            series = series[symbol]
        return series.dropna().astype(np.float64)
    assert setting.file is not None
    data = config.data
    if data.path is not None:
        path = config.resolve_path(("data", "path"), data.path) / setting.file
    else:
        path = config.resolve_path((*loc, "file"), setting.file)
    item = SeriesFile(file=Path(path).name, column=setting.column, date=setting.date)
    try:
        return read_series(FileSpec(root=Path(path).parent), item, ".".join(map(str, loc)))
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None


def borrow_on_bars(
    costs: Mapping[str, AssetCosts],
    config: RunConfig,
    market: Market,
    origin: Callable[[str, str], Loc],
) -> dict[str, float] | pd.DataFrame:
    """Each asset's annual borrow fee on short value: ``borrow_rate + rebate_spread``.

    A mapping symbol -> number when both are numbers for every asset; else a frame of
    the rate of each simulated bar x symbol. `origin` gives the YAML path that set a
    symbol's setting (``(symbol, "borrow_rate")`` -> path).
    """
    if all(
        not isinstance(c.borrow_rate, Mapping | RateSeriesConfig)
        and not isinstance(c.rebate_spread, Mapping)
        for c in costs.values()
    ):
        return {s: float(c.borrow_rate) + float(c.rebate_spread) for s, c in costs.items()}
    bars = simulated_bars(market)
    columns = {}
    for symbol, c in costs.items():
        rate = rate_on_bars(
            c.borrow_rate, config, market, origin(symbol, "borrow_rate"), symbol=symbol
        )
        spread = rate_on_bars(c.rebate_spread, config, market, origin(symbol, "rebate_spread"))
        columns[symbol] = np.broadcast_to(
            np.asarray(rate, dtype=np.float64) + np.asarray(spread, dtype=np.float64), len(bars)
        )
    return pd.DataFrame(columns, index=bars)


def dividend_arguments(config: RunConfig, market: Market) -> dict[str, Any]:
    """``dividends`` and ``withholding`` for `prepare_market`: the source's cash dividends
    with ``data.adjust: price`` (none otherwise), and each asset's withholding rate."""
    if config.data.adjust != "price" or "dividends" not in market.extras:
        return {}
    p = config.portfolio
    withholding = {
        s: p.asset_costs(s, market.exchange.get(s, ""), market.currency[s]).withholding
        for s in market.symbols
    }
    return {"dividends": market.extras["dividends"], "withholding": withholding}
