"""Sweep grids checked before anything runs: values, size and walk-forward windows.

A grid that cannot run in full is a `ConfigError` naming the grid, the value or the
count and the fix; nothing is simulated and no output folder is written.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from engine import sweep as sw
from engine.cli import main
from engine.config import load_config
from engine.errors import ConfigError

HEAD = """\
name: grid
data: {symbols: [AAPL, MSFT, 0700.HK], start: 2021-01-01, end: 2021-12-31, seed: 3}
strategy: {name: trend, params: {signal: ma_cross, fast: 5, slow: 40}}
portfolio: {fees: 0.001}
"""


def _write(tmp_path: Path, sweep: str) -> Path:
    path = tmp_path / "grid.yaml"
    path.write_text(HEAD + "sweep:\n" + sweep)
    return path


@pytest.fixture
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("a chunk ran before the grid was checked")

    monkeypatch.setattr(sw, "run_chunk", fail)


def _exits_2(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    out = path.parent / "out"
    code = main(["sweep", str(path), "--out", str(out), "--quiet", *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("ConfigError: ") and str(path) in err, err
    assert not out.exists()
    return err


def test_sweep_with_exponent_notation_in_grid_writes_every_output(tmp_path):
    path = _write(tmp_path, "  params:\n    portfolio.fees.rate: [1e-4, 0.001]\n")
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 0
    table = pd.read_parquet(out / "results.parquet")
    assert list(table["fees.rate"]) == [0.0001, 0.001]
    assert (table["status"] == sw.ROW_OK).all()


def test_sweep_with_numbers_in_quotes_shows_the_validated_numbers(tmp_path):
    grid = "    portfolio.fees.rate: ['1e-4', 0.001]\n    strategy.params.fast: ['5', 10]\n"
    path = _write(tmp_path, "  params:\n" + grid)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 0
    table = pd.read_parquet(out / "results.parquet")
    assert list(table["fees.rate"]) == [0.0001, 0.0001, 0.001, 0.001]
    assert list(table["fast"]) == [5, 10, 5, 10]
    assert pd.api.types.is_integer_dtype(table["fast"])


def test_sweep_over_lists_of_symbols_runs_and_writes_them_as_text(tmp_path):
    head = HEAD.replace(
        "{name: trend, params: {signal: ma_cross, fast: 5, slow: 40}}",
        "{name: long_short, params: {long: [0700.HK], short: [AAPL]}}",
    )
    path = tmp_path / "grid.yaml"
    path.write_text(head + "sweep:\n  params:\n    strategy.params.short: [[AAPL], [AAPL, MSFT]]\n")
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 0
    table = pd.read_parquet(out / "results.parquet")
    assert list(table["short"]) == ["[AAPL]", "[AAPL, MSFT]"]
    assert (table["status"] == sw.ROW_OK).all()


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        (
            "    strategy.params.fast: [5, ten]\n",
            r"grid\.yaml:7: sweep\.params\.strategy\.params\.fast\.1: 'ten' is not a valid "
            r"strategy\.params\.fast: Input should be a valid integer",
        ),
        (
            "    strategy.params.fast:\n      - 5\n      - 0\n",
            r"grid\.yaml:9: sweep\.params\.strategy\.params\.fast\.1: 0 is not a valid "
            r"strategy\.params\.fast: Input should be greater than or equal to 1",
        ),
        (
            "    portfolio.fees.rate: [0.001, -1]\n",
            r"grid\.yaml:7: sweep\.params\.portfolio\.fees\.rate\.1: -1 is not a valid "
            r"portfolio\.fees\.rate: Input should be greater than or equal to 0",
        ),
        (
            "    portfolio.lag: {start: 1, stop: 40, step: 13}\n",
            r"grid\.yaml:7: sweep\.params\.portfolio\.lag: 14 is not a valid portfolio\.lag: "
            r"Input should be less than or equal to 10",
        ),
    ],
    ids=["wrong type", "out of range", "portfolio value", "range value"],
)
def test_sweep_with_an_invalid_value_exits_2_before_anything_runs(
    tmp_path, capsys, nothing_runs, grid, match
):
    err = _exits_2(_write(tmp_path, "  params:\n" + grid), capsys)
    assert re.search(match, err), err


def test_sweep_with_a_bad_base_parameter_names_the_base_setting(tmp_path, capsys, nothing_runs):
    path = _write(tmp_path, "  params:\n    strategy.params.fast: [5, 10]\n")
    err = _exits_2(path, capsys, "--set", "strategy.params.gross=-1")
    assert "--set: strategy.params.gross: Input should be greater than 0" in err


def test_grid_larger_than_max_combinations_is_refused_naming_count_and_setting(tmp_path):
    grid = "    strategy.params.fast: {start: 1, stop: 100000, step: 1}\n"
    grid += "    strategy.params.slow: {start: 1, stop: 100000, step: 1}\n"
    path = _write(tmp_path, "  params:\n" + grid)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "grid.yaml:5: sweep: 10,000,000,000 combinations (100,000 x 100,000)" in message
    assert "sweep.max_combinations (100,000)" in message


def test_grid_of_a_tiny_step_is_counted_without_being_built(tmp_path):
    path = _write(
        tmp_path, "  params:\n    portfolio.fees.rate: {start: 0, stop: 0.01, step: 1e-15}\n"
    )
    with pytest.raises(ConfigError, match=r"10,000,000,000,001 combinations"):
        load_config(path)


def test_max_combinations_can_be_raised_and_lowered(tmp_path):
    path = _write(tmp_path, "  params:\n    strategy.params.fast: [5, 10, 20]\n")
    with pytest.raises(ConfigError, match=r"3 combinations .* sweep\.max_combinations \(2\)"):
        load_config(path, ["sweep.max_combinations=2"])
    assert load_config(path, ["sweep.max_combinations=3"]).sweep.count() == 3


def test_walk_forward_longer_than_the_data_exits_2_naming_window_and_bars(
    tmp_path, capsys, nothing_runs
):
    sweep = "  params:\n    strategy.params.fast: [5, 10]\n"
    sweep += "  walk_forward: {train: 200, test: 100}\n"
    err = _exits_2(_write(tmp_path, sweep), capsys)
    assert "grid.yaml:8: sweep.walk_forward: train 200 + test 100 bars" in err
    assert "the data has 258 bars (2021-01-04 .. 2021-12-31)" in err


def test_walk_forward_that_fits_once_runs_one_fold(tmp_path):
    sweep = "  params:\n    strategy.params.fast: [5, 10]\n"
    sweep += "  walk_forward: {train: 158, test: 100}\n"
    result = sw.run_sweep(load_config(_write(tmp_path, sweep)))
    assert result.walk_forward is not None and len(result.walk_forward) == 1


def test_invalid_huge_range_value_is_shown_short(tmp_path, capsys, nothing_runs):
    grid = "    strategy.params.fast: {start: 1, stop: 1.0e+300, step: 1.0e+299}\n"
    err = _exits_2(_write(tmp_path, "  params:\n" + grid), capsys)
    assert "sweep.params.strategy.params.fast: 1e+299 is not a valid strategy.params.fast" in err
    assert len(err) < 300, err


def test_sweep_of_a_dict_parameter_named_like_a_dict_method_keeps_its_values(tmp_path):
    (tmp_path / "plain.py").write_text(
        "import pandas as pd\n\n\n"
        "def weights(market, params):\n"
        "    return pd.DataFrame(1.0 / params['items'], index=market.index,\n"
        "                        columns=market.close.columns)\n"
    )
    head = HEAD.replace(
        "{name: trend, params: {signal: ma_cross, fast: 5, slow: 40}}", "{name: plain:weights}"
    )
    path = tmp_path / "grid.yaml"
    path.write_text(head + "sweep:\n  params:\n    strategy.params.items: [3, 6]\n")
    table = sw.run_sweep(load_config(path)).table
    assert list(table["items"]) == [3, 6]
    assert (table["status"] == sw.ROW_OK).all()
