"""Terminal output in logs: piped (not a terminal), no table cuts identifying text.

Each command runs in a fresh process with stdout captured, as in a CI log, and without
``COLUMNS``, so rich would fall back to 80 columns.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine.cli import main
from tests.unit.test_sweep import SMALL

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"
SCENARIOS = ROOT / "configs" / "scenarios"
SHORT = ["--data", "synthetic", "--set", "data.start=2023-01-01", "--set", "data.end=2023-12-31"]
ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"


def _piped(*args: str, cwd: Path = ROOT) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode in (0, 1), done.stderr
    assert ELLIPSIS not in done.stdout, done.stdout
    return done.stdout


def test_compare_piped_prints_every_config_name_whole(tmp_path):
    names = ["hk_ls_no_borrow", "hk_ls_no_costs", "hk_ls_vol_target"]  # one long prefix
    configs = [str(SCENARIOS / f"{name}.yaml") for name in names]
    out = _piped("compare", *configs, *SHORT, "--out", str(tmp_path / "cmp"))
    for name in names:
        assert name in out, name


def test_data_show_piped_prints_dates_whole():
    out = _piped("data", "show", str(DEMO))
    for symbol in ("AAPL", "0700.HK", "9988.HK"):
        line = next(x for x in out.splitlines() if f" {symbol} " in x)
        first, last = re.findall(r"\d{4}-\d{2}-\d{2}", line)  # warm-up first, then the end
        assert first <= "2019-11-26" and last == "2024-12-31", line


def test_check_piped_prints_metric_names_and_causes_whole(tmp_path):
    baselines = tmp_path / "b"
    assert main(["check", str(DEMO), *SHORT, "--baselines", str(baselines), "--update"]) == 0
    out = _piped(
        "check", str(DEMO), *SHORT, "--baselines", str(baselines), "--all",
        "--set", "portfolio.fees.rate=0.002",
    )  # fmt: skip
    for metric in ("max_drawdown_recovery_days", "longest_drawdown_days", "avg_gross_exposure"):
        assert metric in out, metric
    assert "same data; the config changed (resolved settings differ from the baseline's)" in out


@pytest.mark.parametrize("command", ["run", "sweep", "strategies"])
def test_other_tables_piped_keep_their_text_whole(tmp_path, command):
    if command == "run":
        out = _piped("run", str(DEMO), *SHORT, "--out", str(tmp_path / "run"))
        assert "Benchmark (QQQ)" in out and "Max drawdown length" in out
        assert re.search(rf"wrote \d+ files to {re.escape(str(tmp_path / 'run'))}/: metrics", out)
    elif command == "sweep":
        config = tmp_path / "sweep.yaml"
        config.write_text(yaml.safe_dump(SMALL, sort_keys=False))
        out = _piped("sweep", str(config), "--out", str(tmp_path / "sweep"))
        assert "max_drawdown" in out and "turnover" in out
    else:
        out = _piped("strategies")
        assert "flow_following" in out and "inverse_volatility" in out
