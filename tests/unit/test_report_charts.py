"""A chart's template is the one plotly writes when the template is set on the figure.

`engine.report.html.chart` puts the template into the figure's JSON instead of
``update_layout(template=...)`` (which deep-copies it several times), and writes long x
axes and the template once per page as shared blocks (``ewPlot`` resolves them): the
page must show the same figure, so the resolved layout and traces of both routes must
be equal (y values as the page stores them, float32).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from engine.report.html import _short_dates, _single, chart


def _call_json(fragment: str, call: str) -> list[object]:
    """The data, layout and config arguments of the fragment's `call`."""
    start = re.search(call + r'\(\s*"[^"]+",\s*', fragment)
    assert start is not None, f"no {call} call in the fragment"
    decoder, at, parts = json.JSONDecoder(), start.end(), []
    for _ in range(3):
        value, at = decoder.raw_decode(fragment, at)
        parts.append(value)
        at = re.compile(r"\s*,?\s*").match(fragment, at).end()
    return parts


def _figure_json(fragment: str) -> list[object]:
    """`chart`'s ``ewPlot`` arguments with its shared blocks resolved, as the page does."""
    blocks = dict(
        re.findall(r'<script type="application/json" id="ew-(\w+)">(.*?)</script>', fragment, re.S)
    )

    def resolve(value: object) -> object:
        if isinstance(value, dict) and isinstance(value.get("ew"), str):
            return json.loads(blocks[value["ew"]])
        return value

    data, layout, config = _call_json(fragment, "ewPlot")
    for trace in data:
        if "x" in trace:
            trace["x"] = resolve(trace["x"])
    layout["template"] = resolve(layout["template"])
    return [data, layout, config]


def _plotly_route(fragment: str) -> list[object]:
    """plotly's own ``Plotly.newPlot`` arguments, as the page would store them: dates
    at midnight as plain dates, y values as float32."""
    data, layout, config = _call_json(fragment, r"Plotly\.newPlot")
    for trace in data:
        trace["x"] = (
            _short_dates(trace["x"]) if isinstance(trace.get("x"), list) else trace.get("x")
        )
        if trace["x"] is None:
            trace.pop("x")
        if "y" in trace:
            trace["y"] = _single(trace["y"])
    return [data, layout, config]


def _through_update_layout(fig: go.Figure, div_id: str, height: int) -> str:
    """What `chart` wrote before: the template set through ``update_layout``."""
    fig = go.Figure(fig)
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.15},
    )
    return pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )


def _figures() -> dict[str, go.Figure]:
    dates = pd.bdate_range("2020-01-01", periods=40)
    values = np.linspace(1.0, 2.0, 40)
    line = go.Figure(go.Scatter(x=dates, y=values, name="Strategy", line_color="#1f77b4"))
    line.update_layout(title="Equity", yaxis_tickformat=".0%")
    panels = make_subplots(rows=2, cols=1, shared_xaxes=True, subplot_titles=("a", "b"))
    panels.add_scatter(x=dates, y=values, row=1, col=1)
    panels.add_scatter(x=dates, y=-values, row=2, col=1, stackgroup="short")
    heat = go.Figure(go.Heatmap(z=[[0.1, np.nan], [-0.2, 0.3]], x=["Jan", "Feb"], y=["1", "2"]))
    return {"line": line, "panels": panels, "heat": heat}


def test_chart_json_equals_plotlys_own_template_route_for_lines_panels_and_heatmaps():
    for name, fig in _figures().items():
        ours = _figure_json(chart(go.Figure(fig), f"chart-{name}", 420))
        theirs = _plotly_route(_through_update_layout(fig, f"chart-{name}", 420))
        assert ours == theirs, name


def test_chart_carries_the_report_template_not_plotlys_default():
    data, layout, _ = _figure_json(chart(_figures()["line"], "chart-line", 380))
    assert layout["template"]["layout"]["plot_bgcolor"] == "white"  # plotly_white's
    assert layout["height"] == 380 and data[0]["name"] == "Strategy"
