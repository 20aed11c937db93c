"""Regression checks: a run's metrics and equity hash against a stored baseline.

`check_configs` runs configs and compares each with ``<baselines>/<config name>.json``;
`new_baselines` makes those files (``eastwind check --update``). One concern per module:

- `engine.check.baseline`: the baseline file: what it records, the machine-independent
  data fingerprint, and reading it back with every field checked;
- `engine.check.compare`: which metrics are held, under which tolerance, and the most
  likely cause of a drift (data, then config, then engine version, then code);
- `engine.check.sweeps`: a sweep config's best rows and walk-forward folds;
- `engine.check.junit`: the JUnit XML for CI systems.

A config without a baseline is a failing case that says how to create it, and the other
configs still run; a baseline that cannot be read or holds a bad value is a
`BaselineError` before anything runs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.backtest import run
from engine.check.baseline import (
    BASELINE_FORMAT,
    BaselineError,
    baseline_document,
    config_hash,
    data_fingerprint,
    equity_hash,
    fingerprints_agree,
    read_baseline,
    same_data,
)
from engine.check.compare import (
    DEFAULT_TOLERANCE,
    EXACT,
    ConfigCheck,
    MetricCheck,
    cause,
    compare,
    held_metrics,
    missing_baseline,
    tolerances,
)
from engine.check.junit import junit_xml
from engine.check.sweeps import compare_sweep, run_held_sweep
from engine.config import RunConfig, Tolerance
from engine.errors import ConfigError

__all__ = [
    "BASELINE_FORMAT",
    "DEFAULT_TOLERANCE",
    "EXACT",
    "BaselineError",
    "BaselineUpdate",
    "ConfigCheck",
    "MetricCheck",
    "baseline_document",
    "changes",
    "check_configs",
    "config_hash",
    "data_fingerprint",
    "equity_hash",
    "junit_xml",
    "new_baselines",
    "parse_tolerances",
    "read_baseline",
    "same_data",
]

Started = Callable[[int, RunConfig], None]
_TOLERANCE = re.compile(r"^(?P<metric>[a-z_0-9]+)=(?P<kind>abs|rel):(?P<value>[0-9.eE+-]+)$")


def parse_tolerances(items: Sequence[str]) -> dict[str, Tolerance]:
    """Parse ``METRIC=abs:X`` / ``METRIC=rel:X`` items (``--tolerance``); abs and rel combine."""
    found: dict[str, dict[str, float]] = {}
    for item in items:
        match = _TOLERANCE.match(item)
        try:
            value = float(match["value"]) if match else -1.0
        except ValueError:
            value = -1.0
        if match is None or not (0.0 <= value < math.inf):
            raise ConfigError(
                f"--tolerance {item!r}: expected METRIC=abs:X or METRIC=rel:X with X >= 0, "
                "e.g. --tolerance sharpe=abs:0.01"
            )
        found.setdefault(match["metric"], {})[match["kind"]] = value
    return {metric: Tolerance(**kinds) for metric, kinds in found.items()}


def _baseline_path(baselines: Path, config: RunConfig) -> Path:
    return baselines / f"{config.name}.json"


def _check_one(
    config: RunConfig,
    baseline: Mapping[str, Any],
    overrides: Mapping[str, Tolerance],
    use_hash: bool,
) -> ConfigCheck:
    result = run(config)
    custom = tolerances(config, overrides)
    with_hash = use_hash and (config.check is None or config.check.hash)
    report = compare(result, baseline, custom, with_hash)
    if config.check is not None and config.check.sweep is not None:
        metrics = held_metrics(config, set(result.metrics), custom)
        held = run_held_sweep(config)
        report.checks += compare_sweep(config, baseline.get("sweep"), held, metrics, custom)
    if not report.ok:
        report.cause = cause(result, baseline, report)
    return report


def check_configs(
    configs: Sequence[RunConfig],
    baselines: Path,
    overrides: Mapping[str, Tolerance] | None = None,
    use_hash: bool = True,
    started: Started | None = None,
) -> list[ConfigCheck]:
    """Run each config and check it against ``baselines/<name>.json``.

    Every baseline is read (and checked) before anything runs, so a corrupt file fails
    at once; a missing one becomes a failing report (`ConfigCheck.missing`) and the
    others still run. `overrides` (command-line tolerances) win over each config's
    ``check:``; ``use_hash=False`` compares metrics only, as does ``check.hash: false``.
    `started` is called with the 1-based position and config before each run.
    """
    if not baselines.is_dir():
        raise BaselineError(
            f"{baselines}: no such folder; create the baselines with --update, or give "
            "--baselines the folder that holds them"
        )
    stored: list[dict[str, Any] | None] = []
    for config in configs:
        path = _baseline_path(baselines, config)
        stored.append(read_baseline(path) if path.exists() else None)
    reports = []
    for i, (config, baseline) in enumerate(zip(configs, stored, strict=True), 1):
        if started is not None:
            started(i, config)
        if baseline is None:
            path = _baseline_path(baselines, config)
            reports.append(missing_baseline(config, path, baselines))
        else:
            reports.append(_check_one(config, baseline, overrides or {}, use_hash))
    return reports


def changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """What an update changes, one line per metric (or 'created')."""
    if old is None:
        return ["created"]
    lines = []
    for metric in sorted(set(old.get("metrics", {})) | set(new["metrics"])):
        before, after = old.get("metrics", {}).get(metric), new["metrics"].get(metric)
        if before != after:
            lines.append(f"{metric}: {before} -> {after}")
    if old.get("equity_hash") != new["equity_hash"] and not lines:
        lines.append("equity hash changed (metrics equal to the last digit)")
    if "checksums" not in old.get("data", {}):
        lines.append("data fingerprint now machine-independent (baseline format 2)")
    elif not fingerprints_agree(old["data"], new["data"]):
        lines.append("data fingerprint changed")
    if old.get("sweep") != new.get("sweep"):
        lines.append("sweep: best rows or walk-forward changed")
    return lines


@dataclass(frozen=True)
class BaselineUpdate:
    """A new baseline for one config: where it goes, its text, and what it changes."""

    path: Path
    text: str
    changes: list[str]


def new_baselines(
    configs: Sequence[RunConfig], baselines: Path, started: Started | None = None
) -> list[BaselineUpdate]:
    """Run each config and return its new baseline; nothing is written here.

    The caller writes them (atomically) once every config has run, so a failing config
    leaves every stored baseline as it was. A config with ``check.sweep`` runs its sweep
    too, and the baseline records its best rows (and walk-forward folds).
    """
    updates = []
    for i, config in enumerate(configs, 1):
        if started is not None:
            started(i, config)
        path = _baseline_path(baselines, config)
        new = baseline_document(run(config))
        if config.check is not None and config.check.sweep is not None:
            new["sweep"] = run_held_sweep(config)
        try:
            what = changes(read_baseline(path) if path.exists() else None, new)
        except BaselineError:  # --update is how a corrupt baseline gets repaired
            what = ["replaced a baseline that could not be read"]
        text = json.dumps(new, indent=2, sort_keys=True) + "\n"
        updates.append(BaselineUpdate(path, text, what))
    return updates
