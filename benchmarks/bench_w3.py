"""W3: 100,000 parameter sets over 10 assets x ~2520 bars: throughput and peak memory.

One `eastwind sweep`-equivalent run (`engine.sweep.run_sweep`) of a moving-average
crossover grid on ten synthetic US stocks, 2014..2023: fast 2..200 step 2 x slow
210..1200 step 10 x gross 0.5..1.4 step 0.1 = 100,000 ten-asset portfolios. Prints
the throughput in portfolio-bars per second (and asset-bars) and the process's peak
resident memory; the target is a peak under 1 GB, because only
``[combinations x metrics]`` is kept. Run: ``python benchmarks/bench_w3.py``
(``--fast-count 10`` for a 10,000-set trial).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "AVGO", "COST", "NFLX"]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    """Run W3 and print throughput and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast-count", type=int, default=100, help="fast windows (x 1000 sets)")
    parser.add_argument("--chunk", type=int, default=256)
    args = parser.parse_args(argv)

    from engine.backtest import load_market
    from engine.config import RunConfig
    from engine.sweep import ROW_OK, run_sweep

    config = RunConfig.model_validate(
        {
            "name": "w3",
            "data": {
                "source": "synthetic",
                "symbols": SYMBOLS,
                "start": "2014-01-01",
                "end": "2023-12-31",
                "seed": 3,
            },
            "strategy": {"name": "trend", "params": {"signal": "ma_cross"}},
            "portfolio": {"fees": 0.001},
            "sweep": {
                "params": {
                    "strategy.params.fast": {"start": 2, "stop": 2 * args.fast_count, "step": 2},
                    "strategy.params.slow": {"start": 210, "stop": 1200, "step": 10},
                    "strategy.params.gross": {"start": 0.5, "stop": 1.4, "num": 10},
                },
                "chunk": args.chunk,
                "curves": 0,
            },
        }
    )
    market = load_market(config)
    warm = config.model_copy(deep=True)
    warm.sweep.params["strategy.params.fast"] = [2]  # type: ignore[union-attr]
    warm.sweep.params["strategy.params.slow"] = [210]  # type: ignore[union-attr]
    run_sweep(warm, market=market)  # compile the kernels, untimed
    rss_before = peak_rss_mb()

    done = {"n": 0}
    start = time.perf_counter()
    result = run_sweep(
        config, market=market, progress=lambda n: done.__setitem__("n", done["n"] + n)
    )
    elapsed = time.perf_counter() - start

    ok = int((result.table["status"] == ROW_OK).sum())
    n_bars = len(market.index)
    first = result.ranked().iloc[0]
    print(f"W3: {len(result.table):,} parameter sets ({ok:,} ran), {len(SYMBOLS)} assets")
    print(f"  wall time {elapsed:.1f} s for {done['n']:,} sets")
    print(
        f"  throughput {ok * n_bars / elapsed:,.0f} portfolio-bars/s "
        f"({ok * n_bars * len(SYMBOLS) / elapsed:,.0f} asset-bars/s)"
    )
    print(
        f"  peak RSS {peak_rss_mb():,.0f} MB (before the sweep: {rss_before:,.0f} MB); "
        "target < 1000 MB"
    )
    print(
        f"  best by sharpe: fast={first['fast']} slow={first['slow']} "
        f"gross={first['gross']:.1f} sharpe={first['sharpe']:.3f}"
    )
    return 0 if peak_rss_mb() < 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
