"""The `yahoo` source: yfinance downloads of adjusted OHLCV, cached on disk as parquet.

Each symbol (stock, index or fx pair such as ``HKD=X``) is cached in one file with the
date range it covers (`engine.data.yahoo_cache`), so a later request downloads only
what the cache lacks. The rules:

- Coverage ends at the last completed session: the last session of the symbol's
  exchange (the last weekday for an fx pair) strictly before today's UTC date. Every
  exchange from New York to Tokyo has closed a session by the midnight UTC that ends
  its date, so a session dated before today is final; today's, or an ``end`` in the
  future, is left for a later run. A downloaded row after it is dropped.
- A top-up downloads the missing dates together with `OVERLAP` cached sessions next to
  them and compares their closes. Yahoo adjusts all past prices for each new dividend
  or split, so a close that moved by more than `SEAM_TOLERANCE` (relative) means the
  cached rows are on another basis: the symbol's whole range is downloaded again and
  replaces the file, instead of joining two bases with a fake return at the seam.
- A cache that cannot be brought up to the request (offline, or the download failed)
  is an error naming the first such symbol, the dates it covers, why, and how many
  others are short; with ``allow_partial`` every symbol ends on the earliest date all
  of them are covered to, with a `DataWarning`. A head that is short is reported the
  same way; with ``allow_partial`` the warm-up check judges it.
- A corrupt cache file is downloaded again when online; offline it is an error naming
  the file.

Rows are held against the exchange's sessions as in the csv source
(`engine.data.files.session_prices`): a flat zero-volume row on a session (a Hong Kong
half day) keeps its close and has no open, and its volume is NaN (unknown); a row on a
day the exchange was closed is dropped. The cached volume (shares, as Yahoo reports it:
split-adjusted) goes to ``Market.volume``.

With ``data.adjust: price`` the cache holds another basis in its own folder
(`YahooCache`): Yahoo's close without dividend adjustment (split-adjusted) and the cash
dividend of each ex-date (yfinance ``auto_adjust=False, actions=True``).

`_download` and `_download_price` are the only functions that touch the network; tests
replace them.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Mapping

import pandas as pd

from engine.data import calendars
from engine.data.cache_update import Coverage, TopUp, covered_until, why_missing
from engine.data.dividends import dividends_on_bars
from engine.data.files import Columns, session_prices
from engine.data.market import Market, assemble_market, asset_info
from engine.data.yahoo_cache import Range, YahooCache, default_cache_dir, utc_today
from engine.errors import DataError

__all__ = [
    "FIELDS",
    "OVERLAP",
    "SEAM_TOLERANCE",
    "Coverage",
    "YahooCache",
    "covered_until",
    "default_cache_dir",
    "fetch",
    "fx_pair",
    "last_completed_session",
    "load_yahoo_market",
    "split_download",
    "update_cache",
    "utc_today",
]

FIELDS = ("open", "high", "low", "close", "volume")
PRICE_FIELDS = (*FIELDS, "dividends")  # data.adjust: price
OVERLAP = 5  # cached sessions a top-up downloads again to compare
SEAM_TOLERANCE = 1e-5  # a smaller move fakes a return below 0.001% at the seam
_NETWORK_FAILURE = re.compile(
    r"DNS|resolve host|connect|timed out|timeout|network|curl: \(\d+\)", re.IGNORECASE
)


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().strip())


def _download(symbols: list[str], start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Download adjusted daily OHLCV with yfinance; `end` is inclusive (`_yf_download`)."""
    return _yf_download(symbols, start, end, adjusted=True)


