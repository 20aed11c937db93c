"""The page comparing runs: metrics side by side with the benchmark, growth of 1 with the
benchmark's line, drawdown and rolling one-year return panels per run, correlations."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from engine import metrics as m
from engine.backtest import BacktestResult
from engine.report.html import chart, log_toggle, meta_table, metrics_table, page
from engine.report.tables import aligned_values, bankruptcy_banner, return_correlation

_BENCHMARK = "#7f7f7f"
_COLORS = pio.templates["plotly_white"].layout.colorway or ("#1f77b4",)  # the runs, in order


def benchmark_values(results: Sequence[BacktestResult]) -> pd.DataFrame:
    """Each distinct benchmark of the runs as a growth of 1, named ``Benchmark (SYMBOLS)``.

    Runs sharing a benchmark over different periods share one column: the curve of the
    run with the most bars.
    """
    curves: dict[str, pd.Series] = {}
    for r in sorted(results, key=lambda r: -len(r.value)):
        if r.benchmark is None or r.config.benchmark is None:
            continue
        name = _bench_name(r)
        if name is not None and name not in curves:
            curves[name] = r.benchmark / r.config.portfolio.init_cash
    return pd.DataFrame(curves).sort_index()


def benchmark_metrics(results: Sequence[BacktestResult]) -> dict[str, dict[str, float]]:
    """The metrics of each distinct benchmark, keyed as `benchmark_values` names them."""
    out: dict[str, dict[str, float]] = {}
    for r in sorted(results, key=lambda r: -len(r.value)):
        if r.benchmark_metrics is None or r.config.benchmark is None:
            continue
        out.setdefault(str(_bench_name(r)), r.benchmark_metrics)
    return out


def _rolling_year(curve: pd.Series) -> pd.Series:
    """Return over the trailing 365 calendar days at each bar (NaN for the first year)."""
    index = pd.DatetimeIndex(curve.index)
    back = index.searchsorted(index - pd.Timedelta(days=365), side="right") - 1
    before = np.where(back >= 0, curve.to_numpy()[np.maximum(back, 0)], np.nan)
    return pd.Series(curve.to_numpy() / before - 1.0, index=index)


def _bench_name(r: BacktestResult) -> str | None:
    return f"Benchmark ({', '.join(r.config.benchmark.symbols)})" if r.config.benchmark else None


def _panels(
    curves: dict[str, pd.Series], bench: pd.DataFrame, own: dict[str, str | None]
) -> tuple[go.Figure, go.Figure]:
    """Drawdown and rolling one-year return, one panel per run with its own benchmark."""
    names = list(curves)
    figs = []
    for title, measure in (
        ("Drawdown", lambda c: pd.Series(m.drawdown(c.to_numpy(), 1.0), index=c.index)),
        ("Rolling one-year return", _rolling_year),
    ):
        fig = make_subplots(
            rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.04,
            subplot_titles=names,
        )  # fmt: skip
        for i, name in enumerate(names, start=1):
            y = measure(curves[name])
            fig.add_scatter(
                x=y.index, y=y, name=name, fill="tozeroy" if title == "Drawdown" else None,
                row=i, col=1, showlegend=False, line_color=_COLORS[(i - 1) % len(_COLORS)],
            )  # fmt: skip
            b = own[name]
            if b is not None and b in bench:
                by = measure(bench[b].dropna())
                fig.add_scatter(
                    x=by.index, y=by, name=b, line={"color": _BENCHMARK, "dash": "dot"},
                    row=i, col=1, showlegend=False,
                )  # fmt: skip
        fig.update_yaxes(tickformat=".0%")
        fig.update_layout(title=f"{title}, each run (its benchmark dotted)")
        figs.append(fig)
    return figs[0], figs[1]


def compare_page(results: Sequence[BacktestResult], run_id: str | None = None) -> str:
    """Return one HTML page comparing runs: metrics side by side, equity curves, correlations."""
    names = [r.config.name for r in results]
    values = aligned_values(results)
    bench = benchmark_values(results)
    equity = go.Figure()
    curves = {name: values[name].dropna() for name in names}
    for i, (name, curve) in enumerate(curves.items()):
        equity.add_scatter(x=curve.index, y=curve, name=name, line_color=_COLORS[i % len(_COLORS)])
    for b in bench.columns:
        curve = bench[b].dropna()
        equity.add_scatter(x=curve.index, y=curve, name=b, line={"color": _BENCHMARK})
    equity.update_layout(title="Growth of 1 from the initial cash", updatemenus=log_toggle())
    drawdowns, rolling = _panels(curves, bench, {r.config.name: _bench_name(r) for r in results})
    corr = return_correlation(results)
    heat = go.Figure(
        go.Heatmap(
            z=corr.to_numpy(),
            x=names,
            y=names,
            text=[[f"{v:.2f}" for v in row] for row in corr.to_numpy()],
            texttemplate="%{text}",
            colorscale="RdBu",
            zmin=-1.0,
            zmax=1.0,
        )
    )
    heat.update_layout(
        title="Correlation of daily returns", yaxis_autorange="reversed", margin_l=160
    )
    runs = [
        (
            r.config.name,
            f"{r.config.strategy.name} on {r.market.source}, {r.market.index[0].date()} to "
            f"{r.market.index[-1].date()}, {r.config.path or ''}"
            + (
                f"; benchmark {', '.join(r.config.benchmark.symbols)}" if r.config.benchmark else ""
            ),
        )
        for r in results
    ]
    columns: dict[str, dict[str, float] | None] = {r.config.name: r.metrics for r in results}
    columns |= benchmark_metrics(results)
    panel_height = 120 + 170 * len(names)
    body = (
        f"<section><h2>Runs</h2>{meta_table(runs)}</section>"
        f'<section><h2>Metrics</h2><div class="wrap">{metrics_table(columns)}</div></section>'
        f'<section class="grid"><div>{chart(equity, "chart-equity", 460)}</div>'
        f"<div>{chart(heat, 'chart-correlation', 200 + 40 * len(names))}</div>"
        f"<div>{chart(drawdowns, 'chart-drawdown', panel_height)}</div>"
        f"<div>{chart(rolling, 'chart-rolling', panel_height)}</div></section>"
    )
    header = f"<h1>Scenario comparison</h1><p>{html.escape(', '.join(names))}</p>"
    synthetic = any(r.market.is_synthetic for r in results)
    alerts = [f"{r.config.name}: {line}" for r in results if (line := bankruptcy_banner(r))]
    return page("eastwind: comparison", header, synthetic, body, run_id, alerts)
