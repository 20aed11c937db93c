"""W1: 500 assets x 2520 daily bars, monthly long/short rebalance, 10 bps fees.

eastwind and vectorbt simulate the same inputs in one process, warm (one untimed run
of each first, so JIT compilation is excluded); the script checks that the two value
curves agree and prints the speed ratio. Run: ``python benchmarks/bench_w1.py``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd


def make_inputs(n_assets: int, n_bars: int, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return lognormal prices and monthly random long/short weights with gross 0.9."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2010-01-01", periods=n_bars)
    columns = [f"A{j:03d}" for j in range(n_assets)]
    log_returns = rng.normal(0.0002, 0.02, (n_bars, n_assets))
    close = pd.DataFrame(
        100.0 * np.exp(np.cumsum(log_returns, axis=0)), index=index, columns=columns
    )
    first_of_month = pd.Series(index.to_period("M"), index=index)
    rebalance = first_of_month.ne(first_of_month.shift(1)).to_numpy()
    raw = rng.normal(size=(int(rebalance.sum()), n_assets))
    raw *= 0.9 / np.abs(raw).sum(axis=1, keepdims=True)
    weights = pd.DataFrame(np.nan, index=index, columns=columns)
    weights.loc[rebalance] = raw
    return close, weights


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Return the fastest wall time of `repeat` calls of `fn`."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    """Run W1 and print eastwind's speed relative to vectorbt."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--bars", type=int, default=2520)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    import vectorbt as vbt

    import engine

    close, weights = make_inputs(args.assets, args.bars)
    fees = 0.001

    def run_eastwind() -> pd.Series:
        return engine.simulate(close, weights, fees=fees, init_cash=1e6).value

    def run_vectorbt() -> pd.Series:
        portfolio = vbt.Portfolio.from_orders(
            close,
            weights,
            size_type="targetpercent",
            group_by=True,
            cash_sharing=True,
            call_seq="auto",
            fees=fees,
            init_cash=1e6,
            freq="1D",
        )
        return portfolio.value()

    ours, theirs = run_eastwind(), run_vectorbt()  # warm-up: compile both
    difference = float(np.max(np.abs(ours.to_numpy() / theirs.to_numpy() - 1.0)))

    t_eastwind = best_of(run_eastwind, args.repeat)
    t_vectorbt = best_of(run_vectorbt, args.repeat)

    print(f"W1: {args.assets} assets x {args.bars} bars, monthly rebalance, 10 bps fees")
    print(f"  value curves agree to {difference:.2e} relative (max over bars)")
    print(f"  eastwind  best of {args.repeat}: {t_eastwind * 1e3:9.1f} ms")
    print(f"  vectorbt  best of {args.repeat}: {t_vectorbt * 1e3:9.1f} ms")
    print(f"  ratio vectorbt / eastwind: {t_vectorbt / t_eastwind:.1f}x (target >= 100x)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KB
    print(f"  peak RSS {peak:,.0f} MB (both engines, one process)")
    return 0 if difference < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
