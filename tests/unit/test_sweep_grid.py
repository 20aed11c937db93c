"""Sweep grids checked before anything runs: values, size and walk-forward windows.

A grid that cannot run in full is a `ConfigError` naming the grid, the value or the
count and the fix; nothing is simulated and no output folder is written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
