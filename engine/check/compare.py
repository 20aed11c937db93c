"""Comparing a run with its baseline: which metrics, under which tolerance, and why it moved.

A metric holds when ``|current - baseline| <= max(abs, rel * |baseline|)``; undefined
(null) metrics must stay undefined. The tolerance of a metric is, first to last: the
command line's ``--tolerance``, the config's ``check.tolerances``, the config's
``check.tolerance`` (its default), then the built-in default (``abs 1e-9, rel 1e-6``;
exact for the trade count). ``check.metrics`` chooses the metrics held (default: all).
``check.bounds`` holds a metric within limits on every run (``sharpe_p05: {min: 0}``):
a value outside them fails whatever the baseline, and its cause says so.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine import __version__
from engine.backtest import BacktestResult
from engine.check.baseline import clean_metrics, config_hash, equity_hash, same_data
from engine.config import RunConfig, Tolerance
from engine.errors import ConfigError

DEFAULT_TOLERANCE = Tolerance(abs=1e-9, rel=1e-6)
EXACT = Tolerance(abs=0.0, rel=0.0)
# counts are integers: any change is drift, unless a tolerance names them
EXACT_METRICS = frozenset({"n_trades"})
BOUND_PREFIX = "bound:"  # the name of a ``check.bounds`` check: bound:sharpe_p05


@dataclass(frozen=True)
class MetricCheck:
    """One metric (or the equity hash, or a sweep row) of one config against its baseline."""

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
    missing: bool = False  # no baseline: nothing was compared

    @property
    def ok(self) -> bool:
        """True when every metric and the hash hold."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[MetricCheck]:
        """The checks that drifted."""
        return [c for c in self.checks if not c.ok]

    def summary(self) -> str:
        """One line: what drifted and the most likely cause, or that all holds."""
        if self.missing:
            return f"{self.name}: {self.cause}"
        if self.ok:
            return f"{self.name}: holds its baseline ({len(self.checks)} checks)"
        drifted = ", ".join(c.metric for c in self.failures)
        return f"{self.name}: {self.cause}; drifted ({len(self.failures)}): {drifted}"


def missing_baseline(config: RunConfig, path: Path, baselines: Path) -> ConfigCheck:
    """The report of a config without a baseline: one failing case saying how to create it."""
    where = config.path if config.path is not None else f"{config.name}.yaml"
    how = f"create it with: eastwind check {where} --baselines {baselines} --update"
    report = ConfigCheck(config.name, str(config.path or ""), missing=True)
    report.cause = f"no baseline {path}; {how} (with the same --data and --set options)"
    report.checks.append(MetricCheck(config.name, "baseline", None, None, "exists", False))
    return report


def tolerances(config: RunConfig, overrides: Mapping[str, Tolerance]) -> dict[str, Tolerance]:
    """Per-metric tolerances: the config's ``check.tolerances``, then the command line."""
    custom: dict[str, Tolerance] = {}
    if config.check is not None:
        custom.update(config.check.tolerances)
    custom.update(overrides)
    return custom


def tolerance_for(metric: str, custom: Mapping[str, Tolerance], config: RunConfig) -> Tolerance:
    """The tolerance `metric` is held to (module docstring: the order of precedence)."""
    if metric in custom:
        return custom[metric]
    if metric in EXACT_METRICS:
        return EXACT
    if config.check is not None and config.check.tolerance is not None:
        return config.check.tolerance
    return DEFAULT_TOLERANCE


def _band(baseline: float | None, tol: Tolerance) -> float | None:
    return None if baseline is None else max(tol.abs or 0.0, (tol.rel or 0.0) * abs(baseline))


def number_check(
    config: str, metric: str, before: float | None, now: float | None, tol: Tolerance
) -> MetricCheck:
    """Check one number against its baseline value under `tol`."""
    band = _band(before, tol)
    if now is None or before is None or band is None:
        ok = now is None and before is None
    else:
        ok = abs(now - before) <= band
    text = f"abs {tol.abs or 0:g}, rel {tol.rel or 0:g}"
    return MetricCheck(config, metric, before, now, text, ok, band)


def _unknown(where: str, names: Sequence[str], known: set[str]) -> None:
    for name in names:
        if name not in known:
            guess = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {guess[0]!r}?" if guess else ""
            raise ConfigError(
                f"{where}: unknown metric {name!r}{hint} Known: {', '.join(sorted(known))}"
            )


def held_metrics(config: RunConfig, known: set[str], custom: Mapping[str, Tolerance]) -> list[str]:
    """The metrics ``check.metrics`` holds (all `known` by default).

    A name in ``check.metrics``, ``check.tolerances`` or `custom` (``--tolerance``)
    that is not a known metric is a `ConfigError` naming where it was written.
    """
    written = config.check.tolerances if config.check is not None else {}
    _unknown(config.where(("check", "tolerances")), sorted(written), known)
    _unknown("--tolerance", sorted(set(custom) - set(written)), known)
    if config.check is None or config.check.metrics is None:
        return sorted(known)
    _unknown(config.where(("check", "metrics")), config.check.metrics, known)
    return sorted(set(config.check.metrics))


def compare(
    result: BacktestResult,
    baseline: Mapping[str, Any],
    custom: Mapping[str, Tolerance],
    use_hash: bool,
) -> ConfigCheck:
    """Check `result` against `baseline`; explain a drift by data, config, version or code."""
    config = result.config
    current = clean_metrics(result.metrics)
    stored: dict[str, float | None] = baseline["metrics"]
    report = ConfigCheck(config.name, str(config.path or ""))
    for metric in held_metrics(config, set(current) | set(stored), custom):
        check = number_check(
            config.name,
            metric,
            stored.get(metric),
            current.get(metric),
            tolerance_for(metric, custom, config),
        )
        if metric not in current or metric not in stored:
            check = replace(check, ok=False)
        report.checks.append(check)
    report.checks += bound_checks(config, current)
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
    return report


def bound_checks(config: RunConfig, current: Mapping[str, float | None]) -> list[MetricCheck]:
    """Check each ``check.bounds`` metric of the run against its limits, whatever the
    baseline says; an undefined (null) value is outside any bound.

    A bound on a metric the run does not have is a `ConfigError` naming where it was set.
    """
    bounds = config.check.bounds if config.check is not None else {}
    _unknown(config.where(("check", "bounds")), sorted(bounds), set(current))
    checks = []
    for metric, bound in sorted(bounds.items()):
        now = current.get(metric)
        ok = now is not None
        if now is not None and bound.min is not None:
            ok = ok and now >= bound.min
        if now is not None and bound.max is not None:
            ok = ok and now <= bound.max
        limits = [f"min {bound.min:g}"] if bound.min is not None else []
        limits += [f"max {bound.max:g}"] if bound.max is not None else []
        checks.append(
            MetricCheck(config.name, BOUND_PREFIX + metric, None, now, ", ".join(limits), ok)
        )
    return checks


def cause(result: BacktestResult, baseline: Mapping[str, Any], report: ConfigCheck) -> str:
    """The most likely cause of a drift: data, then config, then engine version, then code;
    or, when only bounds failed, the metrics outside their bounds."""
    if all(c.metric.startswith(BOUND_PREFIX) for c in report.failures):
        outside = (
            f"{c.metric.removeprefix(BOUND_PREFIX)} = {c.current} ({c.tolerance})"
            for c in report.failures
        )
        return "outside its bounds: " + "; ".join(outside)
    data = baseline["data"]
    market = result.market
    if data.get("source") != market.source:
        return f"data source changed: {data.get('source')} -> {market.source}"
    if not same_data(data, market):
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
