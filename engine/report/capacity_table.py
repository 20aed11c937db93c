"""The capacity table as text: column labels and formats, capacity.csv and capacity.json.

No plotly here: the terminal table reads the same `CAPACITY_COLUMNS` as the page.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from engine.capacity import COLUMNS, CapacityResult
from engine.report.tables import run_identity


@dataclass(frozen=True)
class Column:
    """How one column of the capacity table is shown: its label, format and whether the
    terminal table shows it (the CSV, JSON and page show every column)."""

    key: str
    label: str
    fmt: str
    terminal: bool = True

    def format(self, value: object) -> str:
        """Return `value` formatted for display, ``n/a`` when it is undefined."""
        if isinstance(value, str):
            return value or "-"
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        return self.fmt.format(value)


_PCT, _MONEY, _COUNT = "{:+.2%}", "{:,.0f}", "{:,.0f}"
CAPACITY_COLUMNS: tuple[Column, ...] = (
    Column("multiplier", "Multiple", "{:g}x"),
    Column("init_cash", "Initial cash", _MONEY),
    Column("total_return", "Total return", _PCT),
    Column("cagr", "CAGR", _PCT),
    Column("sharpe", "Sharpe", "{:.2f}"),
    Column("max_drawdown", "Max drawdown", "{:.2%}"),
    Column("turnover", "Turnover (ann.)", "{:.2f}x"),
    Column("costs", "Costs", _MONEY),
    Column("costs_bps", "Costs (bps of avg value)", "{:.1f}"),
    Column("impact", "Impact", _MONEY),
    Column("impact_bps", "Impact (bps of avg value)", "{:.1f}"),
    Column("unfilled", "Unfilled (value x bars)", _MONEY),
    Column("unfilled_share", "Unfilled (share of book a bar)", "{:.3%}"),
    Column("unfilled_bars", "Bars with unfilled orders", _COUNT),
    Column("shortfall", "Buys not funded", _MONEY),
    Column("n_trades", "Trades", _COUNT),
    Column("fees", "Fees", _MONEY, terminal=False),
    Column("taxes", "Taxes", _MONEY, terminal=False),
    Column("slippage", "Slippage", _MONEY, terminal=False),
    Column("fx_costs", "FX costs", _MONEY, terminal=False),
    Column("avg_value", "Average value", _MONEY, terminal=False),
    Column("bankrupt", "Bankrupt on", "{}"),
)


def formatted(result: CapacityResult, terminal: bool = False) -> tuple[list[str], list[list[str]]]:
    """Labels and formatted cells of the table, one list per multiple.

    With `terminal`, only the columns the terminal shows, and the bankruptcy column only
    when some row went bankrupt.
    """
    table = result.table
    shown = [
        c
        for c in CAPACITY_COLUMNS
        if not terminal or (c.terminal and (c.key != "bankrupt" or table["bankrupt"].any()))
    ]
    cells = [[c.format(row[c.key]) for c in shown] for _, row in table.iterrows()]
    return [c.label for c in shown], cells


def capacity_csv(result: CapacityResult) -> str:
    """capacity.csv: the table, one row per multiple, numbers at full precision."""
    return str(result.table.to_csv(index=False))


def capacity_json(result: CapacityResult, run_id: str | None = None) -> str:
    """capacity.json: the run's identity, the column definitions and the rows (NaN as null)."""
    config, market = result.config, result.results[0].market
    rows = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in result.table.to_dict(orient="records")
    ]
    document: dict[str, object] = {
        **run_identity(config, market),
        "multipliers": list(result.multipliers),
        "columns": COLUMNS,
        "rows": rows,
    }
    if run_id is not None:
        document["run_id"] = run_id
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
