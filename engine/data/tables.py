"""Reading one user file (CSV or parquet) into a dated table, and what an error message
may quote of it.

A message about a file names the file, the line or row and the column, and quotes at
most `QUOTED_ITEMS` names or cells of it, each cut to `QUOTED_CHARS` characters: a wrong
file (a log, a secrets file) is named, never printed.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import DataError

# Cells that mean "no value" in a number column; any other text there is an error.
MISSING = ("", "NaN", "nan", "NA", "<NA>", "null", "NULL", "None")
QUOTED_ITEMS = 8
QUOTED_CHARS = 40


def clip(value: object, limit: int = QUOTED_CHARS) -> str:
    """`value` as text for a message: cut to `limit` characters, unprintables escaped."""
    text = str(value)
    text = text if len(text) <= limit else text[:limit] + "…"
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def quoted(value: object) -> str:
    """`value` cut short (`clip`) and quoted, for a message."""
    return repr(clip(value))


def listed(values: Iterable[object], quote: bool = True) -> str:
    """At most `QUOTED_ITEMS` of `values`, each cut short, and how many more there are."""
    items = list(values)
    shown = [quoted(v) if quote else clip(v) for v in items[:QUOTED_ITEMS]]
    more = len(items) - QUOTED_ITEMS
    text = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    return f"[{text}]" if quote else text


def is_parquet(path: Path) -> bool:
    """True for a ``.parquet`` or ``.pq`` file name."""
    return path.suffix.lower() in (".parquet", ".pq")


def _is_binary(path: Path) -> bool:
    with path.open("rb") as handle:
        return b"\0" in handle.read(8192)


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or parquet file, with a clear error when it is missing or unreadable.

    Only the cells in `MISSING` are read as NaN; other text stays text, so that a typo in
    a number column can be reported (see `_numbers`). Blank CSV lines are dropped, and
    the row labels stay the row's position, so that CSV line = label + 2. A folder, a
    device and a CSV that holds binary data are errors, before anything is read.
    """
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: is not a file (a folder or a device); name a CSV or parquet file")
    try:
        if is_parquet(path):
            return pd.read_parquet(path)
        if _is_binary(path):
            raise DataError(
                f"{path}: holds binary data, not CSV text; expected a UTF-8 CSV file with a "
                "header row such as date,close (or a .parquet file)"
            )
        with warnings.catch_warnings():
            # more fields on a row than in the header: pandas would drop them, or take the
            # first columns as an index and shift every value left
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                path,
                keep_default_na=False,
                na_values=list(MISSING),
                skip_blank_lines=False,
                index_col=False,
            )
    except pd.errors.ParserWarning:
        raise DataError(_longer_than_header(path)) from None
    except (ValueError, OSError, ImportError) as exc:
        raise DataError(f"{path}: cannot read it ({clip(str(exc).strip(), 200)})") from None
    return table.dropna(how="all")


def _longer_than_header(path: Path) -> str:
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = csv.reader(handle)
        header = len(next(rows, []))
        for line, row in enumerate(rows, 2):
            if len(row) > header:
                return (
                    f"{path}: line {line} has {len(row)} fields, the header {header}; remove "
                    "the extra fields (a comma at the end of the line counts), or name them "
                    "in the header"
                )
    return f"{path}: a line has more fields than the header; remove the extra fields"


def _numbers(table: pd.DataFrame, names: Sequence[str], path: Path) -> pd.DataFrame:
    """Return `table` with the columns `names` as float64.

    Raises
    ------
    DataError
        Naming the file, the line (CSV) or row (parquet) and the column of the first
        cell that is neither a number nor one of the `MISSING` markers.
    """
    converted = {}
    for name in names:
        raw = table[name]
        if pd.api.types.is_numeric_dtype(raw):
            converted[name] = raw.astype(np.float64)
            continue
        parsed = pd.to_numeric(raw, errors="coerce").astype(np.float64)
        missing = raw.isna() | raw.astype(str).str.strip().isin(MISSING)
        bad = parsed.isna() & ~missing
        if bad.any():
            label = bad.index[np.argmax(bad.to_numpy())]
            where = f"row {label + 1}" if is_parquet(path) else f"line {label + 2}"
            raise DataError(
                f"{path}: {where}, column {name!r}: {quoted(raw.at[label])} is not a number; "
                "correct it, or leave the cell empty for no value"
            )
        converted[name] = parsed
    return table.assign(**converted) if converted else table


