"""Regression checks: a run's metrics and equity hash against a stored baseline.

A baseline (``<dir>/<config name>.json``) records the metrics, a SHA-256 of the value
curve's float64 bytes, the engine version, the data source and a fingerprint of the
data, so a drift caused by changed data is told apart from one caused by code. Each
metric passes when ``|current - baseline| <= max(abs, rel * |baseline|)``; undefined
(NaN) metrics must stay undefined.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np

from engine import __version__
from engine.backtest import BacktestResult, run
from engine.config import RunConfig, Tolerance
from engine.data import Market
from engine.errors import BacktestError, ConfigError

BASELINE_FORMAT = 1
DEFAULT_TOLERANCE = Tolerance(abs=1e-9, rel=1e-6)
EXACT = Tolerance(abs=0.0, rel=0.0)
# counts are integers: any change is drift
_EXACT_METRICS = frozenset({"n_trades"})


class BaselineError(BacktestError):
    """A baseline file is missing, unreadable or not a baseline."""


def _array_bytes(values: np.ndarray) -> bytes:
    # one NaN bit pattern, so equal data always hashes equal
    arr = np.ascontiguousarray(values, dtype=np.float64).copy()
    arr[np.isnan(arr)] = np.nan
    return arr.tobytes()


def data_fingerprint(market: Market) -> str:
    """SHA-256 of everything the simulation reads from the market."""
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


def equity_hash(result: BacktestResult) -> str:
    """SHA-256 of the value curve's float64 bytes: equal only for bit-identical runs."""
    return hashlib.sha256(_array_bytes(result.value.to_numpy())).hexdigest()


def config_hash(config: RunConfig) -> str:
    """SHA-256 of the resolved config (extends and --set applied), report settings aside."""
    settings = config.model_dump(mode="json", exclude={"report", "check", "description"})
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _clean(metrics: Mapping[str, float]) -> dict[str, float | None]:
    return {k: (None if math.isnan(v) else float(v)) for k, v in sorted(metrics.items())}


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
            "fingerprint": data_fingerprint(market),
            "start": str(market.index[0].date()),
            "end": str(market.index[-1].date()),
            "bars": len(market.index),
            "symbols": market.symbols,
        },
        "config_hash": config_hash(result.config),
        "equity_hash": equity_hash(result),
        "metrics": _clean(result.metrics),
    }


def read_baseline(path: Path) -> dict[str, Any]:
    """Read and check a baseline file; every problem is one `BaselineError` line."""
    if not path.exists():
        raise BaselineError(f"{path}: no baseline; create it with --update")
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
    if document["format"] != BASELINE_FORMAT:
        raise BaselineError(
            f"{path}: baseline format {document['format']!r}, this eastwind reads "
            f"{BASELINE_FORMAT}; rewrite it with --update"
        )
    return document


@dataclass(frozen=True)
class MetricCheck:
    """One metric (or the equity hash) of one config against its baseline."""

    config: str
    metric: str
    baseline: float | str | None
    current: float | str | None
    tolerance: str
    ok: bool
    allowed: float | None = None  # the band: max(abs, rel * |baseline|)

    @property
    def difference(self) -> float | None:
        """current - baseline, for numbers."""
        if isinstance(self.baseline, float) and isinstance(self.current, float):
            return self.current - self.baseline
        return None


@dataclass
class ConfigCheck:
    """All checks of one config, and why it drifted when it did."""

    name: str
    path: str
    checks: list[MetricCheck] = field(default_factory=list)
    cause: str = ""

    @property
    def ok(self) -> bool:
        """True when every metric and the hash hold."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[MetricCheck]:
        """The checks that drifted."""
        return [c for c in self.checks if not c.ok]


def tolerances(config: RunConfig, overrides: Mapping[str, Tolerance]) -> dict[str, Tolerance]:
    """Per-metric tolerances: defaults, then the config's ``check:``, then the command line."""
    custom: dict[str, Tolerance] = {}
    if config.check is not None:
        custom.update(config.check.tolerances)
    custom.update(overrides)
    return custom


def _tolerance_for(metric: str, custom: Mapping[str, Tolerance]) -> Tolerance:
    if metric in custom:
        return custom[metric]
    return EXACT if metric in _EXACT_METRICS else DEFAULT_TOLERANCE


def _band(baseline: float | None, tol: Tolerance) -> float | None:
    return None if baseline is None else max(tol.abs or 0.0, (tol.rel or 0.0) * abs(baseline))


def _within(current: float | None, baseline: float | None, tol: Tolerance) -> bool:
    band = _band(baseline, tol)
    if current is None or band is None:
        return current is None and baseline is None
    return abs(current - baseline) <= band  # type: ignore[operator]


