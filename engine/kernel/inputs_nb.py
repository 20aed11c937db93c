"""One-pass checks of the kernel's large inputs, without temporary arrays.

NumPy in, NumPy out, self-contained (it calls nothing in `sim_nb`, so numba's per-file
cache cannot go stale across the two files). Checking with NumPy expressions builds a
boolean array per condition and passes over the data once per condition; these loops
read each value once, and are branch-free so that they vectorise.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def bad_prices_nb(prices):
    """Return True when any price of ``prices[T, N]`` is not positive or is infinite
    (NaN, no price, is allowed)."""
    n_bars, n_assets = prices.shape
    bad = False
    for t in range(n_bars):
        for j in range(n_assets):
            x = prices[t, j]
            bad |= (x <= 0.0) | (x == np.inf)
    return bad


@njit(cache=True)
def count_targets_nb(targets, rows_out):
    """Count the non-NaN targets of each row of ``targets[K, T, N]`` into
    ``rows_out[K, T]``; return True when any target is infinite (NaN means no
    instruction, inf means nothing)."""
    n_port, n_bars, n_assets = targets.shape
    infinite = False
    for k in range(n_port):
        for t in range(n_bars):
            count = 0
            for j in range(n_assets):
                x = targets[k, t, j]
                count += np.int64(x == x)
                infinite |= abs(x) == np.inf
            rows_out[k, t] = count
    return infinite
