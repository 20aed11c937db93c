"""Report rows of the risk limits, stops, participation cap and impact model.

`tables._specs` adds `risk_rows` to the metric table; these rows are shown only when a
run used the feature (`MetricSpec.when_used`), so a run without limits reads as before.
`risk_setup_rows` describes the settings in the page's Setup table, and `risk_file` is
``risk.csv``, the per-bar cuts, stops and held-back orders, written when any of the
features is on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from engine.config import RunConfig

_MONEY, _BOOK, _COUNT = "{:,.0f}", "{:,.1%}", "{:,.0f}"


def risk_rows() -> list[tuple[str, str, str, bool]]:
    """(key, label, format, key metric) of the Limits and liquidity group."""
    return [
        ("unfilled", "Orders held back (value)", _MONEY, True),
        ("unfilled_bars", "Bars with orders held back", _COUNT, True),
        ("cut_name", "Cut by name limits", _BOOK, True),
        ("cut_group", "Cut by group limits", _BOOK, True),
        ("cut_net", "Cut by the net band", _BOOK, True),
        ("cut_drawdown", "Cut by the drawdown rule", _BOOK, True),
        ("drawdown_bars", "Bars in the drawdown cut", _COUNT, True),
        ("stop_losses", "Stop-losses", _COUNT, True),
        ("take_profits", "Take-profits", _COUNT, True),
    ]


RISK_DEFINITIONS: dict[str, str] = {
    "impact": "Half-spread plus square-root impact paid on fills, k * sigma * sqrt(qty / ADV) "
    "of each fill's value, base currency.",
    "unfilled": "Value of orders the participation cap held back, at each bar's quote; a "
    "remainder that waits several bars counts on each.",
    "unfilled_bars": "Bars on which the participation cap held back some order.",
    "cut_name": "Sum over bars of the |weight| the per-name maximum took off the targets, "
    "in fractions of the book (1.0 = 100% of the book).",
    "cut_group": "Sum over bars of the |weight| the group gross and net limits took off the "
    "targets, fractions of the book.",
    "cut_net": "Sum over bars of the |weight| the portfolio net band took off the targets, "
    "fractions of the book.",
    "cut_drawdown": "Sum over bars of the |weight| the drawdown rule took off the targets, "
    "fractions of the book.",
    "drawdown_bars": "Bars at whose close the drawdown rule was cutting the targets.",
    "stop_losses": "Positions closed because the close moved stop_loss against the entry.",
    "take_profits": "Positions closed because the close moved take_profit in their favour.",
}


def risk_on(config: RunConfig) -> bool:
    """Whether the run uses limits, the drawdown rule, stops or the participation cap."""
    p = config.portfolio
    return any(x is not None for x in (p.limits, p.drawdown, p.stops, p.participation))


def risk_file(config: RunConfig, risk: pd.DataFrame | None) -> dict[str, str]:
    """``risk.csv`` (the per-bar risk frame) when a risk feature is on, else nothing."""
    if risk is None or not risk_on(config):
        return {}
    return {"risk.csv": risk.rename_axis("date").to_csv()}


def _per_symbol(value: float | Mapping[str, float]) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v:.1%}" for k, v in value.items())
    return f"{value:.1%}"


def _band(band: tuple[float, float] | None) -> str:
    return "-" if band is None else f"[{band[0]:+.0%}, {band[1]:+.0%}]"


def risk_setup_rows(config: RunConfig) -> list[tuple[str, str]]:
    """Rows of the Setup table for the risk and liquidity settings a run uses."""
    p = config.portfolio
    rows: list[tuple[str, str]] = []
    if p.participation is not None:
        rows.append(("Participation", f"at most {p.participation:.1%} of a bar's volume"))
    if p.limits is not None:
        if p.limits.max_weight is not None:
            rows.append(("Max weight a name", _per_symbol(p.limits.max_weight)))
        if p.limits.net is not None:
            rows.append(("Net exposure band", _band(p.limits.net)))
        for name, g in p.limits.groups.items():
            gross = "-" if g.gross is None else f"{g.gross:.0%}"
            rows.append((f"Group {name}", f"gross {gross}, net {_band(g.net)}"))
    if p.drawdown is not None:
        d = p.drawdown
        rows.append(
            (
                "Drawdown rule",
                f"after a {d.trigger:.0%} drawdown keep {d.fraction:.0%} of the targets, "
                f"until a {d.recovery:.0%} rise from the trough",
            )
        )
    if p.stops is not None:
        for label, value in (
            ("Stop-loss", p.stops.stop_loss),
            ("Take-profit", p.stops.take_profit),
        ):
            if value is not None:
                rows.append((label, _per_symbol(value) + " of the entry price"))
    return rows


def when_used(values: list[float | None]) -> bool:
    """Whether a risk metric has something to show: a finite non-zero value."""
    return any(v is not None and not math.isnan(v) and v != 0.0 for v in values)
