"""Start-up cost: commands that do not simulate never import numba, plotly or dask.

Each check runs in a fresh interpreter, since this test process has long since
imported everything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"
EXAMPLES = sorted((ROOT / "configs").rglob("*.yaml"))
HEAVY = ("numba", "plotly", "dask", "vectorbt", "exchange_calendars")

_NOTHING_HEAVY = """
heavy = [name for name in {heavy!r} if name in sys.modules]
assert not heavy, f"imported {{heavy}}"
"""


def _run_fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys\n" + code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize(
    "code",
    [
        "import engine",
        "from engine import ConfigError, load_config",
        f"from engine.cli import main\nassert main(['validate', {str(DEMO)!r}]) == 0",
        f"from engine.cli import main\nassert main(['show', {str(DEMO)!r}]) == 0",
    ],
    ids=["import engine", "from engine import", "validate", "show"],
)
def test_command_that_does_not_simulate_imports_no_numba_plotly_or_dask(code):
    done = _run_fresh(code + _NOTHING_HEAVY.format(heavy=HEAVY))
    assert done.returncode == 0, done.stderr


def test_engine_run_resolves_on_first_use_to_the_backtest_function():
    code = (
        "import engine\n"
        "assert 'numba' not in sys.modules\n"
        "assert {'run', 'simulate', 'Market'} <= set(dir(engine))\n"
        "run, simulate = engine.run, engine.simulate\n"
        "assert 'numba' in sys.modules\n"
        "import engine.backtest, engine.simulation\n"
        "assert run is engine.backtest.run and simulate is engine.simulation.simulate\n"
    )
    done = _run_fresh(code)
    assert done.returncode == 0, done.stderr


def test_validate_of_a_user_strategy_still_imports_its_module(tmp_path, capsys):
    config = tmp_path / "mine.yaml"
    config.write_text(
        "data: {symbols: [AAPL], start: 2020-01-01, end: 2020-06-30}\n"
        "strategy: {name: 'not_a_module_here:weights'}\n"
    )
    assert main(["validate", str(config)]) == 2
    assert "cannot import 'not_a_module_here'" in capsys.readouterr().err
