"""Two versions of the kernel on W1's and W2's work, alternating in one process.

Machine load drifts during a run; timing two kernels turn by turn in one process cancels
most of it, which a pair of separate benchmark runs cannot. ``--old`` is another copy of
``engine/kernel/sim_nb.py`` (e.g. from ``git worktree add /tmp/old <commit>``); the
script loads it beside this tree's kernel, feeds both the same arrays (W1: 500 assets x
2520 bars monthly, `simulate_one_nb`; W2: 10 assets x 200 crossover pairs,
`sweep_rule_nb`), checks that they agree bit for bit, and prints new/old time ratios.
It needs the old kernel to take this tree's market tuple's first 12 entries (true back
to issue 23). Run: ``python benchmarks/bench_kernel_ab.py --old /tmp/old/engine/kernel/sim_nb.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
from bench_w1 import make_inputs  # the scripts run from this folder
from bench_w2 import FAST, FEES, INIT, SLOW, make_close, one_asset_market

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load(name: str, path: Path) -> ModuleType:
    """Import a kernel file under its own module name (numba caches it by name)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def market_args(kernel: ModuleType, market: object) -> tuple[object, ...]:
    """`market`'s tuple as `kernel` takes it: an older kernel has fewer entries and cost
    fields."""
    args = market.args()  # type: ignore[attr-defined]
    if kernel.COST_DTYPE == args[5].dtype:
        return args
    costs = np.zeros(args[5].shape, dtype=kernel.COST_DTYPE)
    for name in kernel.COST_DTYPE.names:
        costs[name] = args[5][name]
    return (*args[:5], costs, *args[6:12])


def w1(kernel: ModuleType) -> tuple[Callable[[], object], Callable[[], np.ndarray]]:
    from engine.inputs import prepare_market

    close, weights = make_inputs(500, 2520)
    args = market_args(kernel, prepare_market(close, fees=0.001))
    targets = np.ascontiguousarray(weights.to_numpy())
    rows = (~np.isnan(targets)).sum(axis=1).astype(np.int64)
    stats = np.zeros((len(close), kernel.N_STATS))
    records = np.empty(int(rows.sum()) + close.shape[1], dtype=kernel.TRADE_DTYPE)

    def run() -> object:
        return kernel.simulate_one_nb(args, 0, targets, rows, 0, 1e6, np.inf, 0, stats, records)

    return run, lambda: stats[:, 0].copy()


def w2(kernel: ModuleType) -> tuple[Callable[[], object], Callable[[], np.ndarray]]:
    from engine.inputs import prepare_market
    from engine.targets import GrossLimit, target_plan
    from strategies.trend import Trend, TrendParams

    close = make_close(10, 2520)
    params = [
        TrendParams.model_construct(signal="ma_cross", fast=f, slow=s, short=False, gross=1.0)
        for f in FAST
        for s in SLOW
    ]
    jobs = []
    for symbol in close.columns:
        market = one_asset_market(close, symbol)
        one = market.close
        rule = Trend.decision_rule(dataclasses.replace(market), params)
        no_limit = GrossLimit(np.inf, ("portfolio", "max_gross"), np.inf)
        plan = target_plan(market, "on_change", 0, no_limit).kernel_args()
        jobs.append((market_args(kernel, prepare_market(one, fees=FEES)), rule, plan))
    k = len(params)
    metrics = np.empty((len(jobs), k, kernel.N_METRICS))

    def run() -> object:
        for i, (args, rule, plan) in enumerate(jobs):
            kernel.sweep_rule_nb(
                args, rule.features, rule.rule, np.asarray(rule.a, dtype=np.int64),
                np.asarray(rule.b, dtype=np.int64), np.asarray(rule.up, dtype=np.float64),
                np.asarray(rule.down, dtype=np.float64), plan, 0, np.full(k, INIT),
                np.full(k, np.inf), 252.0, metrics[i], np.empty((0, 0)),
                np.empty(k, dtype=np.int64), np.empty(k, dtype=np.int64),
                np.empty(k, dtype=np.int64), np.empty(k),
            )  # fmt: skip
        return None

    return run, lambda: metrics[:, :, 0].copy()


def main(argv: list[str] | None = None) -> int:
    """Time both kernels turn by turn; exit 1 if their results differ."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the other sim_nb.py")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    old = load("old_sim_nb", args.old)
    new = load("new_sim_nb", ROOT / "engine" / "kernel" / "sim_nb.py")
    for name, work in (("W1", w1), ("W2", w2)):
        (run_old, out_old), (run_new, out_new) = work(old), work(new)
        run_old()
        run_new()  # compile, and compare
        if not np.array_equal(out_old(), out_new(), equal_nan=True):
            print(f"{name}: the two kernels disagree")
            return 1
        times: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(args.repeat):
            for label, run in (("old", run_old), ("new", run_new)):
                start = time.perf_counter()
                run()
                times[label].append(time.perf_counter() - start)
        t_old, t_new = np.array(times["old"]), np.array(times["new"])
        print(
            f"{name}: old best {t_old.min() * 1e3:.1f} ms, new best {t_new.min() * 1e3:.1f} ms; "
            f"new/old: best {t_new.min() / t_old.min():.3f}, "
            f"median of pairs {np.median(t_new / t_old):.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
