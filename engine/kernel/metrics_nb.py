"""Drawdown episodes of a value curve: the one path-dependent metric loop, in numba.

NumPy in, NumPy out, like the simulation kernel, so a sweep can call it on each of
many curves without pandas.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def drawdown_episodes_nb(value, init):  # pragma: no cover - compiled
    """Return the drawdown episodes of ``value`` (T,) that starts from ``init``.

    An episode runs from the first bar below the running peak to the last bar before the
    value is back at (or above) that peak. Returns four int64 arrays of length E and one
    float64 array: first bar, valley bar, last bar, recovery bar (-1 if the curve ends
    under water) and depth (valley / peak - 1, negative).
    """
    n = value.shape[0]
    first = np.empty(n, dtype=np.int64)
    valley = np.empty(n, dtype=np.int64)
    last = np.empty(n, dtype=np.int64)
    recovery = np.empty(n, dtype=np.int64)
    depth = np.empty(n, dtype=np.float64)
    e = 0
    peak = init
    in_dd = False
    for t in range(n):
        v = value[t]
        if v >= peak:
            if in_dd:
                last[e] = t - 1
                recovery[e] = t
                e += 1
                in_dd = False
            peak = v
            continue
        dd = v / peak - 1.0
        if not in_dd:
            in_dd = True
            first[e] = t
            valley[e] = t
            depth[e] = dd
        elif dd < depth[e]:
            valley[e] = t
            depth[e] = dd
    if in_dd:
        last[e] = n - 1
        recovery[e] = -1
        e += 1
    return first[:e], valley[:e], last[:e], recovery[:e], depth[:e]
