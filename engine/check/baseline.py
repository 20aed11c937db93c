"""Baseline files: what a finished run records, and reading one back with every field checked.

A baseline (``<dir>/<config name>.json``, format 2) records the metrics, a SHA-256 of the
value curve's float64 bytes, the engine version, a hash of the resolved config and a
fingerprint of the data. Metrics that are undefined or infinite are stored as null.

The data fingerprint must not depend on the machine: the synthetic market is computed
with ``exp`` and ``log``, whose last bits differ between CPUs and libm builds, so a hash
of the prices' bytes (format 1), or of the prices rounded to 12 digits (which still
changes in about 49 of 50 markets nudged by a few ulps), would blame a config change on
"the data". It therefore has two parts: ``fingerprint``, a SHA-256 of everything exact
(dates, symbols, currencies, board lots, series names and where values are missing), and
``checksums``, three exactly rounded sums per series column (of ``|x|``, of ``x`` and of
``x`` weighted by its position), which agree when they are within `CHECKSUM_BAND` of the
column's ``sum |x|``. Noise of a few ulps moves a sum by less than 1e-15 of it; moving
one price of a 2,000-bar column of prices near 100 by a hundred-thousandth of a unit
moves it by more than the band.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine import __version__
from engine.backtest import BacktestResult
from engine.config import RunConfig
from engine.data import Market
from engine.errors import BacktestError

BASELINE_FORMAT = 2
READABLE_FORMATS = (1, 2)  # format 1: the data fingerprint hashed the prices' bytes
CHECKSUM_BAND = 1e-11  # of a column's sum |x|
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BaselineError(BacktestError):
    """A baseline file is unreadable or not a valid baseline."""


def _array_bytes(values: np.ndarray) -> bytes:
    # one NaN bit pattern, so equal data always hashes equal
    arr = np.ascontiguousarray(values, dtype=np.float64).copy()
    arr[np.isnan(arr)] = np.nan
    return arr.tobytes()


def _series(market: Market) -> Iterator[tuple[str, pd.DataFrame]]:
    """Every float series the simulation reads, as named frames."""
    yield "close", market.close
    yield "open", market.open
    yield "fx", market.fx
    for name in sorted(market.extras):
        extra = market.extras[name]
        yield f"extras.{name}", extra.to_frame() if isinstance(extra, pd.Series) else extra


def _checksums(values: np.ndarray) -> list[float]:
    finite = values[np.isfinite(values)]
    position = (np.flatnonzero(np.isfinite(values)) + 1.0) / max(len(values), 1)
    # fsum is exactly rounded: the same values give the same sums on any machine
    return [math.fsum(np.abs(finite)), math.fsum(finite), math.fsum(finite * position)]


def data_fingerprint(market: Market) -> dict[str, Any]:
    """The data's fingerprint: ``fingerprint`` (exact parts) and ``checksums`` (per column)."""
    digest = hashlib.sha256()
    digest.update(np.asarray(market.index.asi8).tobytes())
    digest.update(json.dumps([market.symbols, market.base_currency]).encode())
    digest.update(json.dumps([market.currency, market.lot_size], sort_keys=True).encode())
    checksums: dict[str, dict[str, list[float]]] = {}
    for name, frame in _series(market):
        values = frame.to_numpy(dtype=np.float64)
        digest.update(json.dumps([name, [str(c) for c in frame.columns]]).encode())
        digest.update(np.isnan(values).tobytes())
        checksums[name] = {str(c): _checksums(values[:, j]) for j, c in enumerate(frame.columns)}
    return {"fingerprint": digest.hexdigest(), "checksums": checksums}


def _bytes_fingerprint(market: Market) -> str:
    """Format 1's fingerprint: the prices' bytes; equal only on the machine that wrote it."""
    digest = hashlib.sha256()
    digest.update(np.asarray(market.index.asi8).tobytes())
    digest.update(json.dumps([market.symbols, market.base_currency]).encode())
    digest.update(json.dumps([market.currency, market.lot_size], sort_keys=True).encode())
    for frame in (market.close, market.open, market.fx):
        digest.update(json.dumps([str(c) for c in frame.columns]).encode())
        digest.update(_array_bytes(frame.to_numpy(dtype=np.float64)))
    for name in sorted(market.extras):
        digest.update(name.encode())
        digest.update(_array_bytes(np.asarray(market.extras[name], dtype=np.float64)))
    return digest.hexdigest()


def _sums_agree(stored: list[float], current: list[float]) -> bool:
    band = CHECKSUM_BAND * max(abs(stored[0]), abs(current[0]))
    return all(abs(a - b) <= band for a, b in zip(stored, current, strict=True))


