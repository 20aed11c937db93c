"""The repository holds its own rules: ruff clean, and the layer contract of DESIGN.md."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(path).exists():
        pytest.skip(f"{name} is not installed (it comes with the test extra)")
    return path


def test_repository_with_ruff_reports_no_problems():
    run = subprocess.run(
        [_tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_import_layers_with_import_linter_hold_the_design_contract():
    run = subprocess.run(
        [_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_modules_with_project_imports_never_import_another_modules_private_names():
    import ast

    offenders = []
    for path in [*ROOT.glob("engine/**/*.py"), *ROOT.glob("strategies/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
                "engine",
                "strategies",
            ):
                private = [
                    a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"
                ]
                if private:
                    offenders.append(f"{path.relative_to(ROOT)}: {node.module} {private}")
    assert offenders == []


def test_modules_under_engine_and_strategies_stay_under_600_lines_but_the_kernel():
    kernel = ROOT / "engine" / "kernel" / "sim_nb.py"  # one module by design (its docstring)
    long = {
        str(p.relative_to(ROOT)): n
        for p in [*ROOT.glob("engine/**/*.py"), *ROOT.glob("strategies/*.py")]
        if p != kernel and (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}
