"""The `csv` source: prices from user files (CSV or parquet), one per symbol or one wide file.

Per-symbol files have a date column and price columns (names mapped in the config);
a wide file has a date column and one column per symbol.

Every row is held against its exchange's sessions (`engine.data.calendars`), for this
source and the yahoo one (`session_prices`):

- A row on a day the exchange was closed is dropped, so the day is no bar of the
  symbol, and a row that had a price is listed on the market (``dropped_rows``). One
  with volume (a trade on a closed day: a wrong exchange or dates shifted by a time
  zone) also warns.
- A flat row (zero volume and open = high = low = close), which Yahoo writes for Hong
  Kong's half-day sessions (24 and 31 December, Lunar New Year's Eve) and a few other
  sessions, is a real session with a real close: the close is kept, priced and traded,
  and only the open, which is unknown, is NaN, so an order filled at the open waits for
  the next bar. Such rows are listed on the market (``flat_rows``). Their volume is
  NaN (unknown), not 0: such a bar is not volume-capped.
- The ``volume`` column (shares traded) goes to ``Market.volume``; a file without it
  has NaN volume (unknown), and a wide file has none.
- An exchange exchange-calendars does not know, and dates outside 2000-2035, have no
  known sessions: every row there counts as a session.
"""

from __future__ import annotations

import os
import string
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import numpy as np
import pandas as pd

from engine.data import calendars
from engine.data.dividends import dividends_on_bars, price_only_table
from engine.data.market import Market, assemble_market, asset_info, check_volume
from engine.data.tables import dated, listed, number_column, quoted, read_table
from engine.errors import DataError, DataWarning

FX_QUOTES = ("base_per_unit", "units_per_base")
# The symbol search looks this many folder levels below data.path, in at most this many
# folders, so that a data.path of / or ~ fails fast instead of walking the disk.
SEARCH_DEPTH = 3
SEARCH_FOLDERS = 10_000
# A price outside this range is a bad print or the wrong units; a one-bar spike of
# 1e300 would make the equity curve and the volatility overflow to inf.
PRICE_RANGE = (1e-12, 1e15)


@dataclass(frozen=True)
class Columns:
    """Column names in the user's files."""

    date: str = "date"
    open: str | None = "open"
    high: str | None = "high"
    low: str | None = "low"
    close: str = "close"
    volume: str | None = "volume"
    dividends: str | None = "dividends"  # read with data.adjust: price
    adj_close: str | None = "adj_close"  # read with data.adjust: price


@dataclass(frozen=True)
class SeriesFile:
    """One column of one file: an fx rate or an extra series."""

    file: str
    column: str = "close"
    date: str = "date"
    quote: str = "base_per_unit"  # fx only: "units_per_base" for quotes like HKD=X
    per_symbol: bool = False  # extras only: one column per symbol instead of `column`
    where: Mapping[str, str | int | float] | None = None  # keep rows whose columns equal these


@dataclass(frozen=True)
class FileSpec:
    """Where the files are and how to read them (the config's ``data`` section)."""

    root: Path
    files: Mapping[str, str] = field(default_factory=dict)
    pattern: str = "{symbol}.csv"
    wide: str | None = None
    columns: Columns = field(default_factory=Columns)
    fx: Mapping[str, SeriesFile] = field(default_factory=dict)
    extras: Mapping[str, SeriesFile] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_pattern(self.pattern)


LOC_PATTERN = ("data", "pattern")


def check_pattern(pattern: str) -> None:
    """Raise `DataError` (at ``data.pattern``) unless `pattern` is a file name or a path
    below the data folder with ``{symbol}`` where the symbol goes, and no other field."""
    fix = "use {symbol} where the symbol goes, e.g. '{symbol}.csv'"
    try:
        fields = [(n, s, c) for _, n, s, c in string.Formatter().parse(pattern) if n is not None]
    except ValueError as exc:
        raise DataError(
            f"{quoted(pattern)} is not a pattern ({exc}); {fix}", loc=LOC_PATTERN
        ) from None
    if not fields or any(f != ("symbol", "", None) for f in fields):
        raise DataError(
            f"{quoted(pattern)} must have {{symbol}} as its only field, with no format or "
            f"conversion; {fix}",
            loc=LOC_PATTERN,
        )
    path = PurePath(pattern)
    if path.is_absolute() or ".." in path.parts:
        raise DataError(
            f"{quoted(pattern)} leads out of the data folder; a pattern names files below "
            "data.path: move data.path up, or name the files under data.files",
            loc=LOC_PATTERN,
        )


