"""Start-up time: fresh processes running the CLI, warm and cold numba cache.

Each case is a new interpreter, timed from spawn to exit:

- ``import engine``
- ``eastwind validate configs/demo.yaml``
- ``eastwind run configs/demo.yaml --no-html`` (warm numba cache)
- ``eastwind run configs/demo.yaml`` with the HTML report (warm numba cache): the target
- the same run with an empty ``NUMBA_CACHE_DIR`` (cold: compiles every kernel it calls)

The host is shared, so every case runs several times and the script prints min, median
and max. ``--compare OTHER_CHECKOUT`` times a second source tree (e.g. the commit before
a change) in the same loop, alternating with this one, so both see the same load.

Run: ``python benchmarks/bench_startup.py [--runs 5] [--cold 3] [--compare PATH]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARM_TARGET, COLD_TARGET = 1.5, 6.0  # seconds, issue 18
PACKAGES = ("numba", "numpy", "pandas", "pydantic", "plotly", "scipy", "exchange-calendars")


def _cases(out: str) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "engine.cli"]
    run = [*cli, "run", "configs/demo.yaml", "--out", out, "--quiet"]
    return {
        "import engine": [sys.executable, "-c", "import engine"],
        "validate": [*cli, "validate", "configs/demo.yaml"],
        "run --no-html (warm)": [*run, "--no-html"],
        "run (warm)": run,
    }


def timed(command: list[str], root: Path, cache: Path) -> tuple[float, float]:
    """Return the wall and CPU (user + system) seconds of one run of `command` in `root`.

    CPU time counts what the process itself did, so it moves less than the wall time
    when other work shares the cores.
    """
    env = {**os.environ, "PYTHONPATH": str(root), "NUMBA_CACHE_DIR": str(cache)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:])} failed in {root}:\n{done.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def versions() -> str:
    """One line naming the interpreter, the packages that dominate start-up, and the host."""
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} absent")
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"Python {platform.python_version()}, {', '.join(found)}; "
        f"{os.cpu_count()} cores, load {load} at start, {dt.date.today()}"
    )


def main(argv: list[str] | None = None) -> int:
    """Time each case `--runs` times (cold `--cold` times) per tree; print the spread."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="warm runs of each case")
    parser.add_argument("--cold", type=int, default=3, help="cold runs (empty numba cache)")
    parser.add_argument("--compare", type=Path, help="another checkout, timed alternately")
    args = parser.parse_args(argv)
    roots = [ROOT] + ([args.compare.resolve()] if args.compare else [])
    print(versions())
    times: dict[tuple[Path, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cases = _cases(str(Path(tmp) / "out"))
        cold = cases["run (warm)"]
        for i in range(max(args.cold, 1)):  # the first cold run also fills the warm cache
            for k, root in enumerate(roots):
                cache = Path(tmp) / f"numba-{k}" if i == 0 else Path(tmp) / f"cold-{k}-{i}"
                times.setdefault((root, "run (cold)"), []).append(timed(cold, root, cache))
        for _ in range(args.runs):
            for k, root in enumerate(roots):
                for name, command in cases.items():
                    t = timed(command, root, Path(tmp) / f"numba-{k}")
                    times.setdefault((root, name), []).append(t)
    names = ["import engine", "validate", "run --no-html (warm)", "run (warm)", "run (cold)"]
    for root in roots:
        print(f"\n{root}")
        print(f"{'seconds':24s}  wall: min  median     max    CPU: min  median")
        for name in names:
            wall = [w for w, _ in times[(root, name)]]
            cpu = [c for _, c in times[(root, name)]]
            print(
                f"{name:24s} {min(wall):10.2f} {statistics.median(wall):7.2f} {max(wall):7.2f}"
                f"   {min(cpu):9.2f} {statistics.median(cpu):7.2f}  ({len(wall)} runs)"
            )
    warm = [w for w, _ in times[(ROOT, "run (warm)")]]
    cold_t = [w for w, _ in times[(ROOT, "run (cold)")]]
    print(
        f"\ntargets (issue 18): warm median {statistics.median(warm):.2f} s "
        f"(< {WARM_TARGET} s), cold median {statistics.median(cold_t):.2f} s (< {COLD_TARGET} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
