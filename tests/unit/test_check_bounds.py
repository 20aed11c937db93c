"""``check.bounds``: a metric held within limits on every run, whatever its baseline."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"


def _config(tmp_path: Path, bounds: str) -> Path:
    path = tmp_path / "bounded.yaml"
    path.write_text(f"extends: {DEMO}\nname: bounded\ncheck:\n  bounds: {bounds}\n")
    return path


def _check(config: Path, baselines: Path, *args: str) -> int:
    return main(["check", str(config), "--data", "synthetic", "--baselines", str(baselines), *args])


@pytest.fixture
def baselines(tmp_path: Path) -> Path:
    folder = tmp_path / "baselines"
    config = _config(tmp_path, "{sharpe_p05: {min: -100}}")
    assert _check(config, folder, "--update", "--quiet") == 0
    return folder


def test_check_with_bound_met_passes_and_junit_has_the_bound_case(baselines, tmp_path):
    junit = tmp_path / "check.xml"
    config = _config(tmp_path, "{sharpe_p05: {min: -100}, max_drawdown_p05: {min: -1, max: 0}}")
    assert _check(config, baselines, "--junit", str(junit)) == 0
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert cases["bound:sharpe_p05"].find("failure") is None
    assert cases["bound:max_drawdown_p05"].find("failure") is None


def test_check_with_bound_not_met_exits_1_and_says_which_bound(baselines, tmp_path, capsys):
    junit = tmp_path / "check.xml"
    stored = json.loads((baselines / "bounded.json").read_text())["metrics"]["sharpe_p05"]
    config = _config(tmp_path, "{sharpe_p05: {min: 100}}")
    assert _check(config, baselines, "--junit", str(junit)) == 1
    err = capsys.readouterr().err
    assert f"outside its bounds: sharpe_p05 = {stored}" in err and "(min 100)" in err
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    failure = cases["bound:sharpe_p05"].find("failure")
    assert failure is not None and failure.get("type") == "bound"
    assert cases["sharpe"].find("failure") is None  # the baseline itself still holds


def test_check_with_bound_on_unknown_metric_exits_2_with_a_suggestion(baselines, tmp_path, capsys):
    config = _config(tmp_path, "{sharpe_p5: {min: 0}}")
    assert _check(config, baselines) == 2
    err = capsys.readouterr().err
    assert re.search(
        r"check\.bounds: unknown metric 'sharpe_p5'; did you mean 'sharpe_p[09]5'", err
    )


def test_bound_without_limits_is_a_config_error(baselines, tmp_path, capsys):
    assert _check(_config(tmp_path, "{sharpe_p05: {}}"), baselines) == 2
    assert "check.bounds.sharpe_p05" in capsys.readouterr().err


def test_baseline_from_before_the_bootstrap_still_loads_and_holds_what_it_has(baselines, tmp_path):
    path = baselines / "bounded.json"
    document = json.loads(path.read_text())
    document["metrics"] = {
        k: v for k, v in document["metrics"].items() if "_p0" not in k and "_p9" not in k
    }
    path.write_text(json.dumps(document))
    held = tmp_path / "held.yaml"
    held.write_text(
        f"extends: {DEMO}\nname: bounded\ncheck:\n  metrics: [sharpe, total_return]\n"
        "  bounds: {sharpe_p05: {min: -100}}\n"
    )
    assert _check(held, baselines) == 0
