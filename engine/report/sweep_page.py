"""Outputs of a sweep: the results table (parquet and CSV), walk-forward tables, sweep.html."""

from __future__ import annotations

import html
import io
import itertools

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine import metrics as m
from engine.report.html import chart, log_toggle, page
from engine.report.tables import METRICS
from engine.sweep import LOWER_IS_BETTER, ROW_OK, ROW_STATUS, SweepResult, short_name


def _heatmaps(result: SweepResult) -> list[str]:
    """One heat map per pair of swept parameters with more than one numeric value.

    Each cell is the best value of the metric over the other parameters.
    """
    metric = result.metric
    done = result.table[result.table["status"] == ROW_OK]
    names = [
        short_name(k)
        for k in result.keys
        if done[short_name(k)].nunique() > 1 and pd.api.types.is_numeric_dtype(done[short_name(k)])
    ]
    best = "min" if metric in LOWER_IS_BETTER else "max"
    charts = []
    for i, (x, y) in enumerate(itertools.combinations(names, 2)):
        grid = done.pivot_table(index=y, columns=x, values=metric, aggfunc=best)
        fig = go.Figure(
            go.Heatmap(
                z=grid.to_numpy(dtype=float),
                x=[str(v) for v in grid.columns],
                y=[str(v) for v in grid.index],
                colorscale="Viridis",
                reversescale=metric in LOWER_IS_BETTER,
                colorbar={"title": {"text": metric}},
                hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{metric}=%{{z:.4g}}<extra></extra>",
            )
        )
        fig.update_layout(title=f"{best} {metric} by {x} and {y}", xaxis_title=x, yaxis_title=y)
        charts.append(chart(fig, f"chart-heatmap-{i}", 440))
    return charts


def _curves_chart(result: SweepResult) -> str:
    fig = go.Figure()
    for label, value in result.curves.items():
        fig.add_scatter(x=value.index, y=value, name=label)
    fig.update_layout(
        title=f"Best {len(result.curves)} by {result.metric}", updatemenus=log_toggle()
    )
    return chart(fig, "chart-best", 460)


def _walk_forward_chart(result: SweepResult) -> str:
    assert result.oos_value is not None and result.is_value is not None
    fig = go.Figure()
    fig.add_scatter(x=result.oos_value.index, y=result.oos_value, name="Out of sample (stitched)")
    fig.add_scatter(
        x=result.is_value.index,
        y=result.is_value,
        name="Full-sample best (in sample, hindsight)",
        line={"dash": "dot"},
    )
    fig.update_layout(title="Walk-forward: growth of 1 over the test windows")
    return chart(fig, "chart-walk-forward", 420)


def _table_html(frame: pd.DataFrame) -> str:
    """The frame as an HTML table: metrics formatted as on run pages (percentages, ratios,
    money), other numbers to 4 significant digits; wide tables scroll, never overflow."""
    specs = {spec.key: spec for spec in METRICS}
    specs["return"] = specs["total_return"]
    shown = frame.copy()
    for column in shown.columns:
        # a walk-forward fold's train_<metric> and test_<metric> read as the metric
        name = str(column).removeprefix("train_").removeprefix("test_")
        spec = specs.get(str(column)) or specs.get(name)
        if spec is not None and pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = [spec.format(v) for v in shown[column]]
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = [f"{v:.4g}" for v in shown[column]]
    table = shown.to_html(index=False, border=0, escape=True, classes="sweep")
    return '<div class="wrap">' + table + "</div>"


def walk_forward_summary(result: SweepResult) -> pd.DataFrame | None:
    """Out-of-sample vs in-sample performance over the same test windows."""
    if result.oos_value is None or result.is_value is None:
        return None
    rf = result.config.report.risk_free
    if not isinstance(rf, float):  # a rate by date: the risk-free return of each bar
        assert result.risk_free is not None
        rf = result.risk_free.reindex(result.oos_value.index).to_numpy()
    rows = {
        "out_of_sample": m.performance(result.oos_value, 1.0, rf),
        "in_sample_best": m.performance(result.is_value, 1.0, rf),
    }
    keys = ["total_return", "cagr", "volatility", "sharpe", "max_drawdown"]
    return pd.DataFrame({k: [r[k] for r in rows.values()] for k in keys}, index=list(rows))


def sweep_page(result: SweepResult, run_id: str | None = None) -> str:
    """Return the sweep's HTML page: heat maps, best curves, walk-forward, top table."""
    config = result.config
    sweep = config.sweep
    assert sweep is not None
    top = result.ranked().head(sweep.top).drop(columns=["status", "reason"])  # all ok
    counts = result.table["status"].map(ROW_STATUS).value_counts()
    header = (
        f"<h1>{html.escape(config.name)}: parameter sweep</h1>"
        f"<p>{len(result.table)} combinations of {html.escape(', '.join(result.keys))}; "
        f"ranked by {html.escape(result.metric)}; "
        + ", ".join(f"{n} {html.escape(str(s))}" for s, n in counts.items())
        + "</p>"
    )
    parts = [f"<section><h2>Top {len(top)}</h2>{_table_html(top)}</section>"]
    charts = _heatmaps(result)
    if result.curves:
        charts.insert(0, _curves_chart(result))
    if result.walk_forward is not None:
        charts.append(_walk_forward_chart(result))
        summary = walk_forward_summary(result)
        assert summary is not None
        parts.append(
            "<section><h2>Walk-forward</h2>"
            f"{_table_html(summary.reset_index(names='curve'))}"
            f"<h2>Folds</h2>{_table_html(result.walk_forward)}</section>"
        )
    parts.insert(1, f'<section class="grid">{"".join(f"<div>{c}</div>" for c in charts)}</section>')
    synthetic = config.data.source == "synthetic"
    return page(f"eastwind sweep: {config.name}", header, synthetic, "".join(parts), run_id)


def sweep_tables(result: SweepResult) -> dict[str, str]:
    """The sweep's CSV tables by file name: results, and walk-forward when it ran."""
    files = {"results.csv": result.table.to_csv(index=False)}
    if result.walk_forward is not None and result.oos_value is not None:
        files["walk_forward.csv"] = result.walk_forward.to_csv(index=False)
        curves = pd.concat([result.oos_value, result.is_value], axis=1).rename_axis("date")
        files["walk_forward_equity.csv"] = curves.to_csv()
    return files


def results_parquet(result: SweepResult, run_id: str) -> bytes:
    """The results table as parquet, with `run_id` in the schema's key-value metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(result.table, preserve_index=False)
    metadata = {**(arrow.schema.metadata or {}), b"eastwind.run_id": run_id.encode()}
    buffer = io.BytesIO()
    pq.write_table(arrow.replace_schema_metadata(metadata), buffer)
    return buffer.getvalue()


def ranked_rows(result: SweepResult, n: int) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells of the top `n` rows, for a terminal table."""
    top = result.ranked().head(n)
    params = [short_name(k) for k in result.keys]
    shown = [*params, "total_return", "cagr", "sharpe", "max_drawdown", "turnover"]
    if result.metric not in shown:
        shown.append(result.metric)
    cells = [
        [f"{v:.4g}" if isinstance(v, float | np.floating) else str(v) for v in row]
        for row in top[shown].itertuples(index=False)
    ]
    return shown, cells
