"""Sweep kernel: simulate K portfolios and keep only their metrics (and optionally values).

Each portfolio runs the same per-portfolio kernel as `simulate_nb` into scratch arrays
of its own ``[T, ...]``; its metrics are computed right there, so memory grows with K
times the number of metrics, never with K times the number of bars. NumPy in, NumPy out.

Metric definitions are those of `engine.metrics` (tests hold the two to 1e-9).
"""

import numpy as np
from numba import njit, prange

from engine.kernel import sim_nb as nb

SWEEP_METRICS = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "turnover",
    "avg_gross_exposure",
    "avg_net_exposure",
    "n_trades",
    "fees",
    "taxes",
    "borrow",
)
N_METRICS = len(SWEEP_METRICS)


@njit(cache=True)
def portfolio_metrics_nb(stats, init_cash, n_trades, ppy, rf_bar, out):  # pragma: no cover
    """Write the `SWEEP_METRICS` of one simulated portfolio's ``stats`` ``[T, N_STATS]``."""
    n = stats.shape[0]
    # first pass: means, drawdown, turnover, exposures and costs
    prev = init_cash
    peak = init_cash
    max_dd = 0.0
    sum_r = 0.0
    turnover = 0.0
    gross = 0.0
    net = 0.0
    fees = 0.0
    taxes = 0.0
    borrow = 0.0
    for t in range(n):
        v = stats[t, nb.STAT_VALUE]
        sum_r += v / prev - 1.0
        prev = v
        if v > peak:
            peak = v
        dd = v / peak - 1.0
        if dd < max_dd:
            max_dd = dd
        traded = stats[t, nb.STAT_TRADED]
        if traded > 0.0:
            turnover += traded / stats[t, nb.STAT_VALUE_PRE]
        gross += stats[t, nb.STAT_GROSS] / v
        net += stats[t, nb.STAT_NET] / v
        fees += stats[t, nb.STAT_FEES]
        taxes += stats[t, nb.STAT_TAXES]
        borrow += stats[t, nb.STAT_BORROW]
    mean = sum_r / n
    # second pass: squared deviations (two passes keep the variance exact for flat curves)
    prev = init_cash
    dev2 = 0.0
    down2 = 0.0
    for t in range(n):
        v = stats[t, nb.STAT_VALUE]
        r = v / prev - 1.0
        prev = v
        dev2 += (r - mean) * (r - mean)
        x = r - rf_bar
        if x < 0.0:
            down2 += x * x
    growth = max(stats[n - 1, nb.STAT_VALUE] / init_cash, 0.0)
    cagr = growth ** (ppy / n) - 1.0
    excess = mean - rf_bar
    out[0] = growth - 1.0
    out[1] = cagr
    if n > 1:
        std = np.sqrt(dev2 / (n - 1))
        out[2] = std * np.sqrt(ppy)
        out[3] = excess / std * np.sqrt(ppy) if std > 0.0 else np.nan
        downside = np.sqrt(down2 / n)
        out[4] = excess * np.sqrt(ppy) / downside if downside > 0.0 else np.nan
    else:
        out[2] = np.nan
        out[3] = np.nan
        out[4] = np.nan
    out[5] = max_dd
    out[6] = cagr / -max_dd if max_dd < 0.0 else np.nan
    out[7] = turnover * ppy / n
    out[8] = gross / n
    out[9] = net / n
    out[10] = n_trades
    out[11] = fees
    out[12] = taxes
    out[13] = borrow


@njit(cache=True, parallel=True)
def sweep_nb(
    close,
    exec_price,
    fx,
    asset_ccy,
    targets,  # (K, T, N)
    size_type,
    lot_size,
    fees,  # every cost array has one row: a sweep chunk shares its cost settings
    fixed_fees,
    min_fees,
    charges,
    buy_tax,
    sell_tax,
    slippage,
    fx_cost,
    borrow_rate,
    cash_rate,
    year_frac,
    init_cash,  # float
    max_leverage,  # float, inf = no cap
    ppy,
    rf_bar,
    metrics_out,  # (K, N_METRICS) written
    values_out,  # (K, T) written when keep_values, else (0, 0)
    status_out,  # (K,) written
    keep_values,
):  # pragma: no cover - compiled
    """Simulate K portfolios in parallel; write their metrics (and values if asked)."""
    n_port, n_bars, n_assets = targets.shape
    for k in prange(n_port):
        count = 0
        for t in range(n_bars):
            for j in range(n_assets):
                if not np.isnan(targets[k, t, j]):
                    count += 1
        qty = np.empty((1, n_bars, n_assets), dtype=np.float64)
        stats = np.empty((1, n_bars, nb.N_STATS), dtype=np.float64)
        records = np.empty(count, dtype=nb.TRADE_DTYPE)
        rec_start = np.zeros(2, dtype=np.int64)
        rec_start[1] = count
        rec_count = np.zeros(1, dtype=np.int64)
        status = np.zeros(1, dtype=np.int64)
        fail_bar = np.zeros(1, dtype=np.int64)
        nb.simulate_one_nb(
            0,
            close,
            exec_price,
            fx,
            asset_ccy,
            targets[k : k + 1],
            size_type,
            lot_size,
            fees,
            fixed_fees,
            min_fees,
            charges,
            buy_tax,
            sell_tax,
            slippage,
            fx_cost,
            borrow_rate,
            cash_rate,
            year_frac,
            np.full(1, init_cash),
            np.full(1, max_leverage),
            qty,
            stats,
            records,
            rec_start,
            rec_count,
            status,
            fail_bar,
        )
        portfolio_metrics_nb(stats[0], init_cash, rec_count[0], ppy, rf_bar, metrics_out[k])
        status_out[k] = status[0]
        if keep_values:
            for t in range(n_bars):
                values_out[k, t] = stats[0, t, nb.STAT_VALUE]
