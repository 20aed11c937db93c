"""`eastwind data export`: what a config loads, written as CSV files the csv source reads.

A team member with network runs the export; colleagues without it run the written
``config.yaml`` (the same config on ``source: csv``) and get the same numbers bit for
bit: prices (the benchmark's too), fx rates and extra series are written on the bars
the run uses, with every float in its shortest exact form, so reading them back
gives the same float64 values.

Files: ``<SYMBOL>.csv`` (date, open, close, and volume when the symbol has a known
volume on some bar: an unknown one, a flat row's, is an empty cell),
``fx_<CURRENCY>.csv`` (date, close: the price of one unit in the base currency),
``extra_<name>.csv`` (date and a value column, or one column per symbol), and
``config.yaml``. An extra that a source derived (akshare's southbound series, already
lagged to the bar where it is published) is written as the values the strategy saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from engine.config import RunConfig
from engine.outputs import write_set
from engine.pipeline import load_markets

__all__ = ["export_data"]

_FLOAT = "%.17g"  # enough digits to read back the same float64


def _csv(frame: pd.DataFrame) -> str:
    out = frame.copy()
    out.index = out.index.strftime("%Y-%m-%d")
    out.index.name = "date"
    return out.to_csv(float_format=_FLOAT, lineterminator="\n")


def export_data(config: RunConfig, out: Path, offline: bool = False) -> list[Path]:
    """Write what `config` loads into `out` (see the module docstring); return the paths.

    Raises
    ------
    DataError
        When the data cannot be loaded.
    OutputError
        When `out` cannot be written.
    """
    market, bench = load_markets(config, offline)
    files: dict[str, str] = {}
    names: dict[str, str] = {}
    priced = [market] + ([bench] if bench is not None else [])
    traded = False  # some file has a volume column
    for part in priced:
        for symbol in part.symbols:
            if symbol in names:
                continue
            columns = {"open": part.open[symbol], "close": part.close[symbol]}
            if part.volume is not None and part.volume[symbol].notna().any():
                columns["volume"] = part.volume[symbol]
                traded = True
            frame = pd.DataFrame(columns)
            frame = frame.dropna(how="all", subset=["open", "close"])
            names[symbol] = f"{symbol}.csv"
            files[names[symbol]] = _csv(frame)
    fx: dict[str, Any] = {}
    for currency in market.fx.columns:
        name = f"fx_{currency}.csv"
        files[name] = _csv(market.fx[[currency]].rename(columns={currency: "close"}).dropna())
        fx[currency] = {"file": name, "column": "close"}
    extras: dict[str, Any] = {}
    for extra, series in market.extras.items():
        name = f"extra_{extra}.csv"
        if isinstance(series, pd.DataFrame):
            files[name] = _csv(series)
            extras[extra] = {"file": name, "per_symbol": True}
        else:
            files[name] = _csv(series.rename("value").to_frame())
            extras[extra] = {"file": name, "column": "value"}
    document = config.model_dump(mode="json", exclude_unset=True)
    data = document["data"]
    # the keys set below go last in the same order on every export: exporting the
    # exported config writes the same config.yaml
    dropped = ("cache", "allow_partial", "pattern", "wide")
    for key in (*dropped, "source", "path", "files", "fx", "extras", "columns"):
        data.pop(key, None)
    data.update(
        source="csv",
        path=".",
        files=names,
        fx=fx,
        extras=extras,
        columns={
            "date": "date",
            "open": "open",
            "high": None,
            "low": None,
            "volume": "volume" if traded else None,
        },
    )
    if "benchmark" in document:
        document["benchmark"].pop("source", None)
    document.get("report", {}).pop("out", None)
    files["config.yaml"] = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return write_set(out, files, {"command": "data export", "name": config.name})
