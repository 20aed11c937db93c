"""`eastwind check`: baselines hold, drift fails with JUnit, --update, bad files, determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"
BASELINES = ROOT / "tests" / "baselines"
# the example configs that run offline (configs/real needs the shared data folder)
EXAMPLES = ["configs", "configs/scenarios", "configs/sweeps"]


def _check(*args: str) -> int:
    return main(["check", str(DEMO), "--data", "synthetic", *args])


@pytest.fixture
def baselines(tmp_path: Path) -> Path:
    folder = tmp_path / "baselines"
    assert _check("--baselines", str(folder), "--update", "--quiet") == 0
    return folder


def _junit_cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {case.get("name"): case for case in root.iter("testcase")}


def test_check_with_fresh_baseline_passes_and_junit_has_no_failures(baselines, tmp_path):
    junit = tmp_path / "check.xml"
    assert _check("--baselines", str(baselines), "--junit", str(junit)) == 0
    cases = _junit_cases(junit)
    document = json.loads((baselines / "demo.json").read_text())
    assert set(cases) == set(document["metrics"]) | {"equity_hash"}
    assert not any(case.find("failure") is not None for case in cases.values())
    assert document["data"]["source"] == "synthetic" and len(document["data"]["fingerprint"]) == 64


def test_check_with_changed_fee_exits_1_and_junit_names_the_metric(baselines, tmp_path, capsys):
    junit = tmp_path / "check.xml"
    code = _check(
        "--baselines", str(baselines), "--junit", str(junit), "--set", "portfolio.fees.rate=0.002"
    )
    assert code == 1
    failure = _junit_cases(junit)["fees"].find("failure")
    assert failure is not None and "fees drifted" in failure.get("message")
    assert "the config changed" in failure.get("message")
    assert "drift in 1 of 1 configs: demo" in capsys.readouterr().err
    # --update takes the new numbers deliberately, says what changed, and then it holds
    capsys.readouterr()
    stored_fees = json.loads((baselines / "demo.json").read_text())["metrics"]["fees"]
    changed = ["--baselines", str(baselines), "--set", "portfolio.fees.rate=0.002"]
    assert _check(*changed, "--update") == 0
    updated_fees = json.loads((baselines / "demo.json").read_text())["metrics"]["fees"]
    assert updated_fees > stored_fees  # double the fee rate, more fees
    assert f"fees: {stored_fees} -> {updated_fees}" in capsys.readouterr().out.replace("\n", "")
    assert _check(*changed, "--quiet") == 0


def test_check_with_changed_data_says_the_data_changed(baselines, tmp_path):
    junit = tmp_path / "check.xml"
    assert _check("--baselines", str(baselines), "--junit", str(junit), "--set", "data.seed=8") == 1
    message = _junit_cases(junit)["sharpe"].find("failure").get("message")
    assert "data changed (fingerprint differs" in message


def test_check_tolerances_from_cli_and_config_let_a_metric_move(baselines, tmp_path):
    moved = ["--baselines", str(baselines), "--set", "portfolio.slippage=0.00050001"]
    assert _check(*moved, "--quiet") == 1
    assert _check(*moved, "--quiet", "--no-hash", "--tolerance", "total_return=abs:1") == 1
    loose = [f"{m}=rel:0.01" for m in ("slippage", "fees", "total_return", "cagr")]
    # a tiny slippage change moves many metrics a little: a wide default holds them all
    config = yaml.safe_load(DEMO.read_text())
    config["check"] = {"tolerances": {"sharpe": {"rel": 0.5}}, "hash": False}
    config["portfolio"]["slippage"] = 0.00050001
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(config))
    args = ["check", str(path), "--data", "synthetic", "--baselines", str(baselines), "--quiet"]
    all_loose = [arg for m in loose for arg in ("--tolerance", m)]
    assert main(args + all_loose) == 1  # still drifts on metrics without a loose tolerance
    every = [
        arg
        for m in json.loads((baselines / "demo.json").read_text())["metrics"]
        for arg in ("--tolerance", f"{m}=rel:0.01")
    ]
    assert main(args + every + ["--tolerance", "n_trades=abs:5"]) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON (line 1"),
        ('{"name": "demo"}', "not an eastwind baseline (missing data, engine_version"),
        ("[1, 2]", "not an eastwind baseline"),
    ],
)
def test_check_with_missing_or_corrupt_baseline_is_a_one_line_error(
    tmp_path, capsys, content, message
):
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "demo.json").write_text(content)
    assert _check("--baselines", str(folder)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tolerance", "sharpe=0.1"], "expected METRIC=abs:X or METRIC=rel:X"),
        (["--tolerance", "sharpe=abs:-1"], "expected METRIC=abs:X"),
        (["--tolerance", "sharp=abs:0.1"], "--tolerance: unknown metric 'sharp'"),
    ],
)
def test_check_with_bad_tolerance_exits_2(baselines, capsys, args, message):
    assert _check("--baselines", str(baselines), *args) == 2
    assert message in capsys.readouterr().err


_HASHES = """
import hashlib, numpy as np, pandas as pd, engine
from engine.simulation import prepare_market, sweep_metrics
from engine.check import equity_hash
result = engine.run(engine.load_config({demo!r}, ["data.source=synthetic"]))
rng = np.random.default_rng(3)
index = pd.bdate_range("2020-01-01", periods=500)
close = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.02, (500, 6)), axis=0)), index=index)
targets = np.where(rng.uniform(size=(16, 500, 6)) < 0.05, rng.normal(0, 0.4, (16, 500, 6)), np.nan)
batch = engine.simulate(close, targets, fees=0.001, borrow_rate=0.02)
chunk = sweep_metrics(prepare_market(close, fees=0.001), targets, keep_values=True)
parts = [equity_hash(result), np.stack([r.value.to_numpy() for r in batch]).tobytes(),
         chunk.metrics.tobytes(), chunk.values.tobytes()]
