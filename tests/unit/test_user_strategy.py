"""A user's ``module:function`` strategy: errors in its code, which module a config gets,
and shipping it to other processes (issue 16)."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import engine
from engine.cli import main
from engine.config import load_config
from engine.data import synthetic_market
from engine.errors import ConfigError, StrategyError
from engine.pipeline import resolve_strategy

ROOT = Path(__file__).resolve().parents[2]
DATA = {"source": "synthetic", "start": "2021-02-01", "end": "2021-06-30"}

HALF = """
import pandas as pd


def weights(market, params):
    return pd.DataFrame(WEIGHT, index=market.index, columns=market.close.columns)
"""

EXTRA = """
import pandas as pd


def _flows(market):
    return market.extras["southbound"]


def weights(market, params):
    flows = _flows(market)
    return pd.DataFrame(0.5, index=market.index, columns=market.close.columns)
"""


def _config(folder: Path, source: str, symbols=("AAPL", "MSFT"), name: str | None = None) -> Path:
    """`folder`/sig.py with `source` and `folder`/run.yaml running ``sig:weights``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sig.py").write_text(textwrap.dedent(source))
    document = {
        "name": name or folder.name,
        "data": {**DATA, "symbols": list(symbols)},
        "strategy": {"name": "sig:weights"},
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _run_error(config: Path, tmp_path: Path, capsys) -> str:
    code = main(["run", str(config), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "engine/" not in err and "importlib" not in err
    assert not (tmp_path / "out").exists()
    return err


# --- errors in the user's code ----------------------------------------------------------


def test_cli_run_with_syntax_error_in_user_module_shows_the_file_line_and_code(tmp_path, capsys):
    config = _config(tmp_path / "syn", "import pandas\ndef weights(market, params)\n    return 1\n")
    err = _run_error(config, tmp_path, capsys)
    first, *block = err.splitlines()
    assert first.startswith("StrategyError: ") and "SyntaxError" in first
    assert f"{tmp_path / 'syn' / 'sig.py'}, line 2" in err
    assert "def weights(market, params)" in err
    assert len(block) <= 4


def test_cli_run_with_user_module_failing_on_import_names_its_line_not_a_missing_file(
    tmp_path, capsys
):
    source = "import pandas as pd\nRATE = 1 / 0\n\ndef weights(market, params):\n    return 1\n"
    err = _run_error(_config(tmp_path / "zero", source), tmp_path, capsys)
    assert "ZeroDivisionError: division by zero" in err
    assert "sig.py, line 2" in err and "RATE = 1 / 0" in err
    assert "put sig.py in" not in err  # the file is there: it failed, it was not missing


def test_cli_run_with_missing_extra_shows_user_frames_and_the_extras_there_are(tmp_path, capsys):
    config = _config(tmp_path / "key", EXTRA, symbols=("0700.HK", "9988.HK"))
    err = _run_error(config, tmp_path, capsys)
    first, *block = err.splitlines()
    assert first.startswith("StrategyError: strategy 'sig:weights' failed: KeyError: ")
    assert "'southbound'" in first and "southbound_net_buy, traded_value" in first
    # the user's two frames, outermost first, each with its code; no frame of eastwind's
    assert block == [
        f"  {tmp_path / 'key' / 'sig.py'}, line 10, in weights",
        "    flows = _flows(market)",
        f"  {tmp_path / 'key' / 'sig.py'}, line 6, in _flows",
        '    return market.extras["southbound"]',
    ]


def test_user_failure_with_deep_recursion_and_a_huge_message_stays_short(tmp_path):
    source = """
    def _down(depth):
        if depth == 50:
            raise ValueError("x" * 100_000)
        return _down(depth + 1)

    def weights(market, params):
        return _down(0)
    """
    config = load_config(_config(tmp_path / "deep", source))
    with pytest.raises(StrategyError) as caught:
        engine.run(config)
    message = str(caught.value)
    assert message.count(", in _down") == 3 and ", in weights" not in message
    assert len(message) < 1200


def test_user_history_attribute_failing_is_a_strategy_error_with_its_frame(tmp_path):
    source = """
    import pandas as pd

    def weights(market, params):
        return pd.DataFrame(0.5, index=market.index, columns=market.close.columns)

    weights.history = lambda params: params["slow"]
    """
    with pytest.raises(StrategyError, match=r"KeyError: 'slow'\n  .*sig\.py, line 7"):
        engine.run(load_config(_config(tmp_path / "hist", source)))


# --- which module a config gets ---------------------------------------------------------


def test_compare_of_two_configs_with_same_module_name_in_two_folders_runs_each_own(
    tmp_path, capsys
):
    long = _config(tmp_path / "long", HALF.replace("WEIGHT", "0.5"), name="long")
    short = _config(tmp_path / "short", HALF.replace("WEIGHT", "-0.5"), name="short")
    out = tmp_path / "cmp"
    assert main(["compare", str(long), str(short), "--out", str(out), "--quiet"]) == 0
    exposure = pd.read_csv(out / "metrics.csv", index_col="metric").loc["avg_net_exposure"]
    assert exposure["long"] > 0.9 and exposure["short"] < -0.9, exposure


def test_check_update_with_same_module_name_in_two_folders_writes_each_own_baseline(
    tmp_path, capsys
):
    long = _config(tmp_path / "long", HALF.replace("WEIGHT", "0.5"), name="long")
    short = _config(tmp_path / "short", HALF.replace("WEIGHT", "-0.5"), name="short")
    baselines = tmp_path / "baselines"
    assert main(["check", str(long), str(short), "--baselines", str(baselines), "--update"]) == 0
    net = {
        name: json.loads((baselines / f"{name}.json").read_text())["metrics"]["avg_net_exposure"]
        for name in ("long", "short")
    }
    assert net["long"] > 0.9 and net["short"] < -0.9, net


def test_resolve_strategy_after_the_module_file_changed_imports_it_anew(tmp_path):
    market = synthetic_market(["AAPL"], pd.Timestamp("2021-01-04"), pd.Timestamp("2021-01-29"))
    config = _config(tmp_path / "edit", HALF.replace("WEIGHT", "0.5"))
    first = resolve_strategy(load_config(config)).compute_many(market, [{}])
    (tmp_path / "edit" / "sig.py").write_text(HALF.replace("WEIGHT", "0.25"))
    second = resolve_strategy(load_config(config)).compute_many(market, [{}])
    assert first[0, 0, 0] == 0.5 and second[0, 0, 0] == 0.25


def test_user_module_importing_a_helper_next_to_it_still_works(tmp_path):
    folder = tmp_path / "helped"
    config = _config(folder, "from helper_16 import WEIGHT\n" + HALF)
    (folder / "helper_16.py").write_text("WEIGHT = 0.5\n")
    result = engine.run(load_config(config))
    assert result.metrics["avg_net_exposure"] > 0.9


def test_user_module_installed_on_sys_path_is_imported_by_its_name(tmp_path, monkeypatch):
    installed = tmp_path / "site"
    installed.mkdir()
    (installed / "installed_sig_16.py").write_text(HALF.replace("WEIGHT", "0.5"))
    monkeypatch.syspath_prepend(str(installed))
    config = _config(tmp_path / "cfg", "")
    document = yaml.safe_load(config.read_text())
    document["strategy"]["name"] = "installed_sig_16:weights"
    config.write_text(yaml.safe_dump(document))
    assert engine.run(load_config(config)).metrics["avg_net_exposure"] > 0.9


# --- shipping it to another process -----------------------------------------------------

MODEL = """
import pandas as pd
from pydantic import BaseModel, Field


class Params(BaseModel):
    gross: float = Field(default=0.5, gt=0)


def _scale(params):
    return params.gross


def weights(market, params: Params):
    return pd.DataFrame(_scale(params), index=market.index, columns=market.close.columns)


weights.history = lambda params: 3
"""

PICKLE = """
import pickle, sys
from engine.config import load_config
from engine.pipeline import resolve_strategy
sys.stdout.buffer.write(pickle.dumps(resolve_strategy(load_config(sys.argv[1]))))
"""

UNPICKLE = """
import pickle, sys
import pandas as pd
from engine.data import synthetic_market
strategy = pickle.loads(sys.stdin.buffer.read())
market = synthetic_market(["AAPL", "MSFT"], pd.Timestamp("2021-01-04"), pd.Timestamp("2021-01-29"))
params = strategy.validate({"gross": 0.25})
out = strategy.compute_many(market, [params])
print(out.shape, float(out[0, 0, 0]), strategy.history(params), sorted(strategy.param_names))
"""


def _python(code: str, cwd: Path, stdin: bytes = b"", *args: str) -> bytes:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "NUMBA_CACHE_DIR": str(cwd / "nb")}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], input=stdin, capture_output=True, cwd=cwd, env=env
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def test_resolved_user_strategy_pickles_into_a_fresh_process_without_its_file(tmp_path):
    config = _config(tmp_path / "ship", MODEL)
    blob = _python(PICKLE, tmp_path / "ship", b"", str(config))
    (tmp_path / "ship" / "sig.py").unlink()  # the code travels with the pickle
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = _python(UNPICKLE, elsewhere, blob).decode().strip()
    assert out == "(1, 19, 2) 0.25 3 ['gross']"


def test_resolved_user_strategy_pickles_in_this_process_too(tmp_path):
    config = _config(tmp_path / "here", MODEL)
    strategy = resolve_strategy(load_config(config))
    again = pickle.loads(pickle.dumps(strategy))
    market = synthetic_market(["AAPL"], pd.Timestamp("2021-01-04"), pd.Timestamp("2021-01-08"))
    params = again.validate({"gross": 0.75})
    np.testing.assert_array_equal(again.compute_many(market, [params]), np.full((1, 5, 1), 0.75))


def test_sweep_of_user_strategy_on_dask_local_cluster_matches_the_local_table(tmp_path):
    pytest.importorskip("dask.distributed")
    from engine.sweep import run_sweep

    config = _config(tmp_path / "dask", MODEL)
    document = yaml.safe_load(config.read_text())
    document["sweep"] = {"params": {"strategy.params.gross": [0.25, 0.5, 1.0]}}
    config.write_text(yaml.safe_dump(document))
    local = run_sweep(load_config(config)).table
    distributed = run_sweep(load_config(config), dask="local", workers=2).table
    assert (local["status"] == 0).all()
    pd.testing.assert_frame_equal(local, distributed, check_exact=True)


def test_user_package_with_relative_import_in_two_folders_gives_each_its_own(tmp_path):
    market = synthetic_market(["AAPL"], pd.Timestamp("2021-01-04"), pd.Timestamp("2021-01-08"))
    weights = []
    for folder, value in [("one", "0.5"), ("two", "-0.5")]:
        config = _config(tmp_path / folder, "")
        package = tmp_path / folder / "pkg"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "helper.py").write_text(f"WEIGHT = {value}\n")
        (package / "sig.py").write_text("from .helper import WEIGHT\n" + HALF)
        document = yaml.safe_load(config.read_text())
        document["strategy"]["name"] = "pkg.sig:weights"
        config.write_text(yaml.safe_dump(document))
        strategy = resolve_strategy(load_config(config))
        weights.append(strategy.compute_many(market, [{}])[0, 0, 0])
    assert weights == [0.5, -0.5]


