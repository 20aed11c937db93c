"""The kernel against the hardware floor: W1's value curve with the least arithmetic.

The floor is a bare numba loop that produces W1's value curve (500 assets x 2520 bars,
monthly long/short rebalance, 10 bps fees) and nothing else: value the book every bar,
trade to the target weights on rebalance bars. It has none of the kernel's rules (lots,
execution prices, costs tables, currencies, cash and leverage limits, fill order,
trade records, per-bar statistics), so no engine can beat it; the ratio kernel / floor
says how far eastwind's kernel is from it. The script checks that both produce the
same curve (1e-9 relative) and prints the ratio for the kernel alone (arrays already
prepared) and for the whole `engine.simulate` call (frames in, result out).

Run: ``python benchmarks/bench_floor.py`` (``--assets``, ``--bars``, ``--repeat``).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from bench_w1 import best_of, make_inputs
from numba import njit


@njit(cache=True)
def floor_nb(close, weights, rebalance, init_cash, fee):
    """Value curve of trading to `weights` on the `rebalance` bars at the close."""
    n_bars, n_assets = close.shape
    qty = np.zeros(n_assets)
    value = np.empty(n_bars)
    cash = init_cash
    for t in range(n_bars):
        held = 0.0
        for j in range(n_assets):
            held += qty[j] * close[t, j]
        if rebalance[t]:
            before = cash + held
            held = 0.0
            for j in range(n_assets):
                px = close[t, j]
                new = weights[t, j] * before / px
                cash -= (new - qty[j]) * px + abs(new - qty[j]) * px * fee
                qty[j] = new
                held += new * px
        value[t] = cash + held
    return value


def main(argv: list[str] | None = None) -> int:
    """Time the kernel, the whole simulate call and the floor, alternating; print ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--bars", type=int, default=2520)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    import engine
    from engine.kernel import sim_nb as nb
    from engine.simulation import prepare_market

    close, weights = make_inputs(args.assets, args.bars)
    fees, cash = 0.001, 1e6
    prices = np.ascontiguousarray(close.to_numpy())
    targets = np.ascontiguousarray(weights.to_numpy())
    rebalance = ~np.isnan(targets).all(axis=1)
    dense = np.nan_to_num(targets)
    market = prepare_market(close, fees=fees)
    rows = (~np.isnan(targets)).sum(axis=1).astype(np.int64)
    stats = np.empty((args.bars, nb.N_STATS))
    records = np.empty(int(rows.sum()) + args.assets, dtype=nb.TRADE_DTYPE)

    def kernel() -> np.ndarray:
        nb.simulate_one_nb(market.args(), 0, targets, rows, 0, cash, np.inf, 0, stats, records)
        return stats[:, nb.STAT_VALUE]

    def whole() -> object:
        return engine.simulate(close, weights, fees=fees, init_cash=cash).value

    def floor() -> np.ndarray:
        return floor_nb(prices, dense, rebalance, cash, fees)

    difference = float(np.max(np.abs(kernel() / floor() - 1.0)))
    whole()
    print(f"floor: {args.assets} assets x {args.bars} bars, monthly rebalance, 10 bps fees")
    print(f"  value curves agree to {difference:.2e} relative (max over bars)")
    for r in range(args.rounds):
        t_floor = best_of(floor, args.repeat)
        t_kernel = best_of(kernel, args.repeat)
        t_whole = best_of(whole, args.repeat)
        print(
            f"  round {r + 1}: floor {t_floor * 1e3:6.2f} ms, kernel {t_kernel * 1e3:6.2f} ms "
            f"({t_kernel / t_floor:4.1f}x the floor), simulate {t_whole * 1e3:6.2f} ms "
            f"({t_whole / t_floor:4.1f}x)"
        )
    return 0 if difference < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