print(hashlib.sha256(repr(parts).encode()).hexdigest())
"""


def test_results_are_bit_identical_across_processes_and_thread_counts():
    script = _HASHES.format(demo=str(DEMO))
    digests = set()
    for threads in ("1", "2", "2"):
        env = {**os.environ, "NUMBA_NUM_THREADS": threads}
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
        )
        digests.add(done.stdout.strip())
    assert len(digests) == 1


def test_example_configs_hold_their_stored_baselines(tmp_path):
    # metrics only: the hash would also catch a last-bit change from a new numpy or a
    # different CPU, which is not a change in any strategy's numbers
    junit = tmp_path / "examples.xml"
    args = ["check", *(str(ROOT / e) for e in EXAMPLES), "--data", "synthetic", "--no-hash"]
    code = main([*args, "--baselines", str(BASELINES), "--junit", str(junit), "--quiet"])
    assert code == 0, "an example's numbers moved: see the JUnit file or run eastwind check"
    names = {suite.get("name") for suite in ET.parse(junit).getroot().iter("testsuite")}
    assert names == {p.stem for p in BASELINES.glob("*.json")}


def test_check_configs_from_python_returns_one_report_per_config(baselines):
    from engine.check import check_configs
    from engine.config import load_config

    config = load_config(DEMO, ["data.source=synthetic", "portfolio.fees.rate=0.002"])
    [report] = check_configs([config], baselines)
    assert not report.ok and "fees" in {c.metric for c in report.failures}
    assert report.cause.startswith("same data; the config changed")


def test_update_with_corrupt_baseline_replaces_it_and_says_so(baselines, capsys):
    (baselines / "demo.json").write_text("{not json")
    assert _check("--baselines", str(baselines), "--update") == 0
    assert "replaced a baseline that could not be read" in capsys.readouterr().out
    assert _check("--baselines", str(baselines), "--quiet") == 0