def dated(
    table: pd.DataFrame,
    date_column: str,
    path: Path,
    numbers: Sequence[str] = (),
    label: str | None = None,
) -> pd.DataFrame:
    """Index `table` by its date column, with the present columns of `numbers` as float64.

    With a `label` (a series: ``data.extras.flows``), a date with several rows is an error.
    """
    if date_column not in table.columns:
        raise DataError(
            f"{path}: no date column {date_column!r}; columns are {listed(table.columns)}"
        )
    dates = _dates(table[date_column], date_column, path)
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    if label is not None:
        one_row_per_date(pd.DatetimeIndex(dates.dt.normalize()), path, label)
    table = _numbers(table, [n for n in numbers if n in table.columns], path)
    return table.drop(columns=[date_column]).set_index(
        pd.DatetimeIndex(dates.dt.normalize(), name="date")
    )


def _date_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 20240102.0, from a column with a gap
    return str(value)


def _dates(column: pd.Series, name: str, path: Path) -> pd.Series:
    """Parse a date column; name the line (CSV) or row (parquet) of the first cell that is
    empty or not a date. A number such as 20240102 is read as that day, not as
    nanoseconds after 1970."""
    text = column.map(_date_text) if pd.api.types.is_numeric_dtype(column) else column
    try:
        dates = pd.to_datetime(text, format="mixed", errors="coerce")
    except (ValueError, TypeError) as exc:  # e.g. offsets +08:00 and -05:00 in one column
        raise DataError(
            f"{path}: column {name!r} holds dates of different kinds ({clip(exc, 120)}); "
            "write every date the same way, e.g. YYYY-MM-DD"
        ) from None
    bad = dates.isna().to_numpy()
    if bad.any():
        label = column.index[np.argmax(bad)]
        where = f"row {label + 1}" if is_parquet(path) else f"line {label + 2}"
        cell = column.at[label]
        if pd.api.types.is_scalar(cell) and pd.isna(cell):
            raise DataError(f"{path}: {where} has no date in column {name!r}; give it one")
        raise DataError(
            f"{path}: {where}, column {name!r}: {quoted(cell)} is not a date; write dates "
            "as YYYY-MM-DD"
        )
    # pandas parses 9999-12-31, but calendars and alignment need it in nanoseconds
    outside = ((dates < pd.Timestamp.min) | (dates > pd.Timestamp.max)).to_numpy()
    if outside.any():
        label = column.index[np.argmax(outside)]
        where = f"row {label + 1}" if is_parquet(path) else f"line {label + 2}"
        raise DataError(
            f"{path}: {where}, column {name!r}: {quoted(column.at[label])} is outside the "
            f"years {pd.Timestamp.min.year + 1} to {pd.Timestamp.max.year - 1}; correct it"
        )
    return dates


def number_column(table: pd.DataFrame, name: str, path: Path | str) -> pd.Series:
    """Column `name` of `table` as float64 (text as NaN); an error naming the file if absent."""
    if name not in table.columns:
        raise DataError(f"{path}: no column {name!r}; columns are {listed(table.columns)}")
    return pd.to_numeric(table[name], errors="coerce").astype(np.float64)


def one_row_per_date(dates: pd.DatetimeIndex, path: Path, label: str) -> None:
    """Raise `DataError` naming the file and the first date that has several rows."""
    repeated = dates[dates.duplicated()]
    if len(repeated):
        day = repeated[0]
        count = int((dates == day).sum())
        raise DataError(
            f"{path}: date {day.date()} appears {count} times; {label} needs one row per "
            f"date: delete the repeated rows, or pick one kind of row with "
            f"{label}.where: {{column: value}}"
        )