def test_user_package_without_the_named_module_is_a_config_error(tmp_path):
    config = _config(tmp_path / "pkgless", "")
    (tmp_path / "pkgless" / "pkg").mkdir()
    (tmp_path / "pkgless" / "pkg" / "__init__.py").write_text("")
    document = yaml.safe_load(config.read_text())
    document["strategy"]["name"] = "pkg.nothing:weights"
    config.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=r"cannot import 'pkg\.nothing' .*put pkg\.nothing\.py"):
        resolve_strategy(load_config(config))


# --- the shape of what a user function returns ------------------------------------------


def _shape_market():
    from engine.data import synthetic_market

    return synthetic_market(["AAPL", "MSFT"], "2024-01-02", "2024-01-31", seed=1)


def test_weights_in_another_column_and_row_order_are_aligned_by_label():
    from engine.resolve import weights_array

    market = _shape_market()
    weights = market.close * 0.0 + 0.5
    weights["AAPL"] = 0.25
    shuffled = weights[["MSFT", "AAPL"]].iloc[::-1]
    aligned = weights_array("mine", shuffled, market)
    assert (aligned[:, 0] == 0.25).all() and (aligned[:, 1] == 0.5).all()


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda w: w.drop(columns="MSFT"), "1 of the market's symbols are missing, first MSFT"),
        (lambda w: w.assign(QQQ=0.0), "1 symbols are not the market's, first QQQ"),
        (lambda w: w.iloc[1:], "1 of the market's dates are missing, first 2024-01-02"),
        (lambda w: w.to_numpy(), "returned a ndarray, not a DataFrame"),
    ],
    ids=["missing symbol", "extra symbol", "missing date", "array"],
)
def test_weights_of_another_shape_name_the_first_differing_label(change, says):
    from engine.errors import StrategyError
    from engine.resolve import weights_array

    market = _shape_market()
    with pytest.raises(StrategyError, match=re.escape(says)):
        weights_array("mine", change(market.close * 0.0), market)
