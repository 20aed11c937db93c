"""numba's on-disk cache never runs stale accounting after a kernel edit.

numba keys each cached function on its own source file and freezes what it reads from
other modules into the compiled code. The kernel therefore lives in one module
(`engine/kernel/sim_nb.py`); this test proves the consequence end to end: on a copy of
the package with a warm cache, an edit to one accounting rule reaches the single run,
the batched driver and the sweep driver alike. It runs the copy in subprocesses (about a
minute: the copy compiles twice).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
import numpy as np
import pandas as pd
import engine
from engine.simulation import prepare_market, sweep_metrics

index = pd.bdate_range("2024-01-01", periods=4)
close = pd.DataFrame({"A": [10.0, 11.0, 12.0, 13.0], "B": [20.0, 19.0, 18.0, 21.0]}, index=index)
weights = pd.DataFrame(np.nan, index=index, columns=close.columns)
weights.iloc[0] = [0.4, 0.4]  # cash covers every buy: no scaling
weights.iloc[2] = [0.2, 0.5]
fees = list(engine.kernel.sim_nb.METRIC_NAMES).index("fees")
out = {}
for rate in (0.001, 0.002):
    single = engine.simulate(close, weights, init_cash=1000.0, fees=rate)
    batch = engine.simulate(close, [weights, weights], init_cash=1000.0, fees=rate)
    chunk = sweep_metrics(
        prepare_market(close, fees=rate), np.stack([weights.to_numpy()] * 2), init_cash=1000.0
    )
    out[str(rate)] = {
        "single": float(single.costs["fees"].sum()),
        "batch": float(batch[1].costs["fees"].sum()),
        "sweep": float(chunk.metrics[1, fees]),
    }
print(json.dumps(out))
"""


def _probe(package: Path, cache: Path) -> dict[str, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(package)}
    env.pop("NUMBA_DISABLE_JIT", None)
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_kernel_edit_with_warm_cache_reaches_single_batched_and_sweep_runs(tmp_path):
    # Arrange: a copy of the package and its own cache, warmed by a first run
    package, cache = tmp_path / "copy", tmp_path / "cache"
    for name in ("engine", "strategies"):
        shutil.copytree(ROOT / name, package / name, ignore=shutil.ignore_patterns("__pycache__"))
    before = _probe(package, cache)
    for rate in ("0.001", "0.002"):
        paths = before[rate]
        assert paths["single"] > 0.0 and paths["batch"] == paths["sweep"] == paths["single"]
    cached = {p.name.split(".")[1].rsplit("-", 1)[0] for p in cache.rglob("sim_nb.*.nbi")}
    assert {"simulate_one_nb", "simulate_nb", "sweep_nb"} <= cached, cached

    # Act: double the proportional commission in the one rule that computes it
    kernel = package / "engine" / "kernel" / "sim_nb.py"
    source = kernel.read_text()
    rule = "max(cost.fee_rate * value, cost.fee_min * fx)"
    assert source.count(rule) == 1
    kernel.write_text(source.replace(rule, "max(2.0 * cost.fee_rate * value, cost.fee_min * fx)"))
    after = _probe(package, cache)

    # Assert: every path now charges at 0.001 what the unedited kernel charged at 0.002
    assert after["0.001"] == before["0.002"]
