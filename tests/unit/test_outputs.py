"""Outputs stay whole: one set per folder, one run id, Ctrl-C and unwritable paths.

The Ctrl-C tests send a real SIGINT to the `eastwind` process from inside it, at a
chosen point (an import, data loading, the kernel, between two renames), so they are
deterministic: no timing, no sleeping.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from engine import sweep as sw
from engine.cli import main
from tests.unit.test_sweep import SMALL, interrupt_second_chunk

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"
TREND = ROOT / "configs" / "trend_qqq.yaml"
CHEAP = ["--set", "data.start=2023-01-01", "--set", "data.end=2023-06-30"]

_SIGINT_AT_SECOND_RENAME = """
import os, signal, sys
from pathlib import Path
out = Path({out!r}).resolve()
real = os.replace
renamed = []
def replace(src, dst, *args, **kwargs):
    if Path(dst).resolve().parent == out:
        renamed.append(dst)
        if len(renamed) == 2:
            os.kill(os.getpid(), signal.SIGINT)
    return real(src, dst, *args, **kwargs)
os.replace = replace
from engine.cli import main
sys.exit(main({args!r}))
"""

_SIGINT_IN = """
import os, signal, sys
import {module} as target
real = target.{name}
def interrupted(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    return real(*args, **kwargs)
target.{name} = interrupted
from engine.cli import main
sys.exit(main({args!r}))
"""


def _python(code: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, **kwargs
    )


def _eastwind(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        **kwargs,
    )


def _whole(out: Path) -> str:
    """Assert `out` holds exactly one set, every file as its manifest says; return its id."""
    manifest = json.loads((out / "run.json").read_text())
    on_disk = {p.name for p in out.iterdir() if p.is_file()} - {"run.json"}
    assert on_disk == set(manifest["files"])
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == entry["sha256"], name
    run_id = manifest["run_id"]
    if "metrics.json" in on_disk:
        assert json.loads((out / "metrics.json").read_text())["run_id"] == run_id
    for page in (p for p in on_disk if p.endswith(".html")):
        assert f'<meta name="eastwind-run-id" content="{run_id}">' in (out / page).read_text()
    return run_id


def test_run_writes_a_manifest_and_stamps_every_file_with_one_run_id(tmp_path):
    assert main(["run", str(DEMO), "--out", str(tmp_path), "--quiet", *CHEAP]) == 0
    run_id = _whole(tmp_path)
    manifest = json.loads((tmp_path / "run.json").read_text())
    assert manifest["command"] == "run" and manifest["complete"] is True
    assert set(manifest["files"]) == {"metrics.json", "equity.csv", "positions.csv"} | {
        "weights.csv",
        "trades.csv",
        "round_trips.csv",  # demo names no symbol groups: no attribution_groups*.csv
        "attribution.csv",
        "attribution_daily.csv",
        "report.html",
    }
    # the CSVs stay plain tables for pandas
    assert list(pd.read_csv(tmp_path / "equity.csv").columns)[:2] == ["date", "value"]
    # the id is a digest of the numbers: the same run gives the same id and bytes
    again = tmp_path / "again"
    assert main(["run", str(DEMO), "--out", str(again), "--quiet", *CHEAP]) == 0
    assert _whole(again) == run_id


@pytest.mark.parametrize("older_version", [False, True], ids=["manifest", "no manifest"])
def test_run_with_no_html_after_a_full_run_removes_the_old_report_html(tmp_path, older_version):
    assert main(["run", str(DEMO), "--out", str(tmp_path), "--quiet", *CHEAP]) == 0
    first = _whole(tmp_path)
    if older_version:  # a folder written before manifests existed
        (tmp_path / "run.json").unlink()
    fee = ["--set", "portfolio.fees.rate=0.002"]
    assert (
        main(["run", str(DEMO), "--out", str(tmp_path), "--quiet", "--no-html", *CHEAP, *fee]) == 0
    )
    assert not (tmp_path / "report.html").exists()
    assert _whole(tmp_path) != first


def test_run_interrupted_between_two_renames_still_leaves_one_whole_set(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(DEMO), "--out", str(out), "--quiet", *CHEAP]) == 0
    first = _whole(out)
    args = ["run", str(DEMO), "--out", str(out), "--quiet", "--no-html", *CHEAP]
    args += ["--set", "portfolio.fees.rate=0.002"]
    done = _python(_SIGINT_AT_SECOND_RENAME.format(out=str(out), args=args))
    assert done.returncode == 130, done.stderr
    assert done.stderr == "interrupted\n"
    second = _whole(out)  # the swap finished before Ctrl-C took effect
    assert second != first and not (out / "report.html").exists()


def test_check_update_interrupted_between_two_baselines_writes_both(tmp_path):
    out = tmp_path / "baselines"
    args = ["check", str(DEMO), str(TREND), "--data", "synthetic", *CHEAP]
    args += ["--baselines", str(out), "--update", "--quiet"]
    done = _python(_SIGINT_AT_SECOND_RENAME.format(out=str(out), args=args))
    assert (done.returncode, done.stderr) == (130, "interrupted\n")
    assert sorted(p.name for p in out.iterdir()) == ["demo.json", "trend_qqq.json"]


def test_run_interrupted_while_rendering_keeps_the_previous_set_untouched(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(DEMO), "--out", str(out), "--quiet", *CHEAP]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    args = ["run", str(DEMO), "--out", str(out), "--quiet", *CHEAP, "--set", "portfolio.lag=2"]
    done = _python(_SIGINT_IN.format(module="engine.report", name="run_page", args=args))
    assert done.returncode == 130 and done.stderr == "interrupted\n"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_interrupted_sweep_goes_to_partial_and_keeps_the_finished_sweep(
    tmp_path, monkeypatch, capsys
):
    config = tmp_path / "sweep.yaml"
    document = {**SMALL, "sweep": {**SMALL["sweep"], "walk_forward": {"train": 252, "test": 126}}}
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    out = tmp_path / "out"
    assert main(["sweep", str(config), "--out", str(out), "--quiet"]) == 0
    finished = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert {"sweep.html", "walk_forward.csv"} <= set(finished)
    capsys.readouterr()

    with monkeypatch.context() as patch:
        interrupt_second_chunk(patch)
        assert main(["sweep", str(config), "--out", str(out), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert f"kept the 4 of 36 combinations that finished in {out / 'partial'}" in err
    assert f"the finished sweep in {out} is unchanged" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == finished
    partial = pd.read_csv(out / "partial" / "results.csv")
    assert (partial["status"] != sw.ROW_NOT_RUN).sum() == 4
    _whole(out / "partial")
    assert json.loads((out / "partial" / "run.json").read_text())["complete"] is False
    # a finished sweep supersedes the partial one
    assert main(["sweep", str(config), "--out", str(out), "--quiet"]) == 0
    assert not (out / "partial").exists()
    _whole(out)


def test_sweep_results_parquet_carries_the_run_id_in_its_metadata(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(SMALL, sort_keys=False))
    assert main(["sweep", str(config), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    run_id = _whole(tmp_path / "out")
    metadata = pq.read_schema(tmp_path / "out" / "results.parquet").metadata
    assert metadata[b"eastwind.run_id"] == run_id.encode()


# --- paths that cannot be written: exit 2, one line, before any work -----------------

BROKEN_DATA = {
    "name": "broken",
    "data": {
        "source": "csv",
        "path": ".",
        "symbols": ["NOPE"],
        "start": "2020-01-01",
        "end": "2020-12-31",
    },
    "strategy": {"name": "equal_weight"},
}


@pytest.mark.parametrize(
    ("command", "target", "message"),
    [
        ("run", "file", "is a file; give a folder"),
        ("run", "under_file", "is under the file"),
        ("compare", "file", "is a file; give a folder"),
        ("sweep", "under_file", "is under the file"),
        ("check-junit", "folder", "is a folder; give a file name"),
        ("check-junit", "under_file", "is under the file"),
    ],
)
def test_unwritable_output_path_exits_2_with_one_line_before_any_work(
    tmp_path, command, target, message
):
    config = tmp_path / "broken.yaml"  # its data fails to load: the path check comes first
    config.write_text(yaml.safe_dump({**BROKEN_DATA, "sweep": {"params": {"portfolio.lag": [1]}}}))
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "folder").mkdir()
    path = {
        "file": tmp_path / "a_file",
        "under_file": tmp_path / "a_file" / "out",
        "folder": tmp_path / "folder",
    }[target]
    if command == "check-junit":
        args = ["check", str(config), "--baselines", str(tmp_path), "--junit", str(path)]
    elif command == "compare":
        args = ["compare", str(config), str(DEMO), "--out", str(path)]
    else:
        args = [command, str(config), "--out", str(path)]
    done = _eastwind(*args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("OutputError: ") and done.stderr.count("\n") == 1
    assert message in done.stderr and str(path) in done.stderr


@pytest.mark.parametrize("command", ["run", "sweep", "check-junit"])
def test_read_only_output_folder_exits_2_with_one_line_before_any_work(
    tmp_path, monkeypatch, capsys, command
):
    config = tmp_path / "broken.yaml"
    config.write_text(yaml.safe_dump({**BROKEN_DATA, "sweep": {"params": {"portfolio.lag": [1]}}}))
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: answer as the kernel does for anyone else
        real = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode: False if Path(p) == read_only else real(p, mode)
        )
    if command == "check-junit":
        args = ["check", str(config), "--baselines", str(tmp_path), "--junit", "ro/x.xml"]
    else:
        args = [command, str(config), "--out", "ro/out"]
    monkeypatch.chdir(tmp_path)
    try:
        assert main(args) == 2
    finally:
        read_only.chmod(0o755)
    err = capsys.readouterr().err
    assert err.startswith("OutputError: ") and err.count("\n") == 1
    assert f"cannot write into {read_only}" in err


# --- Ctrl-C anywhere: exit 130 and one line -------------------------------------------


def _fake_package(folder: Path, name: str) -> Path:
    """A package `name` whose import is interrupted by Ctrl-C, first on the path."""
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGINT)\n"
    )
    return folder


@pytest.mark.parametrize(
    ("command", "package"),
    [("validate", "pydantic"), ("run", "numba"), ("run", "plotly")],  # plotly: the report
)
def test_ctrl_c_during_an_import_exits_130_with_one_line(tmp_path, command, package):
    fake = _fake_package(tmp_path / "fake", package)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), str(ROOT)])}
    args = ["--out", str(tmp_path / "out")] if command == "run" else []
    done = _eastwind(command, str(DEMO), *args, env=env)
    assert (done.returncode, done.stderr) == (130, "interrupted\n")


@pytest.mark.parametrize(
    ("module", "name", "command"),
    [
        ("engine.pipeline", "synthetic_market", "run"),
        ("engine.backtest", "run_portfolios", "run"),
        ("engine.pipeline", "synthetic_market", "check"),
    ],
)
def test_ctrl_c_during_data_loading_or_simulation_exits_130_with_one_line(
    tmp_path, module, name, command
):
    args = {
        "run": ["run", str(DEMO), "--out", str(tmp_path / "out")],
        "check": ["check", str(DEMO), "--baselines", str(tmp_path / "out"), "--update"],
    }[command]
    done = _python(_SIGINT_IN.format(module=module, name=name, args=args))
    assert (done.returncode, done.stderr) == (130, "interrupted\n")
    assert not (tmp_path / "out").exists()


def test_internal_error_exits_3_with_its_traceback_and_a_closing_line(tmp_path):
    code = (
        "import sys\nimport engine.backtest as b\n"
        "def broken(*a, **k):\n    raise RuntimeError('boom')\n"
        "b.run_portfolios = broken\nfrom engine.cli import main\n"
        f"sys.exit(main(['run', {str(DEMO)!r}, '--out', {str(tmp_path)!r}]))\n"
    )
    done = _python(code)
    assert done.returncode == 3
    assert "Traceback" in done.stderr and "RuntimeError: boom" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("internal error: ")