def flat_rows(table: pd.DataFrame, columns: Columns) -> pd.DatetimeIndex:
    """Return the dates of rows with zero volume and open = high = low = close.

    Empty when the table lacks one of those columns.
    """
    names = [columns.open, columns.high, columns.low, columns.close, columns.volume]
    if any(n is None or n not in table.columns for n in names):
        return pd.DatetimeIndex([])
    o, h, low, c, v = (table[n] for n in names)  # type: ignore[index]
    flat = (v == 0) & (o == h) & (h == low) & (low == c)
    return pd.DatetimeIndex(table.index[flat.to_numpy()])


@dataclass(frozen=True)
class SessionPrices:
    """One symbol's prices held against its exchange's sessions (see the module docstring).

    ``close``, ``open`` (None when the file has no open) and ``volume`` (None when it
    has no volume) have no row on a day the exchange was closed; ``flat`` lists the flat
    rows on sessions (close kept, open and volume NaN) and ``dropped`` the rows with a
    price on closed days, which were removed.
    """

    close: pd.Series
    open: pd.Series | None
    flat: pd.DatetimeIndex
    dropped: pd.DatetimeIndex
    volume: pd.Series | None = None


def session_prices(
    table: pd.DataFrame, columns: Columns, path: Path | str, exchange: str, symbol: str
) -> SessionPrices:
    """Return the close, open and volume of a dated OHLCV table, held against
    `exchange`'s sessions.

    Raises
    ------
    DataError
        Naming the file, the symbol and the date of a negative or infinite volume.

    Warns
    -----
    DataWarning
        Naming the file, the symbol and the first date, when rows with volume fall on
        days the exchange was closed.
    """
    close = number_column(table, columns.close, path)
    has_open = columns.open is not None and columns.open in table.columns
    opened = number_column(table, columns.open, path) if has_open else None  # type: ignore[arg-type]
    index = pd.DatetimeIndex(table.index)
    session = calendars.is_session(exchange, index)
    priced = close.notna().to_numpy() | (opened.notna().to_numpy() if opened is not None else False)
    dropped = index[~session & priced]
    volume = None
    if columns.volume is not None and columns.volume in table.columns:
        volume = number_column(table, columns.volume, path)
        check_volume(f"{path}: {symbol}", volume[session])
    if len(dropped) and volume is not None:
        traded = index[~session & priced & (volume.to_numpy() > 0)]
        if len(traded):
            warnings.warn(
                f"{path}: {len(traded)} row(s) with volume fall on days {exchange} was "
                f"closed and are dropped (first {traded[0].date()}, a "
                f"{traded[0].day_name()}); check the dates, or set {symbol}'s exchange in "
                f"data.metadata.{symbol}.exchange",
                DataWarning,
                stacklevel=3,
            )
    flat = flat_rows(table, columns)
    flat = flat[calendars.is_session(exchange, flat)]
    if opened is not None and len(flat):
        opened = opened.copy()
        opened.loc[flat] = np.nan
    if volume is not None and len(flat):
        volume = volume.copy()
        volume.loc[flat] = np.nan  # unknown: a half day's zero says nothing of its trading
    return SessionPrices(
        close=close[session],
        open=opened[session] if opened is not None else None,
        flat=flat,
        dropped=dropped,
        volume=volume[session] if volume is not None else None,
    )


def _symbol_path(spec: FileSpec, symbol: str, folders: Callable[[str], list[Path]]) -> Path:
    """The file of `symbol`: ``data.files``, else `pattern` in the data folder, else in
    one of the `folders` below it (`search_folders`)."""
    if symbol in spec.files:
        return spec.root / spec.files[symbol]
    name = spec.pattern.format(symbol=symbol)
    if ".." in PurePath(name).parts:
        raise DataError(
            f"{symbol}: data.pattern makes {quoted(name)}, which leads out of the data "
            f"folder; name the file under data.files.{symbol}"
        )
    direct = spec.root / name
    if os.path.exists(direct):  # False, not an error, for a path it may not look at
        return direct
    candidates = (f / name for f in folders(symbol))
    found = {os.path.realpath(p): p for p in candidates if os.path.exists(p)}
    if len(found) == 1:
        return next(iter(found.values()))
    if len(found) > 1:
        raise DataError(
            f"{symbol}: several files match under {spec.root}: "
            f"{listed(str(p) for p in sorted(found.values()))}; name one under "
            f"data.files.{symbol}"
        )
    raise DataError(
        f"{symbol}: no file {quoted(name)} in {spec.root} or the {SEARCH_DEPTH} folder "
        f"levels below it; name it under data.files.{symbol}"
    )


