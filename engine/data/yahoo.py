"""The `yahoo` source: yfinance downloads of adjusted OHLCV, cached on disk as parquet.

Each symbol (stock, index or fx pair such as ``HKD=X``) is cached in one file with the
date range it covers (`engine.data.yahoo_cache`), so a later request downloads only
what the cache lacks. A corrupt cache file is downloaded again when online; offline it
is an error naming the file.

Coverage ends at the last completed session: the last session of the symbol's
exchange (the last weekday for an fx pair) strictly before today's UTC date. Every
exchange from New York to Tokyo has closed a session by the midnight UTC that ends its
date, so a session dated before today is final; today's, or an ``end`` in the future,
is left for a later run. A downloaded row after it is dropped.

Rows are held against the exchange's sessions as in the csv source
(`engine.data.files.session_prices`): a flat zero-volume row on a session (a Hong Kong
half day) keeps its close and has no open; a row on a day the exchange was closed is
dropped.

`_download` is the only function that touches the network; tests replace it.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping

import pandas as pd

from engine.data import calendars
from engine.data.files import Columns, session_prices
from engine.data.market import Market, assemble_market, asset_info
from engine.data.yahoo_cache import YahooCache, default_cache_dir, utc_today
from engine.errors import DataError

__all__ = [
    "FIELDS",
    "YahooCache",
    "default_cache_dir",
    "fetch",
    "fx_pair",
    "last_completed_session",
    "load_yahoo_market",
    "split_download",
    "utc_today",
]

FIELDS = ("open", "high", "low", "close", "volume")


def _download(symbols: list[str], start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Download adjusted daily OHLCV with yfinance; `end` is inclusive.

    yfinance logs each failed symbol and warns about its own pandas use; both are
    silenced here, because a symbol without rows becomes one clear `DataError` upstream.
    """
    import yfinance as yf

    log = logging.getLogger("yfinance")
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return yf.download(
                symbols,
                start=start.strftime("%Y-%m-%d"),
                end=(end + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
                auto_adjust=True,
                actions=False,
                group_by="column",
                progress=False,
                threads=False,
                multi_level_index=True,
            )
    finally:
        log.setLevel(level)


def split_download(frame: pd.DataFrame, symbols: Iterable[str]) -> dict[str, pd.DataFrame]:
    """Split a yfinance frame into one ``[dates, FIELDS]`` frame per symbol.

    Accepts MultiIndex columns in either order (field, ticker) or (ticker, field) and
    flat columns for a single symbol; drops rows where a symbol has no field at all.
    """
    symbols = list(symbols)
    out: dict[str, pd.DataFrame] = {}
    if frame is None or frame.empty:
        return out
    columns = frame.columns
    for symbol in symbols:
        if isinstance(columns, pd.MultiIndex):
            level = next(
                (i for i in range(columns.nlevels) if symbol in columns.get_level_values(i)), None
            )
            if level is None:
                continue
            part = frame.xs(symbol, axis=1, level=level)
        elif len(symbols) == 1:
            part = frame
        else:
            raise DataError(f"yfinance returned flat columns for {len(symbols)} symbols")
        part = part.rename(columns=lambda c: str(c).lower().replace(" ", "_"))
        missing = [f for f in ("close",) if f not in part.columns]
        if missing:
            raise DataError(f"{symbol}: the download has no {missing[0]} column")
        part = part.reindex(columns=list(FIELDS)).astype("float64")
        index = pd.DatetimeIndex(part.index)
        if index.tz is not None:
            index = index.tz_localize(None)
        part.index = pd.DatetimeIndex(index.normalize(), name="date")
        part = part.dropna(how="all")
        out[symbol] = part[~part.index.duplicated(keep="last")].sort_index()
    return out


def last_completed_session(exchange: str, today: pd.Timestamp) -> pd.Timestamp:
    """Return the last session of `exchange` strictly before `today` (a UTC date).

    An exchange without a known calendar (an fx pair's ``""``) trades on weekdays.
    """
    every = calendars.known_sessions(exchange, today - pd.Timedelta(days=30), today)
    before = every[every < today] if every is not None else None
    if before is not None and len(before):
        return before[-1]
    return (today - pd.offsets.BDay(1)).normalize()


def fetch(
    symbols: Iterable[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    cache: YahooCache,
    offline: bool = False,
    *,
    exchanges: Mapping[str, str] | None = None,
    today: pd.Timestamp | None = None,
) -> dict[str, pd.DataFrame]:
    """Return OHLCV per symbol for [start, end], downloading only what the cache lacks.

    A symbol whose cache covers the range is read with no network. Otherwise the missing
    head and tail are downloaded and merged into the cache (a top-up). When a download
    fails, a symbol with cached data keeps what the cache has; one without raises. A
    corrupt cache file counts as missing. The range ends at the last completed session
    of the symbol's exchange (`exchanges`, default none: weekdays) before `today`
    (default `utc_today`) when `end` is later.

    Raises
    ------
    DataError
        Naming the symbol, when neither the network nor the cache has it or the window
        starts after the last completed session; offline, naming the file, when its
        cache is corrupt.
    """
    today = utc_today() if today is None else pd.Timestamp(today).normalize()
    result: dict[str, pd.DataFrame] = {}
    for symbol in symbols:
        last = last_completed_session((exchanges or {}).get(symbol, ""), today)
        if start > last:
            raise DataError(
                f"{symbol}: the window starts on {start.date()}, after the last completed "
                f"session ({last.date()}); move data.start earlier"
            )
        until = min(end, last)
        cached, problem = cache.inspect(symbol)
        if problem and offline:
            raise DataError(cache.corrupt(symbol, problem))
        frame, (have_start, have_end) = cached if cached else (None, (None, None))
        gaps = []
        if frame is None:
            gaps.append((start, until))
        else:
            if start < have_start:
                gaps.append((start, have_start - pd.Timedelta(days=1)))
            if until > have_end:
                gaps.append((have_end + pd.Timedelta(days=1), until))
        errors = []
        for gap_start, gap_end in gaps if not offline else []:
            try:
                got = split_download(_download([symbol], gap_start, gap_end), [symbol]).get(symbol)
            except DataError:
                raise
            except Exception as exc:  # the network, yfinance or Yahoo said no
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            got = None if got is None else got.loc[gap_start:gap_end]  # no row still trading
            if got is None or got.empty:
                # yfinance reports many failures as an empty frame: never record an empty
                # answer as coverage, or a later run with network would not retry it
                errors.append(f"no rows for {gap_start.date()}..{gap_end.date()}")
                continue
            frame = got if frame is None else pd.concat([frame, got]).sort_index()
            frame = frame[~frame.index.duplicated(keep="last")]
            have_start = min(gap_start, have_start) if have_start is not None else gap_start
            have_end = max(gap_end, have_end) if have_end is not None else gap_end
            cache.write(symbol, frame, have_start, have_end, fetched=today)
        if frame is None and problem:
            raise DataError(cache.corrupt(symbol, problem, "; ".join(errors)))
        if frame is None or frame.loc[start:end].empty:
            why = "; ".join(errors) or ("offline" if offline else "no data")
            raise DataError(
                f"{symbol}: not in the cache {cache.folder} and the download failed ({why}); "
                "check the symbol, run `eastwind data fetch CONFIG` with network, or run "
                "offline on synthetic data with --data synthetic"
            )
        result[symbol] = frame.loc[start:end]
    return result


def fx_pair(currency: str, base_currency: str) -> tuple[str, str]:
    """Return the Yahoo symbol of `currency` in `base_currency` and how it is quoted."""
    if base_currency == "USD":
        return f"{currency}=X", "units_per_base"  # HKD=X is HKD per USD
    return f"{currency}{base_currency}=X", "base_per_unit"  # USDHKD=X is HKD per USD


def load_yahoo_market(
    symbols: list[str],
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    base_currency: str,
    cache: YahooCache,
    metadata: dict[str, dict[str, object]] | None = None,
    offline: bool = False,
    today: pd.Timestamp | None = None,
) -> Market:
    """Build a `Market` from Yahoo prices (through the cache) and the fx pairs it needs."""
    info = {s: asset_info(s, metadata) for s in symbols}
    exchanges = {s: i.exchange for s, i in info.items()}
    frames = fetch(symbols, start, end, cache, offline=offline, exchanges=exchanges, today=today)
    closes, opens, flat, dropped = {}, {}, [], []
    for symbol, frame in frames.items():
        exchange = info[symbol].exchange
        prices = session_prices(frame, Columns(), f"yahoo {symbol}", exchange, symbol)
        closes[symbol], opens[symbol] = prices.close, prices.open
        flat += [(symbol, d) for d in prices.flat]
        dropped += [(symbol, d) for d in prices.dropped]
    fx = {}
    for currency in sorted({i.currency for i in info.values()} - {base_currency}):
        pair, quote = fx_pair(currency, base_currency)
        rate = fetch(
            [pair], start - pd.Timedelta(days=10), end, cache, offline=offline, today=today
        )[pair]
        close = rate["close"].dropna()
        fx[currency] = 1.0 / close if quote == "units_per_base" else close
    return assemble_market(
        closes,
        opens,
        info,
        fx,
        base_currency=base_currency,
        source="yahoo",
        start=start,
        end=end,
        flat_rows=flat,
        dropped_rows=dropped,
    )