def compare(
    result: BacktestResult,
    baseline: Mapping[str, Any],
    custom: Mapping[str, Tolerance],
    use_hash: bool,
) -> ConfigCheck:
    """Check `result` against `baseline`; explain a drift by data, version or code."""
    config = result.config
    unknown = sorted(set(custom) - set(result.metrics))
    if unknown:
        raise ConfigError(
            f"{config.where(('check', 'tolerances'))}: unknown metric {unknown[0]!r}; "
            f"known: {', '.join(sorted(result.metrics))}"
        )
    current = _clean(result.metrics)
    stored: dict[str, float | None] = baseline["metrics"]
    report = ConfigCheck(config.name, str(config.path or ""))
    for metric in sorted(set(current) | set(stored)):
        tol = _tolerance_for(metric, custom)
        now, before = current.get(metric), stored.get(metric)
        ok = metric in current and metric in stored and _within(now, before, tol)
        text = f"abs {tol.abs or 0:g}, rel {tol.rel or 0:g}"
        report.checks.append(
            MetricCheck(config.name, metric, before, now, text, ok, _band(before, tol))
        )
    if use_hash:
        now_hash = equity_hash(result)
        report.checks.append(
            MetricCheck(
                config.name,
                "equity_hash",
                str(baseline["equity_hash"])[:16],
                now_hash[:16],
                "identical",
                now_hash == baseline["equity_hash"],
            )
        )
    if not report.ok:
        report.cause = _cause(result, baseline)
    return report


def _cause(result: BacktestResult, baseline: Mapping[str, Any]) -> str:
    data = baseline.get("data", {}) if isinstance(baseline.get("data"), dict) else {}
    market = result.market
    if data.get("source") != market.source:
        return f"data source changed: {data.get('source')} -> {market.source}"
    if data.get("fingerprint") != data_fingerprint(market):
        return (
            f"data changed (fingerprint differs; period {data.get('start')}..{data.get('end')}"
            f" -> {market.index[0].date()}..{market.index[-1].date()})"
        )
    if baseline.get("config_hash") not in (None, config_hash(result.config)):
        return "same data; the config changed (resolved settings differ from the baseline's)"
    if baseline.get("engine_version") != __version__:
        before = baseline.get("engine_version")
        return f"same data and config; engine version {before} -> {__version__}"
    return "same data, config and engine version: the code changed"


def junit_xml(reports: Sequence[ConfigCheck]) -> str:
    """JUnit XML: one test suite per config, one test case per metric (and the hash)."""
    failures = sum(len(r.failures) for r in reports)
    tests = sum(len(r.checks) for r in reports)
    root = ET.Element("testsuites", name="eastwind check", tests=str(tests), failures=str(failures))
    for report in reports:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=report.name,
            tests=str(len(report.checks)),
            failures=str(len(report.failures)),
            file=report.path,
        )
        for check in report.checks:
            case = ET.SubElement(suite, "testcase", classname=report.name, name=check.metric)
            if not check.ok:
                message = (
                    f"{check.metric} drifted: baseline {check.baseline} -> {check.current} "
                    f"(tolerance {check.tolerance}); {report.cause}"
                )
                failure = ET.SubElement(case, "failure", message=message, type="drift")
                failure.text = message
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


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
    if old.get("data", {}).get("fingerprint") != new["data"]["fingerprint"]:
        lines.append("data fingerprint changed")
    return lines


Started = Callable[[int, RunConfig], None]


def check_configs(
    configs: Sequence[RunConfig],
    baselines: Path,
    overrides: Mapping[str, Tolerance] | None = None,
    use_hash: bool = True,
    started: Started | None = None,
) -> list[ConfigCheck]:
    """Run each config and check it against ``baselines/<name>.json``.

    Every baseline is read before anything runs, so a missing or corrupt file fails at
    once. `overrides` (command-line tolerances) win over each config's ``check:``;
    ``use_hash=False`` compares metrics only, as does a config's ``check.hash: false``.
    `started` is called with the 1-based position and config before each run.
    """
    stored = [read_baseline(baselines / f"{config.name}.json") for config in configs]
    reports = []
    for i, (config, baseline) in enumerate(zip(configs, stored, strict=True), 1):
        if started is not None:
            started(i, config)
        result = run(config)
        with_hash = use_hash and (config.check is None or config.check.hash)
        reports.append(compare(result, baseline, tolerances(config, overrides or {}), with_hash))
    return reports


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
    leaves every stored baseline as it was.
    """
    updates = []
    for i, config in enumerate(configs, 1):
        if started is not None:
            started(i, config)
        path = baselines / f"{config.name}.json"
        new = baseline_document(run(config))
        try:
            what = changes(read_baseline(path) if path.exists() else None, new)
        except BaselineError:  # --update is how a corrupt baseline gets repaired
            what = ["replaced a baseline that could not be read"]
        text = json.dumps(new, indent=2, sort_keys=True) + "\n"
        updates.append(BaselineUpdate(path, text, what))
    return updates
