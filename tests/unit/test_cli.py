"""The `eastwind` command end to end: the demo runs, bad input exits 2 on one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.report import METRICS

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"
OUTPUTS = ("metrics.json", "equity.csv", "positions.csv", "weights.csv", "trades.csv")
OUTPUTS += ("round_trips.csv", "attribution.csv", "attribution_daily.csv")  # demo: no groups
OUTPUTS += ("report.html", "run.json")


def test_run_with_demo_config_writes_metrics_json_and_prints_synthetic_table(tmp_path, capsys):
    code = main(["run", str(DEMO), "--out", str(tmp_path)])
    assert code == 0
    document = json.loads((tmp_path / "metrics.json").read_text())
    assert set(document["metrics"]) == {spec.key for spec in METRICS} | {"periods_per_year"}
    assert set(document["benchmark"]["metrics"]) >= {"sharpe", "max_drawdown", "cagr"}
    assert document["data_source"] == "synthetic"
    assert document["bankrupt"] is None
    assert document["metrics"]["shortfall"] > 0.0 and document["metrics"]["shortfall_bars"] >= 1
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out and "BANKRUPT" not in out
    assert "Buys not funded" in out and "Bars with buys not funded" in out
    # every output, and no temporary file left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(OUTPUTS)


def test_run_twice_with_same_config_gives_bit_identical_outputs(tmp_path):
    main(["run", str(DEMO), "--out", str(tmp_path / "a"), "--quiet"])
    main(["run", str(DEMO), "--out", str(tmp_path / "b"), "--quiet"])
    for name in OUTPUTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "name: x\ndata: {symbols: [A], start: 2020-01-01, end: 2020-06-30}\n"
            "strategy: {name: nope}\n",
            "strategy.name: unknown strategy 'nope'",
        ),
        (
            "name: x\ndata: {symbols: [A], start: 2020-01-01, end: 2020-06-30}\n"
            "strategy: {name: equal_weight}\nportfolio: {fees: -1}\n",
            "portfolio.fees",
        ),
        (
            "name: x\ndata: {symbols: [A], start: 2020-01-01, end: 2020-06-30}\n"
            "strategy: {name: equal_weight}\nportfolio: {init_cash: 1e308}\n",
            "portfolio.init_cash: must be at most 1e+15 (a quadrillion)",
        ),
    ],
)
def test_run_with_bad_config_exits_2_with_one_line_and_no_output(tmp_path, text, match):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", str(config), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and match in run.stderr
    assert run.stderr.startswith("ConfigError: ")
    assert "Traceback" not in run.stderr
    assert not out.exists()


LEVERED = """\
name: levered
data: {source: synthetic, symbols: [AAPL, QQQ], start: 2020-01-01, end: 2021-12-31}
strategy: {name: fixed_weights, params: {weights: {AAPL: 10, QQQ: -10}}}
portfolio: {fees: {rate: 0.001}, borrow_rate: 0.01, max_gross: 20}
benchmark: QQQ
"""


def test_run_of_bankrupt_portfolio_says_so_first_and_leaves_ratios_undefined(tmp_path, capsys):
    config = tmp_path / "levered.yaml"
    config.write_text(LEVERED)
    code = main(["run", str(config), "--out", str(tmp_path / "out")])
    assert code == 0  # a bankrupt backtest is a result, not a user error
    out, err = capsys.readouterr()
    first = out.splitlines()[0]
    assert first.startswith("BANKRUPT on 2021-03-02: long AAPL lost ")
    assert err.count("\n") == 1 and err.startswith("BankruptcyWarning: ")
    document = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert document["bankrupt"]["date"] == "2021-03-02"
    assert document["bankrupt"]["cause"].startswith("long AAPL lost ")
    for ratio in ("sharpe", "sortino", "calmar", "information_ratio"):
        assert document["metrics"][ratio] is None, ratio
    assert document["metrics"]["total_return"] < -1.0
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.index("BANKRUPT on 2021-03-02") < page.index("<h2>Metrics</h2>")


def test_run_with_weights_beyond_max_gross_exits_2_naming_date_and_setting(tmp_path, capsys):
    config = tmp_path / "big.yaml"
    config.write_text(LEVERED.replace("10, QQQ: -10", "30, QQQ: -20"))
    assert main(["run", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("StrategyError: ")
    assert "portfolio.max_gross: strategy 'fixed_weights' asks for gross exposure 50 on " in err
    assert "set portfolio.max_gross to 50 or more" in err
    assert not (tmp_path / "out").exists()


def test_run_with_a_price_that_would_overflow_exits_2_naming_the_row_and_writes_nothing(
    tmp_path, capsys
):
    # a csv price of 1e307 stops at the data layer; the kernel's own overflow check is
    # held by test_sweep's test that passes such a market in directly
    from tests.unit.test_sweep import write_spiky_prices

    write_spiky_prices(tmp_path / "prices")
    config = tmp_path / "spiky.yaml"
    config.write_text(
        "name: spiky\n"
        "data: {source: csv, path: prices, symbols: [AAA, BBB], start: 2024-01-02,\n"
        "       end: 2024-01-31, columns: {open: null, high: null, low: null, volume: null}}\n"
        "strategy: {name: fixed_weights, params: {weights: {AAA: 1, BBB: -1}}}\n"
        "portfolio: {lots: false}\n"
    )
    assert main(["run", str(config), "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("DataError: ")
    assert "2024-01-10 is 1e+307" in lines[0] and "BBB" in lines[0]
    assert not (tmp_path / "out").exists()