def search_folders(root: Path, symbol: str = "a symbol") -> list[Path]:
    """The folders below `root` where a symbol's file is looked for: `SEARCH_DEPTH`
    levels deep, hidden folders skipped, links followed (the depth ends any loop).

    Raises
    ------
    DataError
        When there are more than `SEARCH_FOLDERS` of them (``data.path: /``).
    """
    found: list[Path] = []
    level = [root]
    for _ in range(SEARCH_DEPTH):
        below = []
        for folder in level:
            try:
                with os.scandir(folder) as entries:
                    names = sorted(e.name for e in entries if _is_folder(e))
            except OSError:  # unreadable: nothing to find there
                continue
            below += [folder / n for n in names]
            if len(found) + len(below) > SEARCH_FOLDERS:
                raise DataError(
                    f"{symbol}: its file is not directly in {root}, and there are more than "
                    f"{SEARCH_FOLDERS} folders below it to search; name the file under "
                    f"data.files.{symbol}, or set data.path to the folder that holds the files"
                )
        found += below
        level = below
    return found


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return not entry.name.startswith(".") and entry.is_dir()
    except OSError:
        return False


def _rows(
    table: pd.DataFrame, where: Mapping[str, str | int | float] | None, path: Path, label: str
) -> pd.DataFrame:
    """Keep the rows whose columns equal `where`'s values (numbers compare as numbers)."""
    if not where:
        return table
    keep = pd.Series(True, index=table.index)
    for column, value in where.items():
        if column not in table.columns:
            raise DataError(
                f"{path}: {label}.where names column {column!r}, which the file lacks; "
                f"columns are {listed(table.columns)}"
            )
        cells = table[column]
        if isinstance(value, str):
            match = cells.astype(str).str.strip() == value.strip()
        else:
            match = pd.to_numeric(cells, errors="coerce") == value
        if not match.any():
            held = listed(cells.dropna().unique(), quote=False)
            raise DataError(
                f"{path}: no row has {column} = {value}; it holds {held}; fix {label}.where"
            )
        keep &= match
    if not keep.any():
        raise DataError(f"{path}: no row matches all of {label}.where {dict(where)}")
    return table[keep]


def read_series(spec: FileSpec, item: SeriesFile, label: str = "the series") -> pd.Series:
    """Read one dated column of one file (an fx rate or an extra series).

    `label` names the setting in messages (e.g. ``data.extras.flows``).

    Raises
    ------
    DataError
        Naming the file and the date when a date has several rows.
    """
    path = spec.root / item.file
    table = _rows(read_table(path), item.where, path, label)
    table = dated(table, item.date, path, [item.column], label)
    series = number_column(table, item.column, path).dropna()
    return series.sort_index()


def read_extras(
    spec: FileSpec, symbols: Sequence[str], bars: pd.DatetimeIndex | None = None
) -> dict[str, pd.Series | pd.DataFrame]:
    """Read the extra series: one column each, or a ``[T, N]`` frame when per symbol.

    A per-symbol file has a date column and one column per symbol; symbols it lacks get
    NaN (no data), and a file naming none of the symbols is an error. Given the market's
    `bars`, each series is checked against them (`check_overlap`, `check_bars`); the
    caller that reads extras before the bars are known checks them itself.
    """
    extras: dict[str, pd.Series | pd.DataFrame] = {}
    for name, item in spec.extras.items():
        label = f"data.extras.{name}"
        if not item.per_symbol:
            extras[name] = read_series(spec, item, label)
            continue
        path = spec.root / item.file
        table = _rows(read_table(path), item.where, path, label)
        table = dated(table, item.date, path, symbols, label)
        present = [s for s in symbols if s in table.columns]
        if not present:
            raise DataError(
                f"{path}: data.extras.{name} is per_symbol but no column is one of the "
                f"symbols {listed(symbols)}; columns are {listed(table.columns)}"
            )
        frame = table[present].apply(pd.to_numeric, errors="coerce").sort_index()
        extras[name] = frame.reindex(columns=list(symbols))
    if bars is not None and len(bars):
        for name, series in extras.items():
            dates, path = _dates_with_values(series), spec.root / spec.extras[name].file
            check_overlap(dates, bars[0], bars[-1], path, f"data.extras.{name}")
            check_bars(dates, bars, path, f"data.extras.{name}", carried=False)
    return extras


