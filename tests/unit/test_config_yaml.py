"""The YAML of config files: bounded work, nothing dropped, numbers read as numbers.

Each bad file exits 2 with one line naming the file and the line, never a traceback,
a hang or an output folder.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from engine.cli import main
from engine.config import load_config
from engine.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
HEAD = (
    "name: x\n"
    "data: {symbols: [AAPL], start: 2020-01-01, end: 2020-03-31}\n"
    "strategy: {name: equal_weight}\n"
)


def _alias_bomb() -> str:
    """The billion-laughs pattern: nine levels of nine aliases each, about 600 bytes."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return HEAD + "description: x\nbomb:\n" + "".join(f"  {line}\n" for line in lines)


def _run(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run `text` as a config in-process; assert exit 2, one line, no output; return it."""
    path = tmp_path / "case.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    code = main(["run", str(path), "--out", str(out), "--quiet", "--no-html"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("ConfigError: ") and str(path) in err, err
    assert not out.exists()
    return err


def test_alias_bomb_exits_2_at_once_naming_the_first_anchor(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb())
    assert len(path.read_bytes()) < 700
    run = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,  # a ceiling against the old behaviour (minutes and gigabytes), not a speed test
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert f"{path}:6: anchors and aliases" in run.stderr  # the line of `a: &a`


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("portfolio: &p {lag: 2}\nbenchmark: QQQ\n", 4),
        ("portfolio: {lag: 2}\ndescription: &d text\nreport: {out: *d}\n", 5),
        ("portfolio:\n  <<: {lag: 2}\n", 5),
    ],
    ids=["anchor", "alias", "merge key"],
)
def test_anchor_alias_or_merge_key_exits_2_naming_its_line(tmp_path, capsys, text, line):
    err = _run(tmp_path, HEAD + text, capsys)
    assert f"case.yaml:{line}: " in err
    assert "not supported in config files" in err and "extends" in err


@pytest.mark.parametrize("opening", ["[", "{a: "], ids=["lists", "mappings"])
def test_nesting_1000_levels_deep_exits_2_naming_the_line(tmp_path, capsys, opening):
    closing = "]" if opening == "[" else "}"
    text = HEAD + "description: " + opening * 1000 + "1" + closing * 1000 + "\n"
    err = _run(tmp_path, text, capsys)
    assert "case.yaml:4: nested more than 50 levels deep" in err


def test_nesting_within_the_limit_still_reads(tmp_path):
    deep = "{a: " * 45 + "1" + "}" * 45
    head = HEAD.replace("strategy: {name: equal_weight}\n", "")
    path = tmp_path / "ok.yaml"
    path.write_text(head + f"strategy: {{name: signals:weights, params: {{a: {deep}}}}}\n")
    params = load_config(path).strategy.params
    for _ in range(46):
        params = params["a"]
    assert params == 1


def test_duplicate_top_level_key_exits_2_naming_both_lines(tmp_path, capsys):
    text = HEAD + "portfolio:\n  fees: 0.01\n  init_cash: 5000\nportfolio:\n  lag: 2\n"
    err = _run(tmp_path, text, capsys)
    assert "case.yaml:7: key 'portfolio' is written twice, on lines 4 and 7" in err


def test_duplicate_nested_key_exits_2_naming_both_lines(tmp_path, capsys):
    text = HEAD + "portfolio:\n  fees: 0.01\n  lag: 1\n  fees: 0.02\n"
    err = _run(tmp_path, text, capsys)
    assert "case.yaml:7: key 'fees' is written twice, on lines 5 and 7" in err


def test_same_key_in_different_mappings_is_not_a_duplicate(tmp_path):
    text = HEAD + "portfolio:\n  fees: {rate: 0.001}\n  costs: {HKD: {fees: {rate: 0.002}}}\n"
    path = tmp_path / "ok.yaml"
    path.write_text(text)
    config = load_config(path)
    assert config.portfolio.fees.rate == 0.001
    assert config.portfolio.costs["HKD"].fees.rate == 0.002


def test_config_path_in_a_symlink_loop_exits_2_on_one_line(tmp_path, capsys):
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    code = main(["run", str(tmp_path / "a.yaml"), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"{tmp_path / 'a.yaml'}: symbolic link loop" in err


def test_extends_into_a_symlink_loop_exits_2_naming_the_extends_line(tmp_path, capsys):
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    err = _run(tmp_path, HEAD + "extends: a.yaml\n", capsys)
    assert "case.yaml:4: extends: " in err and "symbolic link loop" in err


def test_extends_cycle_through_three_files_exits_2_naming_the_chain(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: case.yaml\n")
    (tmp_path / "case.yaml").write_text(HEAD + "extends: a.yaml\n")
    with pytest.raises(ConfigError, match=r"b\.yaml:1: extends: cycle case\.yaml -> a\.yaml"):
        load_config(tmp_path / "case.yaml")


def test_extends_of_one_base_many_times_reads_in_bounded_time(tmp_path):
    # each file extends the next one twice: 2**30 reads without a bound
    for i in range(30):
        (tmp_path / f"f{i}.yaml").write_text(f"extends: [f{i + 1}.yaml, f{i + 1}.yaml]\n")
    (tmp_path / "f30.yaml").write_text(HEAD)
    path = tmp_path / "top.yaml"
    path.write_text("extends: f0.yaml\n")
    run = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr


def test_extends_chain_deeper_than_the_limit_is_an_error_naming_the_deepest_file(tmp_path):
    for i in range(60):
        (tmp_path / f"f{i}.yaml").write_text(f"extends: f{i + 1}.yaml\n")
    (tmp_path / "f60.yaml").write_text(HEAD)
    with pytest.raises(ConfigError, match=r"f32\.yaml:1: extends: more than 32 files deep"):
        load_config(tmp_path / "f0.yaml")


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("1e-4", 0.0001),
        ("1E-4", 0.0001),
        ("2.5e-3", 0.0025),
        ("1.0e5", 100_000.0),
        (".5e3", 500.0),
        ("1.e-3", 0.001),
        ("+1e-3", 0.001),
        ("-2E+2", -200.0),
    ],
)
def test_exponent_notation_reads_as_a_number_in_files_and_set(tmp_path, written, value):
    # a user function's params are passed as written: no schema turns a string into a float
    head = HEAD.replace(
        "{name: equal_weight}", f"{{name: signals:weights, params: {{x: {written}}}}}"
    )
    path = tmp_path / "case.yaml"
    path.write_text(head)
    assert load_config(path).strategy.params == {"x": value}
    assert load_config(path, [f"strategy.params.y={written}"]).strategy.params["y"] == value


def test_exponent_notation_in_quotes_stays_a_string_and_ints_stay_ints(tmp_path):
    head = HEAD.replace("{name: equal_weight}", "{name: signals:weights, params: {x: '1e-4'}}")
    path = tmp_path / "case.yaml"
    path.write_text(head + "portfolio: {lag: 2, init_cash: 1_000}\n")
    config = load_config(path, ["strategy.params.n=10", "strategy.params.version=1.2.3"])
    assert config.strategy.params == {"x": "1e-4", "n": 10, "version": "1.2.3"}
    assert type(config.strategy.params["n"]) is int
    assert config.portfolio.lag == 2 and config.portfolio.init_cash == 1000.0


@pytest.mark.parametrize("date", ["2021-02-30", "2021-13-01", "2021-01-01 25:00:00"])
def test_date_that_does_not_exist_exits_2_naming_the_yaml_path(tmp_path, capsys, date):
    err = _run(tmp_path, HEAD.replace("2020-01-01", date), capsys)
    assert "case.yaml:2: data.start: " in err and date in err


DATA = "data: {symbols: [AAPL], start: 2020-01-01, end: 2020-03-31}"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("portfolio: {init_cash: .inf}", r"case\.yaml:4: portfolio\.init_cash: "),
        ("portfolio: {fees: {minimum: .inf}}", r"case\.yaml:4: portfolio\.fees\.minimum: "),
        ("benchmark: {symbols: [QQQ], weights: {QQQ: .nan}}", r"benchmark\.weights\.QQQ: "),
        (
            DATA.replace("}", ", metadata: {AAPL: {lot_size: .inf}}}"),
            r"case\.yaml:2: data\.metadata\.AAPL\.lot_size: ",
        ),
    ],
    ids=["init_cash", "fee minimum", "benchmark weight", "lot size"],
)
def test_infinite_or_nan_setting_exits_2_naming_it(tmp_path, capsys, text, match):
    head = HEAD.replace(DATA, text) if text.startswith("data:") else HEAD + text
    err = _run(tmp_path, head + "\n", capsys)
    assert re.search(match + r"Input should be a finite number", err), err


def test_range_whose_span_overflows_is_refused_without_numpy_warnings(tmp_path):
    grid = "{start: -1.0e+308, stop: 1.0e+308, num: 3}"
    path = tmp_path / "case.yaml"
    path.write_text(HEAD + f"sweep: {{params: {{portfolio.fees.rate: {grid}}}}}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConfigError, match=r"sweep\.params\.portfolio\.fees\.rate: .*finite"):
            load_config(path)


def test_tickers_that_yaml_1_1_reads_as_booleans_stay_tickers(tmp_path):
    # ON Semiconductor, and YAML 1.1's other words for true and false
    data = DATA.replace("[AAPL]", "[AAPL, ON, Y, NO, off]")
    path = tmp_path / "case.yaml"
    path.write_text(HEAD.replace(DATA, data) + "portfolio: {lots: no}\n")
    config = load_config(path, ["strategy.params.flag=yes", "strategy.name=signals:weights"])
    assert config.data.symbols == ["AAPL", "ON", "Y", "NO", "off"]
    assert config.portfolio.lots is False  # a boolean setting still takes yes and no
    assert config.strategy.params == {"flag": "yes"}
    assert load_config(path, ["portfolio.lots=True"]).portfolio.lots is True


def test_strategy_parameter_nan_exits_2_naming_it(tmp_path, capsys):
    # NaN in a weight used to read as "no instruction" for that asset, silently
    strategy = "strategy: {name: fixed_weights, params: {weights: {AAPL: .nan}}}"
    err = _run(tmp_path, f"name: x\n{DATA}\n{strategy}\n", capsys)
    assert "strategy.params.weights.AAPL" in err and "finite number" in err
