"""Reports: the output files agree with the simulation, and the HTML renders offline.

The browser tests open the pages in headless Chromium (Debian's ``chromium``; `.ci/run`
installs it) and skip without it, unless ``EASTWIND_REQUIRE_BROWSER=1`` (set by CI)
makes a missing browser a failure.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import engine
from engine import report
from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"
RUN_CHARTS = {
    "chart-equity",
    "chart-drawdown",
    "chart-rolling",
    "chart-exposure",
    "chart-weights",
    "chart-monthly",
    "chart-returns",
}
COMPARE_CHARTS = {"chart-equity", "chart-drawdown", "chart-correlation"}


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[engine.BacktestResult, Path]:
    out = tmp_path_factory.mktemp("demo")
    result = engine.run(engine.load_config(DEMO))
    report.write_run(result, out)
    return result, out


def test_equity_csv_with_demo_run_matches_value_drawdown_and_benchmark(demo_report):
    result, out = demo_report
    equity = pd.read_csv(out / "equity.csv", index_col="date", parse_dates=True)
    np.testing.assert_array_equal(equity["value"], result.value)
    init = result.config.portfolio.init_cash
    assert equity["value"].iloc[-1] / init - 1 == pytest.approx(result.metrics["total_return"])
    assert equity["drawdown"].min() == pytest.approx(result.metrics["max_drawdown"])
    assert (equity["drawdown"] <= 0).all()
    assert equity["benchmark"].iloc[0] == init  # the benchmark starts from the same cash
    growth = (1 + equity["benchmark_returns"]).prod() - 1
    assert growth == pytest.approx(result.benchmark_metrics["total_return"])


def test_trades_positions_weights_csv_with_demo_run_agree_with_each_other(demo_report):
    result, out = demo_report
    trades = pd.read_csv(out / "trades.csv", parse_dates=["date"])
    positions = pd.read_csv(out / "positions.csv", index_col="date", parse_dates=True)
    weights = pd.read_csv(out / "weights.csv", index_col="date", parse_dates=True)
    equity = pd.read_csv(out / "equity.csv", index_col="date", parse_dates=True)
    assert len(trades) == result.metrics["n_trades"]
    assert trades["fees"].sum() == pytest.approx(result.metrics["fees"])
    # the quantities traded add up to the positions held at the end
    held = trades.groupby("symbol")["qty"].sum().reindex(positions.columns, fill_value=0.0)
    np.testing.assert_allclose(held, positions.iloc[-1], atol=1e-9)
    np.testing.assert_allclose(weights.sum(axis=1), equity["net_exposure"], atol=1e-9)


def test_metrics_json_with_demo_run_names_run_source_and_benchmark(demo_report):
    result, out = demo_report
    document = json.loads((out / "metrics.json").read_text())
    assert document["name"] == "demo" and document["data_source"] == "synthetic"
    assert document["bars"] == len(result.value)
    assert document["benchmark"]["symbols"] == ["QQQ"]
    assert document["metrics"]["sharpe"] == result.metrics["sharpe"]


def test_report_html_with_synthetic_data_has_banner_header_and_no_external_urls(demo_report):
    _, out = demo_report
    page = (out / "report.html").read_text()
    assert "SYNTHETIC DATA" in page
    assert "2018-01-02 to 2024-12-31" in page and "configs/demo.yaml" in page
    assert "Costs per asset" in page and "0.100%" in page
    for chart in RUN_CHARTS:
        assert f'id="{chart}"' in page


def test_report_html_with_file_data_has_no_synthetic_banner(tmp_path):
    index = pd.bdate_range("2024-01-01", periods=60)
    for i, symbol in enumerate(("AAA", "BBB")):
        close = 100.0 * np.cumprod(1.0 + 0.01 * np.sin(np.arange(60) / (3.0 + i)))
        pd.DataFrame({"date": index, "close": close}).to_csv(
            tmp_path / f"{symbol}.csv", index=False
        )
    config = tmp_path / "files.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "files",
                "data": {
                    "source": "csv",
                    "path": ".",
                    "symbols": ["AAA", "BBB"],
                    "start": "2024-01-01",
                    "end": "2024-03-29",
                },
                "strategy": {"name": "equal_weight"},
            }
        )
    )
    result = engine.run(engine.load_config(config))
    page = report.html.run_page(result)
    assert "SYNTHETIC DATA" not in page and "data: csv" in page


def test_write_run_when_rendering_fails_leaves_no_file_behind(tmp_path, monkeypatch):
    result = engine.run(engine.load_config(DEMO))

    def broken(*_args: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(report, "run_page", broken)
    with pytest.raises(RuntimeError):
        report.write_run(result, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_compare_with_scenario_folder_writes_table_chart_and_correlations(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "250")  # a wide terminal, so rich prints names whole
    folder = ROOT / "configs" / "scenarios"
    names = sorted(yaml.safe_load(p.read_text()).get("name", p.stem) for p in folder.glob("*.yaml"))
    out = tmp_path / "cmp"
    code = main(["compare", str(folder), "--data", "synthetic", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in names) and "Sharpe" in printed
    table = pd.read_csv(out / "metrics.csv", index_col="metric")
    assert sorted(table.columns) == names
    assert set(table.index) == {spec.key for spec in report.METRICS}
    corr = pd.read_csv(out / "correlation.csv", index_col=0)
    np.testing.assert_allclose(np.diag(corr), 1.0)
    np.testing.assert_allclose(corr, corr.T)
    page = (out / "compare.html").read_text()
    assert all(name in page for name in names)
    for chart in COMPARE_CHARTS:
        assert f'id="{chart}"' in page
    # the side-by-side table is the runs' own metrics
    alone = engine.load_config(folder / "hk_ls_no_costs.yaml", ["data.source=synthetic"])
    sharpe = engine.run(alone).metrics["sharpe"]
    assert table.loc["sharpe", "hk_ls_no_costs"] == pytest.approx(sharpe, rel=1e-12)


def test_compare_with_different_periods_leaves_each_run_blank_where_it_did_not_run(demo_report):
    demo, _ = demo_report
    window = ["name=early", "data.start=2016-01-04", "data.end=2020-06-30"]
    early = engine.run(engine.load_config(DEMO, window))
    values = report.aligned_values([demo, early])
    first, last = demo.value.index[0], early.value.index[-1]
    assert values.loc[values.index < first, "demo"].isna().all()
    assert values.loc[values.index > last, "demo"].notna().all()
    assert values.loc[values.index > last, "early"].isna().all()
    np.testing.assert_array_equal(
        values["demo"].dropna(), demo.value.to_numpy() / demo.config.portfolio.init_cash
    )
    # correlated over the bars both ran, from each run's own returns
    overlap = demo.value.index[demo.value.index <= last]
    mine = demo.simulation.returns.loc[overlap].iloc[1:]
    theirs = early.simulation.returns.loc[overlap].iloc[1:]
    corr = report.return_correlation([demo, early])
    assert corr.iloc[0, 1] == pytest.approx(np.corrcoef(mine, theirs)[0, 1], rel=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["configs/demo.yaml"], "compare needs at least two configs"),
        (["configs/demo.yaml", "configs/demo.yaml"], "is also the name of"),
        (["tests"], "no *.yaml configs in this folder"),
    ],
)
def test_compare_with_bad_arguments_exits_2_with_one_line(args, message, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["compare", *args, "--data", "synthetic", "--out", "/nonexistent/x"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


# --- the pages in a real browser ------------------------------------------------------


def _chromium() -> str | None:
    found = os.environ.get("EASTWIND_CHROMIUM") or shutil.which("chromium")
    found = found or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None and os.environ.get("EASTWIND_REQUIRE_BROWSER") == "1":
        pytest.fail("EASTWIND_REQUIRE_BROWSER=1 but no chromium on PATH")
    return found


def _open_in_chromium(page_path: Path, charts: set[str]) -> dict[str, list[str]]:
    """Load `page_path` headless; return console errors, page errors and requests made."""
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    seen: dict[str, list[str]] = {"errors": [], "requests": [], "rendered": []}
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=browser_path,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.on(
                "console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None
            )
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.goto(page_path.as_uri())
            selector = ", ".join(f"#{c} .main-svg" for c in sorted(charts))
            page.wait_for_function(
                f"document.querySelectorAll('{selector}').length >= {len(charts)}",
                timeout=30_000,
            )
            seen["rendered"] = page.evaluate(
                "Array.from(document.querySelectorAll('.js-plotly-plot'))"
                ".filter(d => d.querySelector('svg.main-svg .plot, svg.main-svg .cartesianlayer'))"
                ".map(d => d.id)"
            )
        finally:
            browser.close()
    return seen


def test_report_html_in_headless_chromium_renders_every_chart_offline(demo_report):
    _, out = demo_report
    seen = _open_in_chromium(out / "report.html", RUN_CHARTS)
    assert set(seen["rendered"]) == RUN_CHARTS
    assert seen["errors"] == []
    assert seen["requests"] == [(out / "report.html").as_uri()]  # the page itself, nothing else


def test_compare_html_in_headless_chromium_renders_every_chart_offline(tmp_path):
    out = tmp_path / "cmp"
    assert (
        main(
            [
                "compare",
                str(DEMO),
                str(ROOT / "configs" / "trend_qqq.yaml"),
                "--data",
                "synthetic",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    seen = _open_in_chromium(out / "compare.html", COMPARE_CHARTS)
    assert set(seen["rendered"]) == COMPARE_CHARTS
    assert seen["errors"] == []
    assert seen["requests"] == [(out / "compare.html").as_uri()]