def _dates_with_values(series: pd.Series | pd.DataFrame) -> pd.DatetimeIndex:
    has = series.notna() if isinstance(series, pd.Series) else series.notna().any(axis=1)
    return pd.DatetimeIndex(series.index[has.to_numpy()]).unique().sort_values()


def check_overlap(
    dates: pd.DatetimeIndex, start: pd.Timestamp, end: pd.Timestamp, path: Path, label: str
) -> None:
    """Raise `DataError` when no date of a series falls in the window [start, end]."""
    if ((dates >= start) & (dates <= end)).any():
        return
    span = f"runs from {dates[0].date()} to {dates[-1].date()}" if len(dates) else "has no value"
    raise DataError(
        f"{path}: {label} {span}, outside the backtest window {start.date()} to {end.date()}; "
        "give a file that covers the window, or change data.start and data.end"
    )


def check_bars(
    dates: pd.DatetimeIndex, bars: pd.DatetimeIndex, path: Path, label: str, *, carried: bool
) -> None:
    """Warn (`DataWarning`, with counts) about a series that leaves bars without a value.

    A series that starts after the first bar or ends before the last one warns; fx
    (`carried`) is carried forward past its last quote, an extra is NaN there. An extra's
    dates that fall on no bar are dropped by the alignment: some of them warn, all of
    them is an error.
    """
    first, last, total = bars[0], bars[-1], len(bars)
    inside = dates[(dates >= first) & (dates <= last)]
    off = inside.difference(bars)
    if not carried and len(off):
        example = f"first {off[0].date()}, a {off[0].day_name()}"
        if len(off) == len(inside):
            raise DataError(
                f"{path}: {label}: none of its {len(inside)} dates in the window falls on a "
                f"bar of the market ({example}), so it would be all NaN; date each row on a "
                "trading day"
            )
        warnings.warn(
            f"{path}: {label}: {len(off)} of its {len(inside)} dates in the window fall on no "
            f"bar and are left out ({example}); date each row on a trading day",
            DataWarning,
            stacklevel=3,
        )
    before, after = int((bars < dates[0]).sum()), int((bars > dates[-1]).sum())
    gap = "no rate (NaN)" if carried else "no value (NaN)"
    if before:
        warnings.warn(
            f"{path}: {label} starts on {dates[0].date()}, after the first bar "
            f"({first.date()}); the first {before} of {total} bars have {gap}",
            DataWarning,
            stacklevel=3,
        )
    if after:
        fate = "carry its last rate forward" if carried else "have no value (NaN)"
        warnings.warn(
            f"{path}: {label} ends on {dates[-1].date()}, before the last bar "
            f"({last.date()}); the last {after} of {total} bars {fate}",
            DataWarning,
            stacklevel=3,
        )


def _check_range(prices: pd.Series, path: Path, symbol: str, field_name: str) -> None:
    low, high = PRICE_RANGE
    outside = prices[((prices > 0) & (prices < low)) | (prices > high)]
    if len(outside):
        day, value = outside.index[0], outside.iloc[0]
        raise DataError(
            f"{path}: {symbol} {field_name} on {day.date()} is {value:.6g}, outside {low:g} "
            f"to {high:g}, where no listing trades; correct that row (a bad print, or the "
            "wrong units)"
        )


