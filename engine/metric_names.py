"""Names of the metrics the kernel computes for every portfolio, without importing numba.

The config layer validates ``sweep.metric`` against these names, and ``eastwind
validate`` must not pay for importing the kernel. ``engine/kernel/sim_nb.py`` holds the
same names in the same order with an index constant for each (``M_*``); a unit test
holds the two to each other, so neither can change alone.
"""

KERNEL_METRICS: tuple[str, ...] = (
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
    "slippage",
    "fx_costs",
    "interest",
    "shortfall",
    "shortfall_bars",
    "dividends",
    "dividends_paid",
    "withholding",
    "impact",
    "unfilled",
    "unfilled_bars",
    "cut_name",
    "cut_group",
    "cut_net",
    "cut_drawdown",
    "drawdown_bars",
    "stop_losses",
    "take_profits",
)

# metrics where a smaller value ranks higher in a sweep
LOWER_IS_BETTER: frozenset[str] = frozenset(
    {
        "volatility",
        "turnover",
        "n_trades",
        "fees",
        "taxes",
        "borrow",
        "slippage",
        "fx_costs",
        "shortfall",
        "shortfall_bars",
        "avg_gross_exposure",
        "dividends_paid",
        "withholding",
        "impact",
        "unfilled",
        "unfilled_bars",
        "cut_name",
        "cut_group",
        "cut_net",
        "cut_drawdown",
        "drawdown_bars",
        "stop_losses",
    }
)
