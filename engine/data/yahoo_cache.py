"""The yahoo source's cache: one parquet file per symbol with the date range it covers.

``<cache>/<symbol>.parquet`` holds a symbol's fields (open, high, low, close, volume)
and, in the file's metadata under ``eastwind``, the range it covers (``start``,
``end``) and the UTC date it was downloaded (``fetched``). Files are written
atomically: a temporary file in the same folder, then a rename.

A file is corrupt when its parquet cannot be read, its metadata is not JSON, lacks
``start`` or ``end`` or holds a bad date, its rows are not dated prices with a close,
or a folder stands where it should be. `YahooCache.inspect` says what is wrong and the
yahoo source decides what to do about it (download again, or an error offline).

A file written before coverage stopped at the last completed session may claim an
``end`` in the future; without a ``fetched`` date it covers no further than its rows.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from engine.errors import DataError

_META_KEY = b"eastwind"

Range = tuple[pd.Timestamp, pd.Timestamp]


def default_cache_dir(source: str = "yahoo") -> Path:
    """Return the user's cache folder for one source's downloads."""
    root = os.environ.get("EASTWIND_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return (
        Path(root) / "eastwind" / source if root else Path.home() / ".cache" / "eastwind" / source
    )


def utc_today() -> pd.Timestamp:
    """Return today's date in UTC, the clock of `last_completed_session`."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()


class YahooCache:
    """A folder of per-symbol parquet files with the date range each one covers.

    `required` names the column every file must have (a price cache's ``close``); the
    akshare source keeps its holdings and indices in caches of this kind too. Price-only
    closes and dividends (``data.adjust: price``) are another basis: they live in a
    folder of their own, ``price/``.
    """

    def __init__(
        self,
        folder: Path | str | None = None,
        required: str = "close",
        source: str = "yahoo",
        adjust: str = "total_return",
    ) -> None:
        self.folder = Path(folder) if folder else default_cache_dir(source)
        self.required = required
        self.adjust = adjust
        if adjust == "price":
            self.folder = self.folder / "price"

    def path(self, symbol: str) -> Path:
        """Return the cache file of `symbol`."""
        safe = symbol.replace("/", "_").replace("^", "_idx_")
        return self.folder / f"{safe}.parquet"

    def inspect(self, symbol: str) -> tuple[tuple[pd.DataFrame, Range] | None, str | None]:
        """Return the cached frame and the range it covers (None without a file), and
        what is wrong with a corrupt file (None when it is sound)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.path(symbol)
        if not path.exists():
            return None, None
        if not path.is_file():
            return None, "a folder, not a file"
        try:
            table = pq.read_table(path)
            frame = table.to_pandas()
        except (OSError, ValueError, TypeError, pa.ArrowException) as exc:
            return None, f"unreadable parquet: {type(exc).__name__}"
        raw = (table.schema.metadata or {}).get(_META_KEY)
        if raw is None:
            return None, "no eastwind metadata"
        try:
            meta = json.loads(raw)
        except ValueError:
            return None, "its metadata is not JSON"
        if not isinstance(meta, dict) or not {"start", "end"} <= meta.keys():
            return None, "its metadata lacks start or end"
        try:
            start, end = pd.Timestamp(meta["start"]), pd.Timestamp(meta["end"])
            fetched = pd.Timestamp(meta["fetched"]) if "fetched" in meta else None
        except (ValueError, TypeError):
            return None, "its metadata has a bad date"
        if pd.isna(start) or pd.isna(end) or (fetched is not None and pd.isna(fetched)):
            return None, "its metadata has a bad date"
        if start > end:
            return None, f"its metadata starts on {start.date()}, after its end {end.date()}"
        index = frame.index
        if not isinstance(index, pd.DatetimeIndex) or self.required not in frame.columns:
            what = "prices with a close" if self.required == "close" else self.required
            return None, f"its rows are not dated {what}"
        if index.empty or not index.is_monotonic_increasing or not index.is_unique:
            return None, "its dates are empty, unsorted or repeated"
        # no session is complete on the day of its download; a file from before the
        # download date was kept may claim an end in the future: it covers its rows
        end = min(end, fetched - pd.Timedelta(days=1) if fetched is not None else index[-1])
        return (frame, (start, max(end, start))), None

    def read(self, symbol: str) -> tuple[pd.DataFrame, Range] | None:
        """Return the cached frame and the range it covers, or None without a file.

        Raises
        ------
        DataError
            For a corrupt file, naming it.
        """
        cached, problem = self.inspect(symbol)
        if problem:
            raise DataError(self.corrupt(symbol, problem))
        return cached

    def corrupt(self, symbol: str, problem: str, failure: str = "") -> str:
        """Return the one-line error for a corrupt cache file of `symbol`, and the
        `failure` of the download that was to replace it, if any."""
        failed = f" and the download to replace it failed ({failure})" if failure else ""
        return (
            f"{symbol}: the cache file {self.path(symbol)} is corrupt ({problem}){failed}; "
            "run `eastwind data fetch CONFIG` with network to replace it, or delete it"
        )

    def first_covered(self, symbol: str) -> pd.Timestamp | None:
        """The first date of the range the cache of `symbol` covers, or None without one."""
        cached = self.read(symbol)
        return None if cached is None else cached[1][0]

    def write(
        self,
        symbol: str,
        frame: pd.DataFrame,
        start: pd.Timestamp,
        end: pd.Timestamp,
        fetched: pd.Timestamp | None = None,
    ) -> None:
        """Write `frame` as the cache of `symbol` covering [start, end], atomically.

        `fetched` is the UTC date of the download (default: today); ``end`` is before it.

        Raises
        ------
        DataError
            When the file cannot be written, naming it.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.path(symbol)
        fetched = utc_today() if fetched is None else fetched
        table = pa.Table.from_pandas(frame, preserve_index=True)
        meta = dict(table.schema.metadata or {})
        covered = {"start": str(start.date()), "end": str(end.date())}
        meta[_META_KEY] = json.dumps({**covered, "fetched": str(fetched.date())}).encode()
        table = table.replace_schema_metadata(meta)
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            os.close(fd)
            pq.write_table(table, tmp)
            os.replace(tmp, path)
        except BaseException as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            if not isinstance(exc, OSError):
                raise
            fix = "remove that folder" if path.is_dir() else "check the folder (data.cache)"
            raise DataError(
                f"{symbol}: cannot write the cache file {path} ({type(exc).__name__}: "
                f"{exc.strerror or exc}); {fix}"
            ) from None