def load_files_market(
    spec: FileSpec,
    symbols: Sequence[str],
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    base_currency: str,
    metadata: Mapping[str, Mapping[str, object]] | None = None,
    adjust: str = "total_return",
) -> Market:
    """Build a `Market` from user files; see `FileSpec` for the layout.

    With `adjust` ``"price"``, each per-symbol file's prices are made dividend-
    unadjusted and its cash dividends go to ``market.extras["dividends"]``
    (`engine.data.dividends`); an index (``^HSI``) is a price series already.
    Each file's ``volume`` column, when it has one, goes to ``market.volume`` (NaN for a
    file without it); a wide file, or ``columns.volume`` None, gives no volume.

    Raises
    ------
    DataError
        Naming the file, symbol and date for a missing file or column, unsorted or
        duplicate dates, a cell that is not a number, non-positive prices, a symbol
        without prices in the window, a currency without an fx series, or an fx or
        extra series with no date in the window or none on a bar.

    Warns
    -----
    DataWarning
        With counts, for an fx or extra series that starts after the first bar, ends
        before the last one, or has some dates on no bar.
    """
    info = {s: asset_info(s, metadata) for s in symbols}
    closes: dict[str, pd.Series] = {}
    opens: dict[str, pd.Series] = {}
    volumes: dict[str, pd.Series] = {}
    flat: list[tuple[str, pd.Timestamp]] = []
    dropped: list[tuple[str, pd.Timestamp]] = []
    wide: tuple[Path, pd.DataFrame] | None = None
    walked: list[list[Path]] = []  # the folders below data.path, listed once when needed
    paid: dict[str, pd.Series] = {}  # cash dividends per share, with adjust: price

    def searched(symbol: str) -> list[Path]:
        if not walked:
            walked.append(search_folders(spec.root, symbol))
        return walked[0]

    if spec.wide:
        wide_path = spec.root / spec.wide
        wide = wide_path, dated(read_table(wide_path), spec.columns.date, wide_path, symbols)
    for symbol in symbols:
        if wide is not None:
            path, table = wide
            columns = Columns(spec.columns.date, None, None, None, symbol, None)
        else:
            path, columns = _symbol_path(spec, symbol, searched), spec.columns
            numbers = [getattr(columns, n) for n in ("open", "high", "low", "close", "volume")]
            table = dated(read_table(path), columns.date, path, [n for n in numbers if n])
            if adjust == "price" and not symbol.startswith("^"):
                others = (columns.open, columns.high, columns.low)
                table, paid[symbol] = price_only_table(
                    table, columns.close, others, columns.dividends, columns.adj_close,
                    f"{path}: {symbol}",
                )  # fmt: skip
        if adjust == "price" and wide is not None and not symbol.startswith("^"):
            raise DataError(
                f"{path}: data.adjust is price, but a wide file has no dividends; give "
                "per-symbol files with a dividends column, or set data.adjust: total_return"
            )
        prices = session_prices(table, columns, path, info[symbol].exchange, symbol)
        _check_range(prices.close, path, symbol, "close")
        if prices.open is not None:
            _check_range(prices.open, path, symbol, "open")
        closes[symbol] = prices.close
        if prices.open is not None:
            opens[symbol] = prices.open
        if prices.volume is not None:
            volumes[symbol] = prices.volume
        flat += [(symbol, d) for d in prices.flat if start <= d <= end]
        dropped += [(symbol, d) for d in prices.dropped if start <= d <= end]

    fx = {}
    checked: list[tuple[pd.DatetimeIndex, Path, str, bool]] = []
    for currency, item in spec.fx.items():
        if item.quote not in FX_QUOTES:
            raise DataError(
                f"data.fx.{currency}.quote must be one of {FX_QUOTES}, was {item.quote!r}"
            )
        label = f"data.fx.{currency}"
        rate = read_series(spec, item, label)
        fx[currency] = 1.0 / rate if item.quote == "units_per_base" else rate
        if any(info[s].currency == currency for s in symbols):  # an unused rate can be stale
            checked.append((_dates_with_values(rate), spec.root / item.file, label, True))
    extras = read_extras(spec, symbols)
    for name, series in extras.items():
        path = spec.root / spec.extras[name].file
        checked.append((_dates_with_values(series), path, f"data.extras.{name}", False))
    for dates, path, label, _ in checked:
        check_overlap(dates, start, end, path, label)
    market = assemble_market(
        closes,
        opens,
        info,
        fx,
        base_currency=base_currency,
        source="csv",
        start=start,
        end=end,
        extras=extras,
        flat_rows=flat,
        dropped_rows=dropped,
        volumes=None if wide is not None or spec.columns.volume is None else volumes,
    )
    for dates, path, label, carried in checked:
        check_bars(dates, market.index, path, label, carried=carried)
    if adjust == "price":
        dividends = dividends_on_bars(paid, market.index).reindex(columns=market.symbols)
        market.extras["dividends"] = dividends.fillna(0.0)
    return market
