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
OUTPUTS += ("report.html", "run.json")


def test_run_with_demo_config_writes_metrics_json_and_prints_synthetic_table(tmp_path, capsys):
    code = main(["run", str(DEMO), "--out", str(tmp_path)])
    assert code == 0
    document = json.loads((tmp_path / "metrics.json").read_text())
    assert set(document["metrics"]) == {spec.key for spec in METRICS} | {"periods_per_year"}
    assert set(document["benchmark"]["metrics"]) >= {"sharpe", "max_drawdown", "cagr"}
    assert document["data_source"] == "synthetic"
    assert "SYNTHETIC" in capsys.readouterr().out
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