def _download_price(symbols: list[str], start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Download split-adjusted, dividend-unadjusted daily OHLCV and the dividends."""
    return _yf_download(symbols, start, end, adjusted=False)


def _yf_download(
    symbols: list[str], start: pd.Timestamp, end: pd.Timestamp, adjusted: bool
) -> pd.DataFrame:
    """Download daily OHLCV with yfinance, total-return adjusted or not (then with the
    actions: dividends and splits); `end` is inclusive.

    yfinance logs a failed symbol and returns an empty frame; its last logged error is
    raised here instead, as `ConnectionError` when it is the network's, so the caller
    can say why. Its warnings about its own pandas use are silenced.

    Raises
    ------
    ConnectionError
        When yfinance could not reach Yahoo.
    LookupError
        When it failed for another reason (an unknown symbol, no rows).
    """
    import yfinance as yf

    log = logging.getLogger("yfinance")
    level, propagate = log.level, log.propagate
    failures = _Failures()
    log.setLevel(logging.ERROR)
    log.propagate = False
    log.addHandler(failures)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = yf.download(
                symbols,
                start=start.strftime("%Y-%m-%d"),
                end=(end + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
                auto_adjust=adjusted,
                actions=not adjusted,
                group_by="column",
                progress=False,
                threads=False,
                multi_level_index=True,
            )
    finally:
        log.removeHandler(failures)
        log.setLevel(level)
        log.propagate = propagate
    if (frame is None or frame.empty) and failures.messages:
        reason = failures.messages[-1]
        raise ConnectionError(reason) if _NETWORK_FAILURE.search(reason) else LookupError(reason)
    return frame


def split_download(
    frame: pd.DataFrame, symbols: Iterable[str], fields: tuple[str, ...] = FIELDS
) -> dict[str, pd.DataFrame]:
    """Split a yfinance frame into one ``[dates, fields]`` frame per symbol.

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
        part = part.reindex(columns=list(fields)).astype("float64")
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


def _download_range(
    symbol: str, start: pd.Timestamp, end: pd.Timestamp, adjust: str = "total_return"
) -> tuple[pd.DataFrame | None, str]:
    price = adjust == "price"
    try:
        frame = (_download_price if price else _download)([symbol], start, end)
        got = split_download(frame, [symbol], PRICE_FIELDS if price else FIELDS).get(symbol)
    except DataError:
        raise
    except OSError as exc:  # ConnectionError, socket and requests errors
        return None, f"no network: {type(exc).__name__}: {exc}"
    except Exception as exc:  # yfinance or Yahoo said no
        return None, f"the download failed: {type(exc).__name__}: {exc}"
    got = None if got is None else got.loc[start:end]  # no row of a session still trading
    if got is None or got.empty:
        # yfinance reports many failures as an empty frame: never record an empty answer
        # as coverage, or a later run with network would not retry it
        return None, f"Yahoo has no rows for {start.date()}..{end.date()}"
    return got, ""


def _update_one(
    symbol: str, wanted: Range, cache: YahooCache, offline: bool, today: pd.Timestamp
) -> Coverage:
    # `_download_range` is looked up on each call, so a test can replace `_download`
    rules = TopUp(
        lambda *a: _download_range(*a, cache.adjust), "close", SEAM_TOLERANCE, OVERLAP, _missing
    )
    return rules.update(symbol, wanted, cache, offline, today)


def _missing(symbol: str, cache: YahooCache, cause: str) -> str:
    how, fix = why_missing(cause, "check the symbol, run `eastwind data fetch CONFIG` with network")
    return (
        f"{symbol}: not in the cache {cache.folder}, {how}; {fix}, or run offline on "
        "synthetic data with --data synthetic"
    )


def update_cache(
    symbols: Iterable[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    cache: YahooCache,
    offline: bool = False,
    *,
    exchanges: Mapping[str, str] | None = None,
    today: pd.Timestamp | None = None,
) -> dict[str, Coverage]:
    """Bring the cache of each symbol up to [start, end] as far as it can; say how far.

    The range ends at the last completed session of the symbol's exchange (`exchanges`,
    default none: weekdays) before `today` (default `utc_today`) when `end` is later.
    Offline, or when a download fails, a symbol keeps what its cache has
    (`covered_until` judges it).

    Raises
    ------
    DataError
        For a window after the last completed session; for a symbol that neither the
        cache nor the network has, or without rows in [start, end]; offline, for a
        corrupt cache file.
    """
    today = utc_today() if today is None else pd.Timestamp(today).normalize()
    found = {}
    for symbol in symbols:
        last = last_completed_session((exchanges or {}).get(symbol, ""), today)
        if start > last:
            raise DataError(
                f"{symbol}: the window starts on {start.date()}, after the last completed "
                f"session ({last.date()}); move data.start earlier"
            )
        got = _update_one(symbol, (start, min(end, last)), cache, offline, today)
        if got.frame.loc[start:end].empty:
            raise DataError(_missing(symbol, cache, got.cause or "Yahoo has no rows in it"))
        found[symbol] = got
    return found


def fetch(
    symbols: Iterable[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    cache: YahooCache,
    offline: bool = False,
    *,
    exchanges: Mapping[str, str] | None = None,
    today: pd.Timestamp | None = None,
    allow_partial: bool = False,
) -> dict[str, pd.DataFrame]:
    """Return OHLCV per symbol for [start, end], downloading only what the cache lacks.

    A symbol whose cache covers the range is read with no network; otherwise the cache
    is topped up (`update_cache`) and what it covers is checked (`covered_until`).

    Raises
    ------
    DataError
        Naming the symbol, when neither the network nor the cache has it, or when the
        cache covers less than the range and `allow_partial` is off.
    """
    found = update_cache(
        symbols, start, end, cache, offline=offline, exchanges=exchanges, today=today
    )
    until = covered_until(found.values(), cache, allow_partial) or end
    return {symbol: got.frame.loc[start:until] for symbol, got in found.items()}


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
    allow_partial: bool = False,
    today: pd.Timestamp | None = None,
) -> Market:
    """Build a `Market` from Yahoo prices (through the cache) and the fx pairs it needs.

    The symbols and fx pairs are checked together (`covered_until`): with
    `allow_partial` the market ends where every one of them is covered. A price cache
    (``cache.adjust == "price"``) also gives ``market.extras["dividends"]``.
    """
    info = {s: asset_info(s, metadata) for s in symbols}
    exchanges = {s: i.exchange for s, i in info.items()}
    found = update_cache(symbols, start, end, cache, offline, exchanges=exchanges, today=today)
    pairs = {
        currency: fx_pair(currency, base_currency)
        for currency in sorted({i.currency for i in info.values()} - {base_currency})
    }
    rates = update_cache(
        [pair for pair, _ in pairs.values()],
        start - pd.Timedelta(days=10),
        end,
        cache,
        offline,
        today=today,
    )
    end = covered_until([*found.values(), *rates.values()], cache, allow_partial) or end
    closes, opens, volumes, flat, dropped = {}, {}, {}, [], []
    for symbol, got in found.items():
        exchange = info[symbol].exchange
        frame = got.frame.loc[start:end]
        prices = session_prices(frame, Columns(), f"yahoo {symbol}", exchange, symbol)
        closes[symbol], opens[symbol] = prices.close, prices.open
        if prices.volume is not None:
            volumes[symbol] = prices.volume
        flat += [(symbol, d) for d in prices.flat]
        dropped += [(symbol, d) for d in prices.dropped]
    fx = {}
    for currency, (pair, quote) in pairs.items():
        close = rates[pair].frame["close"].loc[:end].dropna()
        fx[currency] = 1.0 / close if quote == "units_per_base" else close
    market = assemble_market(
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
        volumes=volumes,
    )
    if cache.adjust == "price":
        paid = {s: got.frame["dividends"].loc[start:end].fillna(0.0) for s, got in found.items()}
        market.extras["dividends"] = dividends_on_bars(paid, market.index)
    return market
