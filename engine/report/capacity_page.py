"""capacity.html: return, costs, impact and unfilled orders against the starting cash.

A page of the report's kind (`engine.report.html.page`: the vendored plotly bundle, the
shared template, the run id stamp), with one chart of three panels on a log x axis and
the table of `engine.report.capacity_table`.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.capacity import COLUMNS, CapacityResult
from engine.report.capacity_table import CAPACITY_COLUMNS, formatted
from engine.report.html import chart, meta_table, page, setup_head
from engine.report.tables import bankruptcy_banner

_RETURN, _CAGR, _COSTS, _IMPACT, _UNFILLED = "#1f77b4", "#aec7e8", "#c0392b", "#e67e22", "#8e44ad"


def capacity_chart(result: CapacityResult) -> go.Figure:
    """Total return and CAGR, costs and impact in bps of the average value, and the share
    of the book the participation cap held back, each against the starting cash on a
    log axis."""
    table = result.table
    ccy = result.results[0].market.base_currency
    x = table["init_cash"].to_numpy()
    labels = [f"{m:g}x" for m in table["multiplier"]]
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=(
            "Return",
            "Costs and impact (bps of the average value)",
            "Unfilled orders (share of the book waiting at an average bar)",
        ),
    )

    def line(column: str, name: str, color: str, row: int, fmt: str) -> None:
        fig.add_scatter(
            x=x,
            y=table[column].to_numpy(dtype=float),
            name=name,
            mode="lines+markers",
            line_color=color,
            customdata=labels,
            hovertemplate=f"%{{customdata}}: {name} %{{y:{fmt}}}<extra></extra>",
            row=row,
            col=1,
        )

    line("total_return", "Total return", _RETURN, 1, "+.2%")
    line("cagr", "CAGR", _CAGR, 1, "+.2%")
    line("costs_bps", "Costs (bps)", _COSTS, 2, ".1f")
    line("impact_bps", "Impact (bps)", _IMPACT, 2, ".1f")
    line("unfilled_share", "Unfilled", _UNFILLED, 3, ".3%")
    fig.update_xaxes(type="log", tickvals=x, ticktext=[f"{v:,.0f}" for v in x])
    fig.update_xaxes(title_text=f"Initial cash ({ccy}, log scale)", row=3, col=1)
    fig.update_yaxes(tickformat=".1~%", row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=2, col=1)
    fig.update_yaxes(rangemode="tozero", tickformat=".3~%", row=3, col=1)
    fig.update_layout(margin_t=40)
    return fig


def _table_html(result: CapacityResult) -> str:
    """The table turned on its side: a row per column, a column per multiple."""
    labels, cells = formatted(result)
    head = "".join(
        f'<th style="text-align:right">{html.escape(v)}</th>' for v in cells_of(cells, 0)
    )
    rows = []
    for i, column in enumerate(CAPACITY_COLUMNS[1:], 1):
        tip = html.escape(COLUMNS[column.key])
        label = f'<abbr title="{tip}">{html.escape(labels[i])}</abbr>'
        values = "".join(f'<td class="num">{html.escape(v)}</td>' for v in cells_of(cells, i))
        rows.append(f"<tr><td>{label}</td>{values}</tr>")
    return (
        f'<div class="wrap"><table><tr><th>{html.escape(labels[0])}</th>{head}</tr>'
        f"{''.join(rows)}</table></div>"
    )


def cells_of(cells: list[list[str]], column: int) -> list[str]:
    """Column `column` of the formatted rows: one cell per multiple."""
    return [row[column] for row in cells]


def _definitions() -> str:
    items = "".join(
        f"<dt>{html.escape(c.label)} ({c.key})</dt><dd>{html.escape(COLUMNS[c.key])}</dd>"
        for c in CAPACITY_COLUMNS
    )
    return (
        '<details class="defs" open><summary>What each column means</summary>'
        f"<dl>{items}</dl></details>"
    )


def capacity_page(result: CapacityResult, run_id: str | None = None) -> str:
    """Return capacity.html: the chart, the table and the columns' definitions."""
    config, first = result.config, result.results[0]
    market = first.market
    period = f"{market.index[0].date()} to {market.index[-1].date()} ({len(market.index)} bars)"
    multiples = ", ".join(f"{m:g}x" for m in result.multipliers)
    header = (
        f"<h1>{html.escape(config.name)}: capacity</h1>"
        f"<p>{html.escape(period)} &middot; data: {html.escape(market.source)}"
        f" &middot; strategy: {html.escape(config.strategy.name)}"
        f" &middot; {html.escape(multiples)} the initial cash</p>"
    )
    setup = [
        *setup_head(config, market, period),
        ("Initial cash (1x)", f"{config.portfolio.init_cash:,.0f} {market.base_currency}"),
        ("Multiples", multiples),
    ]
    note = (
        "Each row is the same config with only portfolio.init_cash changed: the same "
        "market, targets and cost settings, simulated again. A fixed or minimum fee weighs "
        "less on a bigger book; market impact, the participation cap and board lots weigh "
        "differently at each size, so the curve need not be monotone."
    )
    body = (
        f'<section class="top"><div><h2>Side by side</h2>{_table_html(result)}'
        f'<p class="note">{html.escape(note)}</p><h2>Setup</h2>{meta_table(setup)}</div>'
        f"<div><h2>Capacity curve</h2>{chart(capacity_chart(result), 'chart-capacity', 820)}"
        f"</div></section><section>{_definitions()}</section>"
    )
    alerts = [
        f"{m:g}x: {line}"
        for m, r in zip(result.multipliers, result.results, strict=True)
        if (line := bankruptcy_banner(r))
    ]
    return page(
        f"eastwind capacity: {config.name}", header, market.is_synthetic, body, run_id, alerts
    )
