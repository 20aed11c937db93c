"""Sweep grids checked before anything runs: values, size and walk-forward windows.

A grid that cannot run in full is a `ConfigError` naming the grid, the value or the
count and the fix; nothing is simulated and no output folder is written.
"""

from __future__ import annotations

from pathlib import Path

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
