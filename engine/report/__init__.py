"""Reports of finished runs: data files, the HTML tearsheet and the comparison page.

Everything is rendered in memory first, then written as one set (`engine.outputs`):
staged, swapped in with Ctrl-C held back, files of an older set that this one does not
rewrite removed, and a manifest ``run.json`` written last with the run id every file of
the set carries. An error never leaves a half-written or mixed report behind, and an
interrupted sweep never replaces a finished one: it goes to ``<out>/partial/``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from engine.backtest import BacktestResult
from engine.outputs import (
    MANIFEST,
    discard_set,
    interrupts_deferred,
    read_manifest,
    require_writable_file,
    require_writable_folder,
    run_id_of,
    write_atomic,
    write_set,
)
from engine.report.tables import (
    METRICS,
    MetricSpec,
    aligned_values,
    bankruptcy_banner,
    metrics_document,
    metrics_json,
    output_files,
    return_correlation,
    side_by_side,
)

if TYPE_CHECKING:
    from engine.capacity import CapacityResult
    from engine.report.sweep_page import ranked_rows, walk_forward_summary
    from engine.sweep import SweepResult

# The HTML pages (plotly) and the sweep's pages load on first use, so that commands
# which write no page (``run --no-html``, ``check``) do not import plotly.
_LAZY = {  # name -> "module" (the module itself) or "module:attribute"
    "run_page": "engine.report.html:run_page",
    "html": "engine.report.html",
    "sweep_page": "engine.report.sweep_page",
    "notebook": "engine.report.notebook",
    "ranked_rows": "engine.report.sweep_page:ranked_rows",
    "walk_forward_summary": "engine.report.sweep_page:walk_forward_summary",
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'engine.report' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    loaded = importlib.import_module(module)
    value = getattr(loaded, attribute) if attribute else loaded
    globals()[name] = value
    return value


def _lazy(name: str) -> Any:
    """`name` of this package as an attribute: loaded on first use, or as patched."""
    return getattr(sys.modules[__name__], name)


__all__ = [
    "CAPACITY_FILES",
    "COMPARE_FILES",
    "MANIFEST",
    "METRICS",
    "PARTIAL",
    "RUN_FILES",
    "SWEEP_FILES",
    "MetricSpec",
    "bankruptcy_banner",
    "interrupts_deferred",
    "metrics_document",
    "ranked_rows",
    "read_manifest",
    "require_writable_file",
    "require_writable_folder",
    "walk_forward_summary",
    "write_atomic",
    "write_capacity",
    "write_comparison",
    "write_run",
    "write_sweep",
]

# The files each command writes; an older folder without a manifest loses those of
# them a new set does not rewrite.
RUN_FILES = ("metrics.json", "equity.csv", "positions.csv", "weights.csv", "trades.csv")
RUN_FILES += ("round_trips.csv", "attribution.csv", "attribution_daily.csv")
RUN_FILES += ("attribution_groups.csv", "attribution_groups_daily.csv", "report.html")
RUN_FILES += ("risk.csv",)
COMPARE_FILES = ("metrics.csv", "equity.csv", "correlation.csv", "compare.html")
SWEEP_FILES = ("results.csv", "results.parquet", "walk_forward.csv", "walk_forward_equity.csv")
SWEEP_FILES += ("sweep.html",)
CAPACITY_FILES = ("capacity.csv", "capacity.json", "capacity.html")
PARTIAL = "partial"  # where an interrupted sweep writes, inside the sweep's folder


def write_run(result: BacktestResult, out: Path, html: bool = True) -> list[Path]:
    """Write metrics.json, equity/positions/weights/trades CSVs, report.html and run.json.

    Without `html`, a report.html of an earlier run in `out` is removed, not left showing
    other numbers.
    """
    files: dict[str, str | bytes] = dict(output_files(result))
    run_id = run_id_of(files)
    files["metrics.json"] = metrics_json(result, run_id)
    if html:
        files["report.html"] = _lazy("run_page")(result, run_id)
    manifest = {"command": "run", "name": result.config.name, "run_id": run_id, "complete": True}
    return write_set(out, files, manifest, RUN_FILES)


def write_comparison(results: Sequence[BacktestResult], out: Path) -> list[Path]:
    """Write the side-by-side metrics, aligned equity (with each distinct benchmark's
    growth of 1), correlations, compare.html and run.json."""
    # plotly, on first use; the module shares its name with the page function
    from engine.report.compare_page import benchmark_values, compare_page

    files: dict[str, str | bytes] = {
        "metrics.csv": side_by_side(results).to_csv(),
        "equity.csv": pd.concat([aligned_values(results), benchmark_values(results)], axis=1)
        .rename_axis("date")
        .to_csv(),
        "correlation.csv": return_correlation(results).to_csv(),
    }
    run_id = run_id_of(files)
    files["compare.html"] = compare_page(results, run_id)
    names = [r.config.name for r in results]
    manifest = {"command": "compare", "name": names, "run_id": run_id, "complete": True}
    return write_set(out, files, manifest, COMPARE_FILES)


def write_sweep(result: SweepResult, out: Path) -> list[Path]:
    """Write results.csv/.parquet, walk-forward tables, sweep.html and run.json.

    A finished sweep goes to `out` (and removes an interrupted one's ``out/partial/``);
    an interrupted one goes to ``out/partial/`` without sweep.html, so the results of an
    earlier finished sweep in `out` stay whole. The paths returned say which.
    """
    from engine.report.sweep_page import results_parquet, sweep_page, sweep_tables
    from engine.sweep import ROW_NOT_RUN

    files: dict[str, str | bytes] = dict(sweep_tables(result))
    run_id = run_id_of(files)
    files["results.parquet"] = results_parquet(result, run_id)
    done = int((result.table["status"] != ROW_NOT_RUN).sum())
    manifest = {
        "command": "sweep",
        "name": result.config.name,
        "run_id": run_id,
        "complete": not result.interrupted,
        "combinations": {"total": len(result.table), "finished": done},
    }
    if result.interrupted:
        return write_set(out / PARTIAL, files, manifest, SWEEP_FILES)
    files["sweep.html"] = sweep_page(result, run_id)
    written = write_set(out, files, manifest, SWEEP_FILES)
    discard_set(out / PARTIAL, "sweep")
    return written


def write_capacity(result: CapacityResult, out: Path) -> list[Path]:
    """Write capacity.csv, capacity.json, capacity.html and run.json as one set."""
    from engine.report.capacity_page import capacity_page  # plotly, on first use
    from engine.report.capacity_table import capacity_csv, capacity_json

    files: dict[str, str | bytes] = {"capacity.csv": capacity_csv(result)}
    run_id = run_id_of(files)
    files["capacity.json"] = capacity_json(result, run_id)
    files["capacity.html"] = capacity_page(result, run_id)
    manifest = {
        "command": "capacity",
        "name": result.config.name,
        "run_id": run_id,
        "complete": True,
        "multipliers": list(result.multipliers),
    }
    return write_set(out, files, manifest, CAPACITY_FILES)
