"""The terminal table of one config's check, as `eastwind check` prints it."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from engine.check.compare import ConfigCheck, MetricCheck

if TYPE_CHECKING:
    from rich.table import Table


def _shown(value: float | str | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _allowed(check: MetricCheck) -> str:
    if check.tolerance == "identical":
        return "identical"
    return "" if check.allowed is None else f"±{check.allowed:.2g}"


def check_table(report: ConfigCheck, everything: bool, key_metrics: Collection[str]) -> Table:
    """A rich table of `report`: the drifted checks, the key metrics and the hash, or all.

    Its columns fold rather than cut, and it is at least as wide as its title, so a log
    shows every metric name and the cause whole.
    """
    from rich.table import Table
    from rich.text import Text

    verdict = "[green]ok[/]" if report.ok else f"[bold red]DRIFT[/]: {report.cause}"
    title = f"{report.name} ({report.path}): {verdict}"
    table = Table(title=title, min_width=Text.from_markup(title).cell_len)
    for column in ("metric", "baseline", "current", "difference", "allowed", "verdict"):
        justify = "left" if column == "metric" else "right"
        table.add_column(column, justify=justify, overflow="fold")
    for c in report.checks:
        if not (everything or not c.ok or c.metric in key_metrics or c.metric == "equity_hash"):
            continue
        diff = c.difference
        table.add_row(
            c.metric,
            "missing" if report.missing else _shown(c.baseline),
            "" if report.missing else _shown(c.current),
            "" if diff is None else f"{diff:+.3g}",
            _allowed(c),
            "ok" if c.ok else "[bold red]DRIFT[/]",
        )
    return table
