"""The `akshare` source: Hong Kong market data from Eastmoney through the akshare package.

Installed with ``pip install eastwind[cn]``; akshare is imported only when a download
is needed. Three datasets, each cached like the yahoo source (`engine.data.cache_update`:
parquet, top-up, offline reuse, corrupt files downloaded again):

- per-stock southbound holdings, ``holdings-<symbol>``: akshare
  ``stock_hsgt_individual_em(symbol="00700")`` (Eastmoney ``RPT_MUTUAL_STOCK_HOLDRANKS``),
  columns 持股日期 (date), 当日收盘价 (close), 持股数量 (shares held), 持股市值 (their
  value, HKD) and 持股数量占A股百分比 (percent of issued shares; akshare's label says A
  shares, the field is ``HOLD_SHARES_RATIO``). The whole history comes in one call.
- market-wide southbound net buying, ``southbound-market``: ``stock_hsgt_hist_em(
  symbol="南向资金")``, columns 日期 and 当日成交净买额, 买入成交额, 卖出成交额, which akshare
  divides by 100 from Eastmoney's HKD millions, i.e. in HKD hundreds of millions; here
  multiplied back to millions, the unit of ``flows/southbound_daily.csv``.
- Hong Kong index history, ``index-<code>`` (``HSI``, ``HSTECH``, ``HSCEI``):
  ``stock_hk_index_daily_em(symbol=code)``, columns date, open, high, low, latest (the
  close).

Read from akshare 1.19.5's source; nothing here was checked against a live download.
A bad answer (no rows, a missing column, an error text, a timeout) stops the run with
one line naming the symbol and the fix. `_call` is the only function that touches the
network; tests replace it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.cache_update import Coverage, TopUp, covered_until, why_missing
from engine.data.yahoo import last_completed_session
from engine.data.yahoo_cache import YahooCache, utc_today
from engine.errors import DataError

TESTED_VERSION = "1.19.5"
INSTALL = "pip install 'eastwind[cn]'"
MARKET_KEY = "southbound-market"
INDEX_SYMBOLS = ("HSI", "HSTECH", "HSCEI")


@dataclass(frozen=True)
class Dataset:
    """One akshare dataset: its function, how to call it, its columns and their units."""

    name: str
    function: str
    columns: Mapping[str, str]  # akshare's name -> ours; "date" among them
    scale: Mapping[str, float]
    required: str
    tolerance: float  # a restated value beyond this at a top-up's seam: download it whole

    def arguments(self, key: str) -> dict[str, str]:
        """The keyword arguments of the akshare call for cache key `key`."""
        if self.name == "holdings":
            return {"symbol": hk_code(key)}
        if self.name == "market":
            return {"symbol": "南向资金"}
        return {"symbol": key}


HOLDINGS = Dataset(
    "holdings",
    "stock_hsgt_individual_em",
    {
        "持股日期": "date",
        "当日收盘价": "close",
        "持股数量": "holding_shares",
        "持股市值": "holding_value",
        "持股数量占A股百分比": "holding_ratio",
    },
    {"holding_ratio": 0.01},
    "holding_shares",
    0.0,
)
MARKET = Dataset(
    "market",
    "stock_hsgt_hist_em",
    {"日期": "date", "当日成交净买额": "net_buy", "买入成交额": "buy", "卖出成交额": "sell"},
    {"net_buy": 100.0, "buy": 100.0, "sell": 100.0},
    "net_buy",
    1e-9,
)
INDEX = Dataset(
    "index",
    "stock_hk_index_daily_em",
    {"date": "date", "open": "open", "high": "high", "low": "low", "latest": "close"},
    {},
    "close",
    1e-9,
)
FUNCTIONS = (HOLDINGS.function, MARKET.function, INDEX.function)


def hk_code(symbol: str) -> str:
    """Return Eastmoney's five-digit code of a Hong Kong symbol: ``0700.HK`` -> ``00700``.

    Raises
    ------
    DataError
        For a symbol that is not a Hong Kong listing.
    """
    found = re.fullmatch(r"(\d{1,5})\.HK", symbol)
    if found is None:
        raise DataError(
            f"{symbol}: southbound holdings exist only for Hong Kong stocks (like 0700.HK); "
            "drop it from the symbols the akshare extra covers"
        )
    return found.group(1).zfill(5)


def _akshare() -> object:
    try:
        import akshare
    except ImportError as exc:
        raise DataError(
            f"the akshare source needs the akshare package ({exc}); {INSTALL}, or run "
            "offline on synthetic data with --data synthetic"
        ) from None
    return akshare


def _call(function: str, **kwargs: str) -> object:
    """Call the akshare function `function`: the only network access of this source."""
    return getattr(_akshare(), function)(**kwargs)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


def parse(raw: object, dataset: Dataset, key: str) -> pd.DataFrame | None:
    """Return akshare's answer as a frame indexed by date with our column names, None
    for an empty answer.

    Raises
    ------
    LookupError
        When akshare answered with text (an error message) instead of a table.
    DataError
        When a column is missing: akshare renamed it, naming the symbol and the fix.
    """
    if isinstance(raw, str):
        raise LookupError(f"akshare answered {_one_line(raw)!r}")
    if not isinstance(raw, pd.DataFrame):
        raise LookupError(f"akshare returned a {type(raw).__name__}, not a table")
    if raw.empty:
        return None
    missing = [c for c in dataset.columns if c not in raw.columns]
    if missing:
        raise DataError(
            f"{key}: akshare {dataset.function} returned no column {missing[0]!r} (it has "
            f"{_one_line(', '.join(map(str, raw.columns)), 120)}); the installed akshare "
            f"differs from the {TESTED_VERSION} eastwind reads: pip install "
            f"'akshare=={TESTED_VERSION}', or report it"
        )
    frame = raw[list(dataset.columns)].rename(columns=dict(dataset.columns))
    dates = pd.to_datetime(frame.pop("date"), errors="coerce")
    frame = frame.apply(pd.to_numeric, errors="coerce").astype(np.float64)
    for column, factor in dataset.scale.items():
        frame[column] = frame[column] * factor
    frame.index = pd.DatetimeIndex(dates, name="date").normalize().as_unit("ns")
    frame = frame[frame.index.notna() & frame[dataset.required].notna()]
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    return frame if len(frame) else None


def download(
    dataset: Dataset, key: str, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[pd.DataFrame | None, str]:
    """Download `key` of `dataset` and keep [start, end]; (None, why) when that fails."""
    try:
        raw = _call(dataset.function, **dataset.arguments(key))
        got = parse(raw, dataset, key)
    except DataError:
        raise
    except OSError as exc:  # requests' ConnectionError and Timeout, socket errors
        return None, f"no network: {type(exc).__name__}: {_one_line(str(exc))}"
    except Exception as exc:  # Eastmoney's empty answer makes akshare index into None
        return None, f"the download failed: {type(exc).__name__}: {_one_line(str(exc))}"
    got = None if got is None else got.loc[start:end]
    if got is None or got.empty:
        return None, f"akshare {dataset.function} has no rows for {start.date()}..{end.date()}"
    return got, ""


def _missing(dataset: Dataset) -> object:
    def message(key: str, cache: YahooCache, cause: str) -> str:
        how, fix = why_missing(
            cause,
            "check that it is a southbound (Stock Connect) stock"
            if dataset is HOLDINGS
            else f"check the code (indices: {', '.join(INDEX_SYMBOLS)})"
            if dataset is INDEX
            else "retry later",
        )
        return (
            f"{key}: no akshare {dataset.name} data in the cache {cache.folder}, {how}; {fix}, "
            "or run offline on synthetic data with --data synthetic"
        )

    return message


class AkshareData:
    """The akshare datasets through their caches (one folder, a file per key)."""

    def __init__(
        self,
        folder: Path | str | None = None,
        *,
        offline: bool = False,
        allow_partial: bool = False,
        today: pd.Timestamp | None = None,
    ) -> None:
        self.folder = folder
        self.offline = offline
        self.allow_partial = allow_partial
        self.today = utc_today() if today is None else pd.Timestamp(today).normalize()

    def cache(self, dataset: Dataset) -> YahooCache:
        """The cache of `dataset` (files named ``<dataset>-<key>.parquet``)."""
        return _PrefixedCache(self.folder, dataset)

    def _get(
        self, dataset: Dataset, keys: Iterable[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> dict[str, pd.DataFrame]:
        cache = self.cache(dataset)
        rules = TopUp(
            lambda key, a, b: download(dataset, key, a, b),
            dataset.required,
            dataset.tolerance,
            5,
            _missing(dataset),  # type: ignore[arg-type]
        )
        last = last_completed_session("XHKG", self.today)
        found: dict[str, Coverage] = {}
        for key in keys:
            if start > last:
                raise DataError(
                    f"{key}: the window starts on {start.date()}, after the last completed "
                    f"session ({last.date()}); move data.start earlier"
                )
            got = rules.update(key, (start, min(end, last)), cache, self.offline, self.today)
            if got.frame.loc[start:end].empty:
                raise DataError(_missing(dataset)(key, cache, got.cause or "no rows in it"))  # type: ignore[operator]
            found[key] = got
        until = covered_until(found.values(), cache, self.allow_partial) or end
        return {key: got.frame.loc[start:until] for key, got in found.items()}

    def holdings(
        self, symbols: Iterable[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> dict[str, pd.DataFrame]:
        """Southbound holdings per Hong Kong stock, on their publication dates."""
        symbols = list(symbols)
        for symbol in symbols:
            hk_code(symbol)
        return self._get(HOLDINGS, symbols, start, end)

    def market_flow(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Market-wide southbound net buying, buying and selling, HKD millions per day."""
        return self._get(MARKET, [MARKET_KEY], start, end)[MARKET_KEY]

    def index(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Daily open, high, low and close of a Hong Kong index (HSI, HSTECH, HSCEI)."""
        return self._get(INDEX, [symbol], start, end)[symbol]


class _PrefixedCache(YahooCache):
    def __init__(self, folder: Path | str | None, dataset: Dataset) -> None:
        super().__init__(folder, required=dataset.required, source="akshare")
        self.dataset = dataset

    def path(self, symbol: str) -> Path:
        safe = symbol.replace("/", "_").replace("^", "_idx_")
        return self.folder / f"{self.dataset.name}-{safe}.parquet"
