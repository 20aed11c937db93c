"""`Market`: aligned prices, fx and metadata over one date index, and how sources build it.

Every source (synthetic, csv, yahoo, a tidy frame) produces per-symbol price series;
`assemble_market` aligns them on the union of their dates, checks them (invalid prices
raise, suspect ones warn: `engine.data.checks`), and attaches fx and metadata.
Gaps stay NaN: the simulator values a gap at the last known price and trades an asset
only where it has a price. Nothing is filled silently except fx, which is taken as of
its last quote (FX trades on weekdays, exchanges on their own calendars).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.data.checks import bad_prints, warn_bad_prints
from engine.errors import DataError


@dataclass(frozen=True)
class AssetInfo:
    """Static metadata of one asset: trading currency, exchange (MIC) and board lot."""

    currency: str
    exchange: str
    lot_size: float


# Board lots as set by HKEX for each counter; US shares and ETFs trade in single units.
KNOWN_ASSETS: dict[str, AssetInfo] = {
    "0700.HK": AssetInfo("HKD", "XHKG", 100),
    "9988.HK": AssetInfo("HKD", "XHKG", 100),
    "1810.HK": AssetInfo("HKD", "XHKG", 200),
    "1024.HK": AssetInfo("HKD", "XHKG", 100),
    "3690.HK": AssetInfo("HKD", "XHKG", 100),
    "9618.HK": AssetInfo("HKD", "XHKG", 50),
    "9888.HK": AssetInfo("HKD", "XHKG", 50),
    "9999.HK": AssetInfo("HKD", "XHKG", 100),
    "0981.HK": AssetInfo("HKD", "XHKG", 500),
    "2015.HK": AssetInfo("HKD", "XHKG", 100),
    "9868.HK": AssetInfo("HKD", "XHKG", 100),
    "0020.HK": AssetInfo("HKD", "XHKG", 1000),
    "2800.HK": AssetInfo("HKD", "XHKG", 500),
    "3032.HK": AssetInfo("HKD", "XHKG", 100),
    "3033.HK": AssetInfo("HKD", "XHKG", 200),
    "^HSI": AssetInfo("HKD", "XHKG", 0),
    "HSI": AssetInfo("HKD", "XHKG", 0),  # the akshare source's index codes
    "HSTECH": AssetInfo("HKD", "XHKG", 0),
    "HSCEI": AssetInfo("HKD", "XHKG", 0),
    "^IXIC": AssetInfo("USD", "XNAS", 0),
    "^NDX": AssetInfo("USD", "XNAS", 0),
    "^GSPC": AssetInfo("USD", "XNYS", 0),
}


def asset_info(
    symbol: str, overrides: Mapping[str, Mapping[str, object]] | None = None
) -> AssetInfo:
    """Return metadata for `symbol`: an override, the built-in table, or a US listing.

    A symbol without an exchange suffix is taken as a US listing (USD, lot 1). A
    Hong Kong symbol (``.HK``) outside the table has no known board lot, so it must be
    given in the config.

    Raises
    ------
    DataError
        For a ``.HK`` or other suffixed symbol whose lot size is unknown.
    """
    given = dict((overrides or {}).get(symbol, {}))
    base = KNOWN_ASSETS.get(symbol)
    if base is None:
        if "." not in symbol.lstrip("^"):
            base = AssetInfo("USD", "XNYS", 1)
        elif {"currency", "exchange", "lot_size"} <= given.keys():
            base = AssetInfo("", "", 0)
        else:
            raise DataError(
                f"{symbol}: no built-in metadata (currency, exchange, board lot); add "
                f"data.metadata.{symbol}: {{currency: HKD, exchange: XHKG, lot_size: 100}}"
            )
    return AssetInfo(
        currency=str(given.get("currency", base.currency)),
        exchange=str(given.get("exchange", base.exchange)),
        lot_size=float(given.get("lot_size", base.lot_size)),  # type: ignore[arg-type]
    )


@dataclass(frozen=True, eq=False)
class Market:
    """Aligned prices and metadata for a set of assets over one date index.

    ``close`` and ``open`` are ``[T, N]`` with NaN where an asset did not trade; ``fx``
    has one column per foreign currency: the price of one unit of it in
    `base_currency`. ``extras`` holds named series, ``[T, N]`` frames or ``[T]``
    series. ``flat_rows`` lists the (symbol, date) rows a file or yahoo source read as
    flat (zero volume, open = high = low = close) on a session of the asset's exchange,
    e.g. a Hong Kong half day: their close is real and priced, their open NaN.
    ``dropped_rows`` lists the rows with a price on a day the exchange was closed,
    which are not in the prices (see `engine.data.files`).
    ``groups`` names baskets of symbols (``data.symbols`` given as a mapping).
    ``start`` is the first simulated date: the bars before it are warm-up history that
    strategies see and the simulation, benchmark and metrics do not (None: no warm-up).
    ``closing`` maps a symbol whose series ends early to its last date, where a position
    in it is closed at its last price (``data.on_series_end: close``).
    ``volume`` is ``[T, N]`` like ``close``: shares traded on each bar, NaN where the
    volume is unknown: a bar the asset did not trade, a symbol whose file has no volume
    column, an index, and every flat row (a half day's zero-volume row says nothing about
    the day's trading, so it is not read as 0). A bar with unknown volume is not
    volume-capped (``portfolio.participation``) and is left out of the impact model's
    trailing average volume. None when the source has no volume at all (a wide file,
    ``data.columns.volume: null``, akshare's indices, a tidy frame without a volume column).
    """

    close: pd.DataFrame
    open: pd.DataFrame
    currency: dict[str, str]
    lot_size: dict[str, float]
    fx: pd.DataFrame
    base_currency: str
    source: str
    extras: dict[str, pd.DataFrame | pd.Series] = field(default_factory=dict)
    exchange: dict[str, str] = field(default_factory=dict)
    flat_rows: list[tuple[str, pd.Timestamp]] = field(default_factory=list)
    dropped_rows: list[tuple[str, pd.Timestamp]] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    start: pd.Timestamp | None = None
    closing: dict[str, pd.Timestamp] = field(default_factory=dict)
    volume: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        volume = self.volume
        if volume is not None and not (
            volume.index.equals(self.close.index) and volume.columns.equals(self.close.columns)
        ):
            raise ValueError("Market.volume must have the dates and symbols of Market.close")

    @property
    def index(self) -> pd.DatetimeIndex:
        """The bar dates."""
        return self.close.index  # type: ignore[return-value]

    @property
    def symbols(self) -> list[str]:
        """Asset symbols in column order."""
        return list(self.close.columns)

    @property
    def warmup_bars(self) -> int:
        """Bars before `start`: the warm-up history."""
        return 0 if self.start is None else int(self.index.searchsorted(self.start))

    def after_warmup(self) -> Market:
        """The market from `start` on: what the simulation, benchmark and metrics see."""
        n = self.warmup_bars
        return self if n == 0 else self.select(dates=self.index[n:])

    @property
    def is_synthetic(self) -> bool:
        """True when the prices are made up by the synthetic source."""
        return self.source == "synthetic"

    @classmethod
    def from_frame(cls, tidy: pd.DataFrame, **kwargs: object) -> Market:
        """Build a market from a tidy frame; see `market_from_frame` for the arguments."""
        return market_from_frame(tidy, **kwargs)  # type: ignore[arg-type]

    def select(
        self, symbols: list[str] | None = None, dates: pd.DatetimeIndex | None = None
    ) -> Market:
        """Return the market restricted to `symbols` (in that order) and to `dates`.

        Dates not in the index are ignored; per-asset extras keep the selected columns
        they have. Dropped rows (on no bar) are kept when they fall between the first
        and the last selected date.
        """
        cols = list(self.symbols if symbols is None else symbols)
        rows = self.index if dates is None else self.index[self.index.isin(dates)]
        extras: dict[str, pd.DataFrame | pd.Series] = {}
        for name, series in self.extras.items():
            if isinstance(series, pd.DataFrame):
                extras[name] = series.reindex(index=rows, columns=[c for c in cols if c in series])
            else:
                extras[name] = series.reindex(rows)
        return Market(
            close=self.close.loc[rows, cols],
            open=self.open.loc[rows, cols],
            currency={s: self.currency[s] for s in cols},
            lot_size={s: self.lot_size[s] for s in cols},
            fx=self.fx.loc[rows],
            base_currency=self.base_currency,
            source=self.source,
            extras=extras,
            exchange={s: self.exchange.get(s, "") for s in cols},
            flat_rows=[(s, d) for s, d in self.flat_rows if s in cols and d in rows],
            dropped_rows=[
                (s, d)
                for s, d in self.dropped_rows
                if s in cols and len(rows) and rows[0] <= d <= rows[-1]
            ],
            groups={g: m for g, m in self.groups.items() if set(m) <= set(cols)},
            start=self.start,
            closing={s: d for s, d in self.closing.items() if s in cols},
            volume=None if self.volume is None else self.volume.loc[rows, cols],
        )

    def to_frame(self) -> pd.DataFrame:
        """Return prices as a tidy frame: one row per (date, symbol) with open and close,
        and volume when the market has it."""
        columns = {
            "close": self.close.stack(future_stack=True),
            "open": self.open.stack(future_stack=True),
        }
        if self.volume is not None:
            columns["volume"] = self.volume.stack(future_stack=True)
        tidy = pd.concat(columns, axis=1)
        tidy.index.names = ["date", "symbol"]
        return tidy.dropna(how="all").reset_index()


def market_from_frame(
    tidy: pd.DataFrame,
    *,
    base_currency: str = "USD",
    fx: Mapping[str, pd.Series] | None = None,
    metadata: Mapping[str, Mapping[str, object]] | None = None,
    source: str = "frame",
) -> Market:
    """Build a `Market` from a tidy frame with columns date, symbol, close and optionally
    open and volume (shares; without the column the market has no volume).

    The inverse of `Market.to_frame`: metadata comes from the built-in table and
    `metadata` overrides; foreign currencies need `fx` series.
    """
    missing = {"date", "symbol", "close"} - set(tidy.columns)
    if missing:
        raise DataError(f"tidy frame lacks columns {sorted(missing)}; it needs date, symbol, close")
    frame = tidy.assign(date=pd.to_datetime(tidy["date"]))
    if frame.duplicated(["date", "symbol"]).any():
        row = frame[frame.duplicated(["date", "symbol"])].iloc[0]
        raise DataError(f"{row['symbol']}: date {row['date'].date()} appears twice")
    symbols = list(dict.fromkeys(frame["symbol"]))
    closes, opens, volumes = {}, {}, {}
    for symbol, rows in frame.groupby("symbol", sort=False):
        rows = rows.set_index("date").sort_index()
        closes[symbol] = rows["close"].astype(np.float64)
        if "open" in rows:
            opens[symbol] = rows["open"].astype(np.float64)
        if "volume" in rows:
            volumes[symbol] = rows["volume"].astype(np.float64)
    dates = frame["date"]
    return assemble_market(
        {s: closes[s] for s in symbols},
        opens,
        {s: asset_info(s, metadata) for s in symbols},
        dict(fx or {}),
        base_currency=base_currency,
        source=source,
        start=dates.min(),
        end=dates.max(),
        volumes=volumes if "volume" in frame.columns else None,
    )


def check_volume(label: str, volume: pd.Series) -> None:
    """Raise `DataError` naming `label` (a file and symbol) and the date of the first
    volume that is negative or infinite; NaN (unknown) is allowed."""
    bad = volume[(volume < 0) | np.isinf(volume)]
    if len(bad):
        raise DataError(
            f"{label}: volume on {bad.index[0].date()} is {bad.iloc[0]}; volume is a number "
            "of shares, 0 or more (leave the cell empty when it is unknown)"
        )


def check_series(symbol: str, prices: pd.Series, field_name: str = "close") -> None:
    """Raise `DataError` naming the symbol and date for unsorted or duplicate dates or a
    non-positive price."""
    index = prices.index
    if index.has_duplicates:
        raise DataError(f"{symbol}: date {index[index.duplicated()][0].date()} appears twice")
    if not index.is_monotonic_increasing:
        position = int(np.argmax(np.diff(index.asi8) < 0)) + 1
        raise DataError(
            f"{symbol}: dates are not sorted: {index[position].date()} follows "
            f"{index[position - 1].date()}"
        )
    bad = prices[(prices <= 0) | np.isinf(prices)]
    if len(bad):
        raise DataError(
            f"{symbol}: {field_name} on {bad.index[0].date()} is {bad.iloc[0]}; prices must be "
            "positive"
        )


def assemble_market(
    closes: Mapping[str, pd.Series],
    opens: Mapping[str, pd.Series],
    info: Mapping[str, AssetInfo],
    fx: Mapping[str, pd.Series],
    *,
    base_currency: str,
    source: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    extras: Mapping[str, pd.DataFrame | pd.Series] | None = None,
    flat_rows: list[tuple[str, pd.Timestamp]] | None = None,
    dropped_rows: list[tuple[str, pd.Timestamp]] | None = None,
    volumes: Mapping[str, pd.Series] | None = None,
) -> Market:
    """Align per-symbol series on the union of their dates within [start, end] and check them.

    Parameters
    ----------
    closes, opens
        Symbol -> price series on that symbol's own trading dates (NaN allowed).
    info
        Symbol -> metadata.
    fx
        Currency -> price of one unit in `base_currency`, on the fx source's dates.
    base_currency, source
        Reporting currency and the source label (``"synthetic"``, ``"csv"``, ``"yahoo"``).
    start, end
        Inclusive window.
    extras
        Named extra series on their own dates; aligned to the market's dates.
    flat_rows
        (symbol, date) rows read as flat on a session: close kept, open already NaN.
    dropped_rows
        (symbol, date) rows on days the exchange was closed, already removed.
    volumes
        Symbol -> shares traded, on that symbol's dates; a symbol without one has NaN
        volume, and the flat rows have NaN. None: the source has no volume (the market's
        ``volume`` is None).

    Raises
    ------
    DataError
        For a start after the end, a symbol with no price in the window, a currency
        with no fx series, invalid prices, or a negative or infinite volume.

    Warns
    -----
    DataWarning
        For a symbol with a suspect price: a spike that reverses, a step that
        persists or a stray open (`engine.data.checks.bad_prints`).
    """
    if start > end:
        raise DataError(f"start {start.date()} is after end {end.date()}")
    for symbol, series in closes.items():
        check_series(symbol, series, "close")
        if symbol in opens:
            check_series(symbol, opens[symbol], "open")
    window = {s: c.loc[start:end] for s, c in closes.items()}
    empty = [s for s, c in window.items() if c.isna().all()]
    if empty:
        raise DataError(
            f"{empty[0]}: no price between {start.date()} and {end.date()}; check the symbol, "
            "the window or the file"
        )
    dates = sorted(set().union(*(set(c.index) for c in window.values())))
    index = pd.DatetimeIndex(dates, name="date")
    close = pd.DataFrame({s: window[s].reindex(index) for s in closes}, index=index)
    opened = pd.DataFrame(
        {s: (opens[s].reindex(index) if s in opens else close[s]) for s in closes}, index=index
    )

    foreign = sorted({info[s].currency for s in closes} - {base_currency})
    fx_frame = pd.DataFrame(index=index)
    for currency in foreign:
        if currency not in fx:
            users = [s for s in closes if info[s].currency == currency]
            raise DataError(
                f"{users[0]}: trades in {currency} but there is no fx series for {currency} "
                f"in {base_currency}; add it under data.fx"
            )
        rate = fx[currency].sort_index()
        check_series(f"fx {currency}", rate)
        fx_frame[currency] = rate.reindex(index, method="ffill")
        missing = fx_frame[currency].isna()
        if missing.all():
            raise DataError(f"fx {currency}: no rate on or before {index[-1].date()}")

    aligned_extras: dict[str, pd.DataFrame | pd.Series] = {}
    for name, series in (extras or {}).items():
        aligned_extras[name] = series.reindex(index)

    volume = None
    if volumes is not None:
        for symbol, series in volumes.items():
            check_volume(symbol, series.loc[start:end])
        empty = pd.Series(np.nan, index=index, dtype=np.float64)
        volume = pd.DataFrame(
            {s: volumes[s].reindex(index) if s in volumes else empty for s in closes},
            index=index,
            dtype=np.float64,
        )
        for symbol, day in flat_rows or []:
            if day in index:
                volume.at[day, symbol] = np.nan

    market = Market(
        close=close,
        open=opened,
        currency={s: info[s].currency for s in closes},
        lot_size={s: info[s].lot_size for s in closes},
        fx=fx_frame,
        base_currency=base_currency,
        source=source,
        extras=aligned_extras,
        exchange={s: info[s].exchange for s in closes},
        flat_rows=sorted(flat_rows or []),
        dropped_rows=sorted(dropped_rows or []),
        volume=volume,
    )
    warn_bad_prints(bad_prints(market))
    return market