def fingerprints_agree(stored: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Whether two format-2 data fingerprints describe the same data (module docstring)."""
    if stored.get("fingerprint") != current.get("fingerprint"):
        return False
    before, now = stored.get("checksums", {}), current.get("checksums", {})
    if set(before) != set(now) or any(set(before[s]) != set(now[s]) for s in now):
        return False
    return all(_sums_agree(before[s][c], now[s][c]) for s in now for c in now[s])


def same_data(stored: Mapping[str, Any], market: Market) -> bool:
    """Whether `market` is the data a baseline's ``data`` section describes.

    Format 2 (``checksums`` present): the exact parts are equal and every column's sums
    agree within `CHECKSUM_BAND`. Format 1: the prices are equal to the last bit.
    """
    if "checksums" not in stored:
        return stored.get("fingerprint") == _bytes_fingerprint(market)
    return fingerprints_agree(stored, data_fingerprint(market))


def equity_hash(result: BacktestResult) -> str:
    """SHA-256 of the value curve's float64 bytes: equal only for bit-identical runs."""
    return hashlib.sha256(_array_bytes(result.value.to_numpy())).hexdigest()


def config_hash(config: RunConfig) -> str:
    """SHA-256 of the resolved config (extends and --set applied), report settings aside."""
    settings = config.model_dump(mode="json", exclude={"report", "check", "description"})
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def clean_metrics(metrics: Mapping[str, float]) -> dict[str, float | None]:
    """Metrics as stored: sorted, floats, None where undefined or infinite."""
    return {k: (float(v) if math.isfinite(v) else None) for k, v in sorted(metrics.items())}


def baseline_document(result: BacktestResult) -> dict[str, Any]:
    """The baseline of a finished run, as written to ``<name>.json``."""
    market = result.market
    return {
        "format": BASELINE_FORMAT,
        "name": result.config.name,
        "config": str(result.config.path) if result.config.path else None,
        "engine_version": __version__,
        "data": {
            "source": market.source,
            **data_fingerprint(market),
            "start": str(market.index[0].date()),
            "end": str(market.index[-1].date()),
            "bars": len(market.index),
            "symbols": market.symbols,
        },
        "config_hash": config_hash(result.config),
        "equity_hash": equity_hash(result),
        "metrics": clean_metrics(result.metrics),
    }


def _shown(value: Any) -> str:
    try:
        return json.dumps(value)  # as written in the file: Infinity, true, "1.2"
    except (TypeError, ValueError):
        return repr(value)


def check_number(path: Path, key: str, value: Any) -> None:
    """Raise `BaselineError` unless `value` is a finite number or null."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BaselineError(
            f"{path}: {key}: {_shown(value)} is not a number; rewrite the baseline with --update"
        )
    if not math.isfinite(value):
        raise BaselineError(
            f"{path}: {key}: {_shown(value)} is not a finite number (undefined metrics are "
            "null); rewrite the baseline with --update"
        )


def _check_fields(path: Path, document: Mapping[str, Any]) -> None:
    if not isinstance(document["name"], str):
        raise BaselineError(f"{path}: name: {_shown(document['name'])} is not a string")
    if not isinstance(document["engine_version"], str):
        raise BaselineError(
            f"{path}: engine_version: {_shown(document['engine_version'])} is not a string"
        )
    for key in ("equity_hash", "config_hash"):
        value = document.get(key, "0" * 64)
        if not (isinstance(value, str) and _SHA256.match(value)):
            raise BaselineError(
                f"{path}: {key}: {value!r} is not a SHA-256; rewrite the baseline with --update"
            )
    data = document["data"]
    if not isinstance(data, dict):
        raise BaselineError(f"{path}: data: {_shown(data)} is not a mapping")
    if not isinstance(data.get("fingerprint"), str):
        raise BaselineError(f"{path}: data.fingerprint: missing or not a string")
    checksums = data.get("checksums", {})
    if not isinstance(checksums, dict):
        raise BaselineError(f"{path}: data.checksums: not a mapping")
    for series, columns in checksums.items():
        if not isinstance(columns, dict):
            raise BaselineError(f"{path}: data.checksums.{series}: not a mapping")
        for column, sums in columns.items():
            key = f"data.checksums.{series}.{column}"
            if not (isinstance(sums, list) and len(sums) == 3):
                raise BaselineError(f"{path}: {key}: {_shown(sums)} is not three sums")
            for value in sums:
                check_number(path, key, value)
    for metric, value in document["metrics"].items():
        check_number(path, f"metrics.{metric}", value)
    if "sweep" in document:
        _check_sweep(path, document["sweep"])


def _check_sweep(path: Path, sweep: Any) -> None:
    if not isinstance(sweep, dict) or not isinstance(sweep.get("top"), list):
        raise BaselineError(f"{path}: sweep: not a sweep section; rewrite it with --update")
    for i, row in enumerate(sweep["top"], 1):
        if not (isinstance(row, dict) and isinstance(row.get("metrics"), dict)):
            raise BaselineError(f"{path}: sweep.top[{i}]: not a row; rewrite it with --update")
        for metric, value in row["metrics"].items():
            check_number(path, f"sweep.top[{i}].metrics.{metric}", value)
    for i, fold in enumerate(sweep.get("walk_forward", []), 1):
        if not isinstance(fold, dict):
            raise BaselineError(f"{path}: sweep.walk_forward[{i}]: not a fold")
        for key in ("train", "test", "test_return"):
            check_number(path, f"sweep.walk_forward[{i}].{key}", fold.get(key))


def read_baseline(path: Path) -> dict[str, Any]:
    """Read and check a baseline file; every problem is one `BaselineError` line.

    The line names the file and the key at fault. A missing file is the caller's
    concern (`engine.check.check_configs` reports it as a failing case).
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: cannot read the baseline ({exc})") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}); rewrite it with --update"
        ) from None
    required = {"format", "name", "engine_version", "data", "equity_hash", "metrics"}
    missing = sorted(required - set(document)) if isinstance(document, dict) else ["all"]
    if missing or not isinstance(document.get("metrics"), dict):
        raise BaselineError(
            f"{path}: not an eastwind baseline (missing {', '.join(missing) or 'metrics'}); "
            "rewrite it with --update"
        )
    if document["format"] not in READABLE_FORMATS:
        raise BaselineError(
            f"{path}: baseline format {document['format']!r}, this eastwind reads "
            f"{', '.join(map(str, READABLE_FORMATS))}; rewrite it with --update"
        )
    _check_fields(path, document)
    return document
