"""What a `BacktestResult` shows in a notebook: labelled stats, a figure, a short summary.

`BacktestResult.stats`, `.plot` and `_repr_html_` call these on first use, so a result
costs nothing to display until it is displayed, and the figures are the report's own.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.backtest import BacktestResult
from engine.outputs import write_atomic
from engine.report.html import drawdown_chart, equity_chart, run_page
from engine.report.tables import METRICS, bankruptcy_banner, equity_frame


def stats(result: BacktestResult) -> pd.Series:
    """The run's metrics (those of metrics.json), labelled as in the report.

    Metrics without a report label (``periods_per_year``, ...) keep their key.
    """
    labels = {spec.key: spec.label for spec in METRICS}
    order = [s.key for s in METRICS if s.key in result.metrics]
    order += [k for k in result.metrics if k not in labels]
    values = [float(result.metrics[k]) for k in order]
    index = pd.Index([labels.get(k, k) for k in order], name="metric")
    return pd.Series(values, index=index, name=result.config.name, dtype=float)


def figure(result: BacktestResult) -> go.Figure:
    """Equity vs benchmark above drawdown, one plotly figure with a shared date axis."""
    eq = equity_frame(result)
    bench = ", ".join(result.config.benchmark.symbols) if result.config.benchmark else None
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.7, 0.3],
        vertical_spacing=0.06,
        subplot_titles=("Equity vs benchmark", "Drawdown"),
    )
    for row, part in ((1, equity_chart(eq, bench)), (2, drawdown_chart(eq, bench))):
        for trace in part.data:
            trace.showlegend = row == 1
            fig.add_trace(trace, row=row, col=1)
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_layout(
        title=result.config.name, template="plotly_white", height=560, hovermode="x unified"
    )
    return fig


def write_page(result: BacktestResult, path: Path) -> Path:
    """Write the run's report page to `path`: the report.html of ``eastwind run``, except
    for the run id, which names a set of files and this page is written alone."""
    write_atomic(path, run_page(result))
    return path


def summary_html(result: BacktestResult) -> str:
    """A compact HTML summary for a notebook: name, period, key metrics beside the benchmark."""
    market, config = result.market, result.config
    period = f"{market.index[0].date()} to {market.index[-1].date()}, {len(market.index)} bars"
    head = f"<th>{html.escape(config.name)}</th>"
    if result.benchmark_metrics is not None:
        head += "<th>Benchmark</th>"
    rows = []
    for spec in METRICS:
        if not spec.key_metric or spec.key not in result.metrics:
            continue
        cells = f"<td>{spec.format(result.metrics[spec.key])}</td>"
        if result.benchmark_metrics is not None:
            theirs = result.benchmark_metrics.get(spec.key) if spec.on_benchmark else None
            cells += f"<td>{spec.format(theirs) if theirs is not None else ''}</td>"
        rows.append(f"<tr><td>{html.escape(spec.label)}</td>{cells}</tr>")
    notes = ["SYNTHETIC data" if market.is_synthetic else f"{market.source} data"]
    if (line := bankruptcy_banner(result)) is not None:
        notes.append(f"<b>{html.escape(line)}</b>")
    return (
        f"<div><b>eastwind: {html.escape(config.name)}</b> &middot; "
        f"{html.escape(config.strategy.name)} &middot; {html.escape(period)}<br>"
        f"<small>{' &middot; '.join(notes)}</small>"
        f"<table><tr><th>Metric</th>{head}</tr>{''.join(rows)}</table></div>"
    )
