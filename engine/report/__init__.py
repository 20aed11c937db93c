"""Reports of finished runs: data files, the HTML tearsheet and the comparison page.

Everything is rendered in memory first and then written file by file through a
temporary file and a rename, so an error never leaves a half-written report behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from engine.backtest import BacktestResult
from engine.report.html import compare_page, run_page
from engine.report.sweep_page import ranked_rows, sweep_files, walk_forward_summary
from engine.report.tables import (
    METRICS,
    MetricSpec,
    aligned_values,
    bankruptcy_banner,
    metrics_document,
    output_files,
    return_correlation,
    side_by_side,
)
from engine.sweep import SweepResult

__all__ = [
    "METRICS",
    "MetricSpec",
    "bankruptcy_banner",
    "metrics_document",
    "ranked_rows",
    "walk_forward_summary",
    "write_atomic",
    "write_comparison",
    "write_run",
    "write_sweep",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write `text` to `path` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 is for secrets, not reports
        if isinstance(text, bytes):
            with os.fdopen(fd, "wb") as raw:
                raw.write(text)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_all(out: Path, files: Mapping[str, str | bytes]) -> list[Path]:
    paths = []
    for name, text in files.items():
        write_atomic(out / name, text)
        paths.append(out / name)
    return paths


def write_run(result: BacktestResult, out: Path, html: bool = True) -> list[Path]:
    """Write metrics.json, equity/positions/weights/trades CSVs and report.html to `out`."""
    files: dict[str, str | bytes] = dict(output_files(result))
    if html:
        files["report.html"] = run_page(result)
    return _write_all(out, files)


def write_comparison(results: Sequence[BacktestResult], out: Path) -> list[Path]:
    """Write the side-by-side metrics, aligned equity, correlations and compare.html."""
    files: dict[str, str | bytes] = {
        "metrics.csv": side_by_side(results).to_csv(),
        "equity.csv": aligned_values(results).rename_axis("date").to_csv(),
        "correlation.csv": return_correlation(results).to_csv(),
        "compare.html": compare_page(results),
    }
    return _write_all(out, files)


def write_sweep(result: SweepResult, out: Path) -> list[Path]:
    """Write results.csv/.parquet, walk-forward tables and sweep.html to `out`."""
    return _write_all(out, sweep_files(result))
