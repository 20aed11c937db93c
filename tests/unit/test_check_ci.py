"""`eastwind check` in CI: missing and invalid baselines, stable data fingerprints,
chosen metrics and tolerances, sweeps held to their top rows, and the exit codes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pytest
import yaml

import engine.pipeline
from engine.cli import main
from tests.unit.test_sweep import SMALL

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"
TREND = ROOT / "configs" / "trend_qqq.yaml"
SHORT = ["--set", "data.start=2022-01-01", "--set", "data.end=2023-12-31"]


def _check(*args: str) -> int:
    return main(["check", str(DEMO), "--data", "synthetic", *SHORT, *args])


@pytest.fixture
def baselines(tmp_path: Path) -> Path:
    folder = tmp_path / "baselines"
    assert _check("--baselines", str(folder), "--update", "--quiet") == 0
    return folder


def _cases(path: Path) -> dict[tuple[str, str], ET.Element]:
    root = ET.parse(path).getroot()
    return {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}


def _eastwind(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, cwd=ROOT
    )


# --- a missing baseline is one failing case; the others still run -------------------


def test_check_with_one_missing_baseline_runs_the_rest_and_fails_that_case(
    baselines, tmp_path, capsys
):
    junit = tmp_path / "check.xml"
    args = ["check", str(DEMO), str(TREND), "--data", "synthetic", *SHORT]
    assert main([*args, "--baselines", str(baselines), "--junit", str(junit), "--quiet"]) == 1
    cases = _cases(junit)
    assert not any(c.find("failure") is not None for (n, _), c in cases.items() if n == "demo")
    assert ("demo", "sharpe") in cases  # demo ran and was compared
    failure = cases[("trend_qqq", "baseline")].find("failure")
    assert failure is not None
    message = failure.get("message")
    assert f"no baseline {baselines / 'trend_qqq.json'}" in message
    assert f"eastwind check {TREND} --baselines {baselines} --update" in message
    assert "trend_qqq: no baseline" in capsys.readouterr().err


def test_check_with_a_baselines_folder_that_does_not_exist_exits_2_with_one_line(tmp_path):
    done = _eastwind("check", str(DEMO), "--baselines", str(tmp_path / "nope"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and f"{tmp_path / 'nope'}: no such folder" in done.stderr


# --- baselines are validated when read ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"1.2"', 'metrics.sharpe: "1.2" is not a number'),
        ("true", "metrics.sharpe: true is not a number"),
        ("[1.0]", "metrics.sharpe: [1.0] is not a number"),
        ("Infinity", "metrics.sharpe: Infinity is not a finite number"),
        ("-Infinity", "metrics.sharpe: -Infinity is not a finite number"),
        ("NaN", "metrics.sharpe: NaN is not a finite number"),
    ],
)
def test_baseline_with_a_bad_metric_value_exits_2_naming_the_file_and_key(
    baselines, capsys, value, message
):
    path = baselines / "demo.json"
    text = path.read_text()
    before = json.loads(text)["metrics"]["sharpe"]
    path.write_text(text.replace(f'"sharpe": {json.dumps(before)}', f'"sharpe": {value}'))
    assert _check("--baselines", str(baselines)) == 2
    err = capsys.readouterr().err
    assert f"{path}: {message}" in err and err.count("\n") == 1


def test_baseline_with_every_metric_infinite_does_not_pass(baselines, capsys):
    path = baselines / "demo.json"
    document = json.loads(path.read_text())
    document["metrics"] = {k: float("inf") for k in document["metrics"]}
    path.write_text(json.dumps(document))
    assert _check("--baselines", str(baselines), "--no-hash") == 2
    assert "is not a finite number" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("equity_hash", "abc", "equity_hash: 'abc' is not a SHA-256"),
        ("data", [], "data: [] is not a mapping"),
        ("engine_version", 3, "engine_version: 3 is not a string"),
    ],
)
def test_baseline_with_a_bad_field_exits_2_naming_it(baselines, capsys, key, value, message):
    path = baselines / "demo.json"
    document = json.loads(path.read_text())
    document[key] = value
    path.write_text(json.dumps(document))
    assert _check("--baselines", str(baselines)) == 2
    err = capsys.readouterr().err
    assert f"{path}: {message}" in err and err.count("\n") == 1


# --- the data fingerprint does not depend on the machine ---------------------------


def _nudged(market, ulps: int, seed: int):
    """The market as another machine's libm might compute it: each value a few ulps off."""
    rng = np.random.default_rng(seed)

    def nudge(values: np.ndarray) -> np.ndarray:
        steps = rng.integers(-ulps, ulps + 1, values.shape)
        spacing = np.spacing(np.abs(values))
        return values + steps * spacing

    def frame(f: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
        values = nudge(f.to_numpy(dtype=float))
        if isinstance(f, pd.Series):
            return pd.Series(values, index=f.index, name=f.name)
        return pd.DataFrame(values, index=f.index, columns=f.columns)

    return dataclasses.replace(
        market,
        close=frame(market.close),
        open=frame(market.open),
        fx=frame(market.fx),
        extras={k: frame(v) for k, v in market.extras.items()},
    )


def test_data_fingerprint_with_last_bit_noise_is_the_same_data_and_a_real_change_is_not():
    from engine.check import data_fingerprint, same_data
    from engine.config import load_config

    market = engine.pipeline.load_market(load_config(DEMO))
    stored = data_fingerprint(market)
    for seed in range(20):  # a hash of values rounded to 12 digits changes in ~49 of 50
        assert same_data(stored, _nudged(market, 4, seed)), seed
    changed = market.close.copy()
    changed.iloc[100, 2] *= 1.0 + 1e-6  # one price, in its 7th digit
    assert not same_data(stored, dataclasses.replace(market, close=changed))
    gap = market.close.copy()
    gap.iloc[100, 2] = np.nan
    assert not same_data(stored, dataclasses.replace(market, close=gap))


def test_check_on_another_machine_blames_a_config_change_on_the_config(
    baselines, monkeypatch, tmp_path
):
    real = engine.pipeline.synthetic_market
    monkeypatch.setattr(
        engine.pipeline, "synthetic_market", lambda *a, **k: _nudged(real(*a, **k), 4, 0)
    )
    junit = tmp_path / "check.xml"
    fee = ["--set", "portfolio.fees.rate=0.002"]
    assert _check("--baselines", str(baselines), "--junit", str(junit), *fee) == 1
    message = _cases(junit)[("demo", "fees")].find("failure").get("message")
    assert "same data; the config changed" in message


# --- a config chooses its metrics and a default tolerance ---------------------------


def _demo_with_check(tmp_path: Path, check: dict, **portfolio: float) -> Path:
    document = yaml.safe_load(DEMO.read_text())
    document["data"].update({"start": "2022-01-01", "end": "2023-12-31"})
    document["check"] = check
    document["portfolio"].update(portfolio)
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_check_config_holds_only_its_metrics_under_its_default_tolerance(baselines, tmp_path):
    check = {"metrics": ["total_return", "sharpe", "fees"], "tolerance": {"rel": 0.2}}
    config = _demo_with_check(tmp_path, {**check, "hash": False}, fees={"rate": 0.0011})
    junit = tmp_path / "check.xml"
    args = ["check", str(config), "--data", "synthetic", "--baselines", str(baselines)]
    assert main([*args, "--junit", str(junit), "--quiet"]) == 0
    assert set(_cases(junit)) == {("demo", m) for m in check["metrics"]}
    # the same fee change without a check section: every cost and return metric drifts
    assert _check("--baselines", str(baselines), "--set", "portfolio.fees.rate=0.0011") == 1
    # a metric's own tolerance still wins over the default
    tight = {**check, "tolerances": {"fees": {"rel": 0.01}}, "hash": False}
    config = _demo_with_check(tmp_path, tight, fees={"rate": 0.0011})
    assert main([*args, "--junit", str(junit), "--quiet"]) == 1
    failing = {n for n, c in _cases(junit).items() if c.find("failure") is not None}
    assert failing == {("demo", "fees")}


def test_check_config_with_an_unknown_metric_exits_2_naming_the_setting(
    baselines, tmp_path, capsys
):
    config = _demo_with_check(tmp_path, {"metrics": ["sharpe", "sharp"]})
    args = ["check", str(config), "--data", "synthetic", "--baselines", str(baselines)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "check.metrics: unknown metric 'sharp'; did you mean 'sharpe'?" in err


def test_check_quiet_still_names_the_drifting_metrics(baselines, capsys):
    args = ["--baselines", str(baselines), "--quiet", "--set", "portfolio.fees.rate=0.002"]
    assert _check(*args) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    line = next(x for x in captured.err.splitlines() if x.startswith("demo: "))
    assert "fees" in line and "total_return" in line and "same data; the config changed" in line


# --- a sweep config holds its top rows and walk-forward ------------------------------


def _sweep_config(tmp_path: Path, fast: list[int]) -> Path:
    document = json.loads(json.dumps(SMALL))
    document["sweep"]["params"]["strategy.params.fast"] = fast
    document["sweep"]["walk_forward"] = {"train": 252, "test": 126}
    document["check"] = {"metrics": ["sharpe", "total_return"], "sweep": {"top": 3}}
    document["check"]["sweep"]["walk_forward"] = True
    path = tmp_path / "small_sweep.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_sweep_config_holds_its_top_rows_and_walk_forward(tmp_path):
    folder, junit = tmp_path / "baselines", tmp_path / "check.xml"
    config = _sweep_config(tmp_path, [5, 20, 60])
    assert main(["check", str(config), "--baselines", str(folder), "--update", "--quiet"]) == 0
    stored = json.loads((folder / "small_sweep.json").read_text())
    assert len(stored["sweep"]["top"]) == 3 and len(stored["sweep"]["walk_forward"]) >= 3
    args = ["check", str(config), "--baselines", str(folder), "--junit", str(junit), "--quiet"]
    assert main(args) == 0
    cases = _cases(junit)
    for name in ("sweep.top[1].params", "sweep.top[3].sharpe", "walk_forward.fold[1].params"):
        assert ("small_sweep", name) in cases
    assert ("small_sweep", "walk_forward.fold[1].test_sharpe") in cases
    # drop the best fast value: the base run holds, the sweep's ranking does not
    best = stored["sweep"]["top"][0]["params"]["fast"]
    _sweep_config(tmp_path, [v for v in (5, 20, 60) if v != best])
    assert main(args) == 1
    failing = {n for (_, n), c in _cases(junit).items() if c.find("failure") is not None}
    assert "sweep.top[1].params" in failing
    assert not failing & {"sharpe", "total_return", "equity_hash"}


def test_check_sweep_section_without_a_sweep_is_a_config_error(tmp_path, capsys):
    config = _demo_with_check(tmp_path, {"sweep": {"top": 3}})
    assert main(["check", str(config), "--baselines", str(tmp_path)]) == 2
    assert "holding a sweep (check.sweep) needs a 'sweep:' section" in capsys.readouterr().err


# --- exit codes --------------------------------------------------------------------


def test_check_exit_codes_tell_drift_from_user_error_from_crash(baselines):
    base = ["check", str(DEMO), "--data", "synthetic", *SHORT, "--baselines", str(baselines)]
    assert _eastwind(*base, "--quiet", "--set", "portfolio.lag=2").returncode == 1
    assert _eastwind(*base, "--tolerance", "sharpe=x").returncode == 2
    crash = (
        "import sys\nimport engine.backtest as b\n"
        "def broken(*a, **k):\n    raise RuntimeError('boom')\n"
        f"b.run_portfolios = broken\nfrom engine.cli import main\nsys.exit(main({base!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", crash], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 3 and "RuntimeError: boom" in done.stderr


def test_ci_doc_gives_every_exit_code_and_the_readme_links_it():
    doc = (ROOT / "docs" / "ci.md").read_text()
    for code in ("0", "1", "2", "3", "130"):
        assert f"| {code} |" in doc, code
    for topic in ("check.metrics", "tolerance:", "--junit", "--update", "sweep:"):
        assert topic in doc, topic
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Regression checks") :].split("\n## ")[0]
    assert "[docs/ci.md](docs/ci.md)" in section
