"""Start-up cost: each command imports only what it needs.

Commands that do not simulate never import numba, plotly or dask; ``run --no-html``
does not import plotly; nothing imports dask, yfinance or vectorbt unless asked to.

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
HEAVY = ("numba", "scipy", "plotly", "dask", "yfinance", "vectorbt", "exchange_calendars")

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


# What each command must not import: only what it needs loads (issue 18). A top-level
# import of one of these in a module the command reaches makes its case fail.
REMOTE_AND_EXTRAS = ("dask", "distributed", "yfinance", "vectorbt")
_SWEEP_YAML = """
name: tiny_sweep
data: {source: synthetic, symbols: [AAPL, MSFT], start: 2020-01-01, end: 2020-12-31}
strategy: {name: trend, params: {signal: ma_cross}}
sweep: {params: {strategy.params.fast: [5, 10], strategy.params.slow: [30]}}
"""
COMMANDS = {
    "validate": (["validate", str(DEMO)], ("numba", "scipy", "plotly", *REMOTE_AND_EXTRAS)),
    "run --no-html": (["run", str(DEMO), "--no-html"], ("plotly", *REMOTE_AND_EXTRAS)),
    "run": (["run", str(DEMO)], REMOTE_AND_EXTRAS),
    "data show": (["data", "show", str(DEMO)], ("numba", "plotly", *REMOTE_AND_EXTRAS)),
    "check": (["check", str(DEMO)], ("plotly", *REMOTE_AND_EXTRAS)),
    "sweep": (["sweep", "{sweep}"], REMOTE_AND_EXTRAS),
    "capacity": (["capacity", str(DEMO), "--multipliers", "1,10"], REMOTE_AND_EXTRAS),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_imports_only_what_it_needs(name, tmp_path):
    argv, forbidden = COMMANDS[name]
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(_SWEEP_YAML)
    argv = [a.format(sweep=sweep) for a in argv]
    if argv[0] in ("run", "sweep", "capacity"):
        argv += ["--out", str(tmp_path / "out"), "--quiet"]
    if argv[0] == "check":
        argv += ["--baselines", str(ROOT / "tests" / "baselines"), "--quiet"]
    code = f"from engine.cli import main\nassert main({argv!r}) == 0\n"
    done = _run_fresh(code + _NOTHING_HEAVY.format(heavy=forbidden))
    assert done.returncode == 0, done.stderr


def test_the_import_check_fails_on_a_module_that_was_imported():
    # the check above must be able to fail: json is imported by the CLI's config loading
    done = _run_fresh(
        f"from engine.cli import main\nassert main(['validate', {str(DEMO)!r}]) == 0\n"
        + _NOTHING_HEAVY.format(heavy=("json", "yaml"))
    )
    assert done.returncode != 0
    assert "imported ['json', 'yaml']" in done.stderr


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
