"""Second-process start: a fresh `eastwind run configs/demo.yaml` once the numba cache is warm.

Also prints the bare ``import engine`` time and the cold compile (empty NUMBA_CACHE_DIR)
for comparison. Run: ``python benchmarks/bench_startup.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 3.0


def timed(command: list[str], env: dict[str, str]) -> float:
    """Return the wall time of one run of `command` (which must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    """Time cold and warm starts of the CLI and print them."""
    with tempfile.TemporaryDirectory() as tmp:
        run = [
            sys.executable,
            "-m",
            "engine.cli",
            "run",
            "configs/demo.yaml",
            "--out",
            tmp,
            "--quiet",
        ]
        cold_env = {**os.environ, "NUMBA_CACHE_DIR": str(Path(tmp) / "numba-cold")}
        cold = timed(run, cold_env)
        warm = min(timed(run, cold_env) for _ in range(3))
        imports = min(timed([sys.executable, "-c", "import engine"], cold_env) for _ in range(3))
    print(f"cold start (empty numba cache, compiles the kernel): {cold:6.2f} s")
    print(
        f"warm start, best of 3 (`eastwind run configs/demo.yaml`): {warm:6.2f} s "
        f"(target < {TARGET_SECONDS:.0f} s)"
    )
    print(f"`import engine` alone, best of 3: {imports:6.2f} s")
    return 0 if warm < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
