"""Report rows for dividend income and the bootstrap's confidence intervals.

Kept apart from `engine.report.tables` so that the metric table's own rows stay in one
place; `tables._specs` adds these at the end of its groups, and the HTML page's Setup
table takes `prices_row`.
"""

from __future__ import annotations

from engine.backtest import BacktestResult
from engine.bootstrap import INTERVAL_METRICS

_MONEY, _PCT, _RATIO = "{:,.0f}", "{:+.2%}", "{:.2f}"
_LABELS = {
    "sharpe": ("Sharpe", _RATIO),
    "cagr": ("CAGR", _PCT),
    "volatility": ("Volatility (ann.)", "{:.2%}"),
    "max_drawdown": ("Max drawdown", "{:.2%}"),
}


def income_rows() -> list[tuple[str, str, str, bool]]:
    """(key, label, format, key metric) of the dividend rows of the Trading group."""
    return [
        ("dividends", "Dividends received (gross)", _MONEY, False),
        ("withholding", "Dividend tax withheld", _MONEY, False),
        ("dividends_paid", "Dividends paid on shorts", _MONEY, False),
    ]


def confidence_rows() -> list[tuple[str, str, str, bool]]:
    """(key, label, format, key metric) of the Confidence group: a 90% interval per
    metric from the block bootstrap, and the probabilistic Sharpe ratio."""
    rows = [("psr", "Prob. Sharpe > 0 (PSR)", "{:.1%}", True)]
    for name in INTERVAL_METRICS:
        label, fmt = _LABELS[name]
        rows.append((f"{name}_p05", f"{label}, 5th pct", fmt, name == "sharpe"))
        rows.append((f"{name}_p95", f"{label}, 95th pct", fmt, name == "sharpe"))
    rows.append(("bootstrap_block", "Bootstrap mean block (bars)", "{:.0f}", False))
    rows.append(("bootstrap_samples", "Bootstrap paths", "{:,.0f}", False))
    return rows


def prices_row(result: BacktestResult) -> tuple[str, str]:
    """The Setup row saying how the prices treat dividends, and the withholding rates."""
    if result.config.data.adjust != "price":
        return "Prices", "total-return adjusted (dividends folded into the closes)"
    market, p = result.market, result.config.portfolio
    rates: dict[float, list[str]] = {}
    for symbol in market.symbols:
        key = (symbol, market.exchange.get(symbol, ""), market.currency[symbol])
        rates.setdefault(p.asset_costs(*key).withholding, []).append(symbol)
    held = "; ".join(f"{rate:.0%} {', '.join(symbols)}" for rate, symbols in rates.items())
    return "Prices", f"price only, cash dividends on ex-dates; withholding on longs: {held}"
