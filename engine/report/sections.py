"""The PM sections of a run's page: attribution, yearly and trailing returns, the worst
drawdowns, round trips and fills. Each returns an HTML fragment; charts go through
`engine.report.html.chart`, so they share the page's style and date axes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

import pandas as pd
import plotly.graph_objects as go

from engine.attribution import CASH, COMPONENTS
from engine.backtest import BacktestResult
from engine.report import analysis as a
from engine.report.tables import equity_frame

_STRATEGY, _BENCHMARK = "#1f77b4", "#7f7f7f"
Chart = Callable[[go.Figure, str, int], str]


def pct(value: float, sign: bool = True) -> str:
    """A fraction as a percentage (``+1.23%``), ``n/a`` when undefined."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:+.2%}" if sign else f"{value:.2%}"


def money(value: float) -> str:
    """A base-currency amount, whole units with thousands separators."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:,.0f}"


def table(
    head: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1, cls: str = ""
) -> str:
    """An HTML table; cells from column `numeric_from` on are right-aligned numbers."""
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class=n>{c}</td>" if i >= numeric_from else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<table class="{cls}"><tr>{th}</tr>{body}</table>'


def quantity(value: float) -> str:
    """A quantity: whole numbers with separators, fractions to 4 decimals."""
    return f"{value:,.0f}" if value == round(value) else f"{value:,.4f}"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


# --- attribution ----------------------------------------------------------------------

_ATTRIBUTION_HEAD = {
    "price": "Price",
    "fx": "FX",
    "dividends": "Dividends",
    "fees": "Fees",
    "taxes": "Taxes",
    "fx_costs": "FX cost",
    "slippage": "Slippage",
    "impact": "Impact",
    "borrow": "Borrow",
    "dividends_paid": "Dividends paid",
    "withholding": "Withholding",
}
# shown when a run has any
_OPTIONAL_PARTS = ("dividends", "dividends_paid", "withholding", "impact")
_ATTRIBUTION_NOTE = (
    "P&L in the base currency. Price: the held quantity's move at the previous fx rate, "
    "and each fill's move from its quote to the close. FX: the currency's move on the held "
    "value. Costs (fees, taxes, fx conversion, slippage and impact against the quote, borrow on "
    "shorts; with price-only closes, dividends paid on shorts and tax withheld from those "
    "received) are subtracted. Contribution = P&L / initial cash; the rows, cash interest "
    "included, sum to the total return."
)


def _attribution_rows(frame: pd.DataFrame, components: tuple[str, ...]) -> list[list[str]]:
    rows = []
    for name, row in frame.iterrows():
        label = "Cash interest" if name == CASH else html.escape(str(name))
        cells = [money(row[c]) for c in components]
        rows.append([label, *cells, money(row["interest"]), money(row["pnl"])])
        rows[-1].append(pct(row["contribution"]))
    total = frame[["pnl", "contribution"]].sum()
    sums = [money(frame[c].sum()) for c in (*components, "interest")]
    rows.append(
        ["<b>Total</b>", *sums, money(total["pnl"]), f"<b>{pct(total['contribution'])}</b>"]
    )
    return rows


def attribution_section(result: BacktestResult, chart: Chart) -> str:
    """By-asset and by-group P&L tables and the cumulative contribution chart."""
    parts = result.attribution
    groups = result.config.data.groups
    init = result.config.portfolio.init_cash
    by_asset = parts.by_asset()
    shown = tuple(c for c in COMPONENTS if c not in _OPTIONAL_PARTS or by_asset[c].to_numpy().any())
    head = ("", *(_ATTRIBUTION_HEAD[c] for c in shown), "Interest", "P&L", "Contribution")
    html_parts = [
        "<h2>Attribution</h2>",
        table(("Asset", *head[1:]), _attribution_rows(by_asset, shown)),
    ]
    if groups:
        html_parts.append("<h3>By group</h3>")
        html_parts.append(
            table(("Group", *head[1:]), _attribution_rows(parts.by_group(groups), shown))
        )
    html_parts.append(_note(_ATTRIBUTION_NOTE))
    daily = parts.daily_groups(groups) if groups else parts.daily()
    cumulative = daily.cumsum() / init
    fig = go.Figure()
    for name in cumulative.columns:
        label = "Cash interest" if name == CASH else str(name)
        fig.add_scatter(x=cumulative.index, y=cumulative[name], name=label)
    fig.add_scatter(
        x=cumulative.index,
        y=cumulative.sum(axis=1),
        name="Total",
        line={"color": "#222", "dash": "dot"},
    )
    by = "group" if groups else "asset"
    fig.update_layout(title=f"Cumulative contribution to return, by {by}", yaxis_tickformat=".0%")
    return (
        f'<section><div class="wrap">{"".join(html_parts)}</div>'
        f"{chart(fig, 'chart-attribution', 460)}</section>"
    )


# --- returns by period ----------------------------------------------------------------


def returns_section(result: BacktestResult, bench_name: str | None, chart: Chart) -> str:
    """Yearly returns against the benchmark (table and bars) and trailing returns."""
    eq = equity_frame(result)
    ppy = result.metrics["periods_per_year"]
    yearly = {"Strategy": a.yearly_returns(eq["returns"])}
    trailing = {"Strategy": a.trailing_returns(eq["returns"], ppy)}
    if "benchmark_returns" in eq:
        yearly[bench_name or "Benchmark"] = a.yearly_returns(eq["benchmark_returns"])
        trailing[bench_name or "Benchmark"] = a.trailing_returns(eq["benchmark_returns"], ppy)
    years = pd.DataFrame(yearly)
    if len(years.columns) == 2:
        years["Difference"] = years.iloc[:, 0] - years.iloc[:, 1]
    year_rows = [[str(y), *(pct(v) for v in row)] for y, row in years.iterrows()]
    trail = pd.DataFrame(trailing)
    labels = {k: f"{k} (ann.)" if k in a.ANNUALISED else k for k in a.TRAILING}
    trail_rows = [[labels[k], *(pct(v) for v in row)] for k, row in trail.iterrows()]
    fig = go.Figure()
    for (name, series), color in zip(yearly.items(), (_STRATEGY, _BENCHMARK), strict=False):
        fig.add_bar(
            x=[str(y) for y in series.index], y=series.to_numpy(), name=name, marker_color=color
        )
    fig.update_layout(title="Yearly returns", yaxis_tickformat=".0%", barmode="group")
    note = _note(
        "Yearly: returns compounded within each calendar year. Trailing windows end at the "
        "last bar: MTD and YTD from the first bar of the month and year, 1Y/3Y/5Y over the "
        "bars after the last date less 1, 3 or 5 years; 3Y, 5Y and since inception are "
        "annualised (CAGR), n/a when the run is shorter."
    )
    return (
        '<section class="grid"><div><h2>Yearly returns</h2>'
        f"{table(('Year', *years.columns), year_rows)}"
        f"<h2>Trailing returns</h2>{table(('Window', *trail.columns), trail_rows)}{note}</div>"
        f"<div>{chart(fig, 'chart-yearly', 420)}</div></section>"
    )


def drawdowns_section(result: BacktestResult) -> str:
    """The five worst drawdowns: start, trough, recovery, depth and lengths."""
    worst = a.worst_drawdowns(result.value, result.config.portfolio.init_cash)

    def day(value: object) -> str:
        return "not recovered" if pd.isna(value) else str(pd.Timestamp(value).date())

    rows = [
        [
            day(r.start),
            day(r.valley),
            day(r.recovery),
            pct(r.depth, sign=False),
            f"{r.days:,.0f} d",
            "-" if pd.isna(r.recovery_days) else f"{r.recovery_days:,.0f} d",
        ]
        for r in worst.itertuples()
    ]
    note = _note(
        "Drawdown from the running peak (the initial cash is the first peak). Start: first "
        "bar under water; length: start to the last bar under water, calendar days; "
        "recovery: trough to the first bar back at the peak."
    )
    head = ("Start", "Trough", "Recovery", "Depth", "Length", "Trough to recovery")
    return f"<h2>Worst drawdowns</h2>{table(head, rows, numeric_from=3)}{note}"


# --- trading --------------------------------------------------------------------------


def _stats_rows(stats: pd.DataFrame) -> list[list[str]]:
    return [
        [
            html.escape(str(name)),
            f"{s['round_trips']:,.0f}",
            pct(s["win_rate"], sign=False),
            "n/a" if not math.isfinite(s["profit_factor"]) else f"{s['profit_factor']:.2f}",
            money(s["expectancy"]),
            money(s["average_win"]),
            money(s["average_loss"]),
        ]
        for name, s in stats.iterrows()
    ]


def trading_section(result: BacktestResult, max_rows: int = 200) -> str:
    """Round trips per asset with their statistics, and the fills, in scrolling tables."""
    trips = result.round_trips
    stats = a.trips_by_asset(trips)
    head = ("Asset", "Round trips", "Win rate", "Profit factor", "Expectancy", "Avg win")
    parts = [
        "<h2>Round trips</h2>",
        table((*head, "Avg loss"), _stats_rows(stats)),
        _note(
            "Fills matched first in, first out per asset; P&L in the base currency after "
            "fees, taxes and fx costs (borrow and interest are the portfolio's). Win rate: "
            "share with P&L > 0; profit factor: gross profit / gross loss; expectancy: mean "
            "P&L per round trip."
        ),
    ]
    shown = trips.tail(max_rows).rename(columns={"return": "ret"})
    rows = [
        [
            html.escape(str(t.symbol)),
            t.side,
            str(t.entry_date.date()),
            str(t.exit_date.date()),
            quantity(t.qty),
            f"{t.entry_price:,.4f}",
            f"{t.exit_price:,.4f}",
            money(t.pnl),
            pct(t.ret),
            f"{t.holding_days:,.0f}",
        ]
        for t in shown.itertuples()
    ]
    more = (
        f" (the last {len(shown)} of {len(trips)}; all are in round_trips.csv)"
        if len(shown) < len(trips)
        else ""
    )
    head2 = ("Asset", "Side", "Entry", "Exit", "Qty", "Entry price", "Exit price", "P&L")
    parts.append(f"<h3>Closed round trips{more}</h3>")
    parts.append(
        '<div class="scroll">' + table((*head2, "Return", "Days"), rows, numeric_from=4) + "</div>"
    )
    fills = result.trades.tail(max_rows)
    impact = "impact" in fills.columns and bool(result.trades["impact"].to_numpy().any())
    fill_rows = [
        [
            str(pd.Timestamp(f.date).date()),
            html.escape(str(f.symbol)),
            f.side,
            quantity(f.qty),
            f"{f.price:,.4f}",
            f"{f.fx:.6g}",
            money(f.value),
            f"{f.fees:,.2f}",
            f"{f.tax:,.2f}",
            f"{f.fx_cost:,.2f}",
            f"{f.slippage:,.2f}",
            *([f"{f.impact:,.2f}"] if impact else []),
        ]
        for f in fills.itertuples()
    ]
    more = (
        f" (the last {len(fills)} of {len(result.trades)}; all are in trades.csv)"
        if len(fills) < len(result.trades)
        else ""
    )
    head3 = ("Date", "Asset", "Side", "Qty", "Price", "FX", "Value", "Fees", "Tax", "FX cost")
    parts.append(f"<h3>Fills{more}</h3>")
    parts.append(
        '<div class="scroll">'
        + table((*head3, "Slippage", *(["Impact"] if impact else [])), fill_rows, numeric_from=3)
        + "</div>"
    )
    return "".join(parts)
