"""Holding a sweep to its baseline: its best rows and its walk-forward folds.

A config with ``check.sweep`` runs its sweep too. The baseline keeps the best
``check.sweep.top`` rows (parameters and kernel metrics, in rank order) and, with
``walk_forward: true``, each fold's test window, chosen parameters and train and test
scores. A row or fold holds when its parameters are identical and its numbers are within
their metric's tolerance; the test return is held to ``total_return``'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from engine.check.baseline import clean_metrics
from engine.check.compare import MetricCheck, number_check, tolerance_for
from engine.config import RunConfig, SweepCheckConfig, Tolerance
from engine.metric_names import KERNEL_METRICS
from engine.sweep import SweepResult, run_sweep, short_name


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _finite(value: Any) -> float | None:
    return clean_metrics({"x": float(value)})["x"]


def sweep_document(result: SweepResult, held: SweepCheckConfig) -> dict[str, Any]:
    """The sweep part of a baseline: the best rows and, when held, the walk-forward folds."""
    params = [short_name(k) for k in result.keys]
    rows = [
        {
            "params": {p: _plain(row[p]) for p in params},
            "metrics": clean_metrics({m: float(row[m]) for m in KERNEL_METRICS}),
        }
        for _, row in result.ranked().head(held.top).iterrows()
    ]
    document: dict[str, Any] = {
        "metric": result.metric,
        "combinations": len(result.table),
        "top": rows,
    }
    if held.walk_forward and result.walk_forward is not None:
        metric = result.metric
        document["walk_forward"] = [
            {
                "window": f"{fold['test_start']}..{fold['test_end']}",
                "params": {p: _plain(fold[p]) for p in params},
                "train": _finite(fold[f"train_{metric}"]),
                "test": _finite(fold[f"test_{metric}"]),
                "test_return": _finite(fold["test_return"]),
            }
            for _, fold in result.walk_forward.iterrows()
        ]
    return document


def run_held_sweep(config: RunConfig) -> dict[str, Any]:
    """Run `config`'s sweep and return what ``check.sweep`` holds of it.

    Ctrl-C during the sweep raises `KeyboardInterrupt`: a partial sweep is never
    compared (or stored).
    """
    assert config.check is not None and config.check.sweep is not None
    result = run_sweep(config)
    if result.interrupted:
        raise KeyboardInterrupt
    return sweep_document(result, config.check.sweep)


def _identity(item: Mapping[str, Any] | None, *keys: str) -> str | None:
    if item is None:
        return None
    return json.dumps({k: item[k] for k in keys if k in item}, sort_keys=True)


def _same(config: str, name: str, before: str | None, now: str | None) -> MetricCheck:
    ok = before is not None and before == now
    return MetricCheck(config, name, before, now, "identical", ok)


def _item(items: Sequence[Any], i: int) -> Any:
    return items[i] if i < len(items) else None


def compare_sweep(
    config: RunConfig,
    stored: Mapping[str, Any] | None,
    current: Mapping[str, Any],
    metrics: Sequence[str],
    custom: Mapping[str, Tolerance],
) -> list[MetricCheck]:
    """Check a sweep's best rows and folds against the baseline's (None: not recorded)."""
    name = config.name
    if stored is None:
        return [_same(name, "sweep", "not recorded (run --update)", "recorded")]
    checks = []
    held = [m for m in metrics if m in KERNEL_METRICS] or [current["metric"]]
    before_rows, rows = stored.get("top", []), current["top"]
    for i in range(max(len(before_rows), len(rows))):
        before, now = _item(before_rows, i), _item(rows, i)
        label = f"sweep.top[{i + 1}]"
        checks.append(
            _same(name, f"{label}.params", _identity(before, "params"), _identity(now, "params"))
        )
        for metric in held:
            checks.append(
                number_check(
                    name,
                    f"{label}.{metric}",
                    None if before is None else before["metrics"].get(metric),
                    None if now is None else now["metrics"].get(metric),
                    tolerance_for(metric, custom, config),
                )
            )
    if "walk_forward" not in current:
        return checks
    metric = current["metric"]
    before_folds, folds = stored.get("walk_forward", []), current["walk_forward"]
    for i in range(max(len(before_folds), len(folds))):
        before, now = _item(before_folds, i), _item(folds, i)
        label = f"walk_forward.fold[{i + 1}]"
        keys = ("window", "params")
        identities = _identity(before, *keys), _identity(now, *keys)
        checks.append(_same(name, f"{label}.params", *identities))
        for key, shown, tol_metric in (
            ("train", f"train_{metric}", metric),
            ("test", f"test_{metric}", metric),
            ("test_return", "test_return", "total_return"),
        ):
            checks.append(
                number_check(
                    name,
                    f"{label}.{shown}",
                    None if before is None else before.get(key),
                    None if now is None else now.get(key),
                    tolerance_for(tol_metric, custom, config),
                )
            )
    return checks
