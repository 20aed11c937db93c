"""What a report says, as plain data: metric labels and formats, frames for the CSVs.

The terminal table, the HTML pages and `compare` all read the same `METRICS` spec, so a
metric is named and formatted the same way everywhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine import metrics as m
from engine.backtest import BacktestResult
from engine.config import RunConfig
from engine.data import Market
from engine.report.confidence import confidence_rows, income_rows
from engine.report.risk import RISK_DEFINITIONS, risk_file, risk_rows, when_used
from engine.results import day_label


@dataclass(frozen=True)
class MetricSpec:
    """How one metric is shown: its key in the metrics dict, label, format and group."""

    key: str
    label: str
    fmt: str
    group: str
    key_metric: bool = False
    on_benchmark: bool = True
    when_used: bool = False  # shown only where non-zero (a feature the run may not use)

    def shown(self, columns: Iterable[Mapping[str, float] | None]) -> bool:
        """Whether a table of `columns` (metrics dicts, None for a blank one) shows it."""
        values = [d.get(self.key) for d in columns if d is not None and self.key in d]
        return bool(values) and (not self.when_used or when_used(values))

    def format(self, value: float | None) -> str:
        """Return `value` formatted for display, ``n/a`` when it is undefined."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        return self.fmt.format(value)


def _specs() -> tuple[MetricSpec, ...]:
    pct, ratio, days, money = "{:+.2%}", "{:.2f}", "{:,.0f} d", "{:,.0f}"
    rows = [
        ("total_return", "Total return", pct, "Returns", True),
        ("cagr", "CAGR", pct, "Returns", True),
        ("volatility", "Volatility (ann.)", "{:.2%}", "Returns", True),
        ("sharpe", "Sharpe", ratio, "Returns", True),
        ("sortino", "Sortino", ratio, "Returns", True),
        ("calmar", "Calmar", ratio, "Returns", True),
        ("max_drawdown", "Max drawdown", "{:.2%}", "Risk", True),
        ("max_drawdown_days", "Max drawdown length", days, "Risk", True),
        ("max_drawdown_recovery_days", "Max drawdown recovery", days, "Risk", False),
        ("longest_drawdown_days", "Longest drawdown", days, "Risk", False),
        ("var_95", "Daily VaR 95%", pct, "Risk", False),
        ("cvar_95", "Daily CVaR 95%", pct, "Risk", False),
        ("skew", "Skew", ratio, "Risk", False),
        ("kurtosis", "Excess kurtosis", ratio, "Risk", False),
        ("best_day", "Best day", pct, "Risk", False),
        ("worst_day", "Worst day", pct, "Risk", False),
        ("best_month", "Best month", pct, "Risk", False),
        ("worst_month", "Worst month", pct, "Risk", False),
        ("hit_rate", "Hit rate (days up)", "{:.1%}", "Risk", False),
    ]
    specs = [MetricSpec(k, label, f, g, key) for k, label, f, g, key in rows]
    relative = [
        ("beta", "Beta", ratio, True),
        ("alpha", "Alpha (ann.)", pct, True),
        ("correlation", "Correlation", ratio, False),
        ("tracking_error", "Tracking error", "{:.2%}", False),
        ("information_ratio", "Information ratio", ratio, True),
        ("up_capture", "Up capture", ratio, False),
        ("down_capture", "Down capture", ratio, False),
    ]
    specs += [MetricSpec(k, label, f, "Vs benchmark", key, False) for k, label, f, key in relative]
    trading = [
        ("turnover", "Turnover (ann.)", "{:.2f}x", True),
        ("avg_gross_exposure", "Avg gross exposure", "{:.2f}", True),
        ("avg_net_exposure", "Avg net exposure", "{:+.2f}", True),
        ("n_trades", "Trades", "{:,.0f}", False),
        ("fees", "Fees paid", money, True),
        ("taxes", "Taxes paid", money, True),
        ("borrow", "Borrow paid", money, True),
        ("slippage", "Slippage cost", money, False),
        ("impact", "Impact cost (with half-spread)", money, True),
        ("fx_costs", "FX conversion cost", money, False),
        ("interest", "Cash interest", money, False),
        ("shortfall", "Buys not funded", money, True),
        ("shortfall_bars", "Bars with buys not funded", "{:,.0f}", True),
    ]
    trading += income_rows()
    specs += [
        MetricSpec(k, label, f, "Trading", key, False, when_used=k == "impact")
        for k, label, f, key in trading
    ]
    group = "Limits and liquidity"
    specs += [MetricSpec(k, lb, f, group, key, False, True) for k, lb, f, key in risk_rows()]
    specs += [MetricSpec(k, lb, f, "Confidence", key, False) for k, lb, f, key in confidence_rows()]
    return tuple(specs)


METRICS: tuple[MetricSpec, ...] = _specs()

# What each metric means, as engine/metrics.py defines it; the page shows it as a tooltip
# on the label and in a footnote list. ppy = bars per year of the data.
DEFINITIONS: dict[str, str] = {
    "total_return": "Final value over the initial cash, minus 1.",
    "cagr": "Growth ** (ppy / bars) - 1: the compound annual rate over the run.",
    "volatility": "Sample standard deviation of the per-bar returns (ddof 1) times sqrt(ppy).",
    "sharpe": "Mean excess return over the risk-free rate, over its sample std, times sqrt(ppy).",
    "sortino": "Mean excess return times sqrt(ppy), over the root mean square of the negative "
    "excess returns (all bars in the mean).",
    "calmar": "CAGR over the absolute max drawdown.",
    "max_drawdown": "Largest fall of the value from its running peak (the initial cash is the "
    "first peak).",
    "max_drawdown_days": "Calendar days from the first to the last bar under water of the "
    "deepest drawdown.",
    "max_drawdown_recovery_days": "Calendar days from the deepest drawdown's trough to the "
    "first bar back at the peak; n/a when not recovered.",
    "longest_drawdown_days": "The longest drawdown, first to last bar under water, calendar days.",
    "var_95": "Historical value at risk: the 5th percentile of per-bar returns.",
    "cvar_95": "Mean of the worst 5% of per-bar returns.",
    "skew": "Bias-corrected sample skewness of the per-bar returns.",
    "kurtosis": "Bias-corrected sample excess kurtosis of the per-bar returns.",
    "best_day": "Best per-bar return.",
    "worst_day": "Worst per-bar return.",
    "best_month": "Best calendar month, returns compounded within it.",
    "worst_month": "Worst calendar month, returns compounded within it.",
    "hit_rate": "Bars with a positive return over bars with a non-zero return.",
    "beta": "cov(strategy, benchmark) / var(benchmark), per-bar returns.",
    "alpha": "(1 + mean(r - rf - beta (b - rf))) ** ppy - 1: annualised excess over beta.",
    "correlation": "Pearson correlation of the per-bar returns with the benchmark's.",
    "tracking_error": "Sample std of the active return (strategy - benchmark) times sqrt(ppy).",
    "information_ratio": "Mean active return over its sample std, times sqrt(ppy).",
    "up_capture": "Strategy CAGR over benchmark CAGR, on the bars the benchmark rose.",
    "down_capture": "Strategy CAGR over benchmark CAGR, on the bars the benchmark fell.",
    "turnover": "Traded value over the value before trading, summed and scaled to one year.",
    "avg_gross_exposure": "Mean of the sum of |position values| over the portfolio value.",
    "avg_net_exposure": "Mean of the sum of signed position values over the portfolio value.",
    "n_trades": "Number of fills.",
    "fees": "Commissions and per-fill charges paid, base currency.",
    "taxes": "Buy and sell taxes (stamp duty) paid, base currency.",
    "borrow": "Borrow fees on shorts, per calendar day on the previous close's value.",
    "slippage": "What fills paid over the quote, base currency.",
    "fx_costs": "Currency conversion costs on foreign fills, base currency.",
    "interest": "Interest earned (or paid, when negative) on cash, base currency.",
    "shortfall": "Value of buys that cash or the leverage cap could not fund.",
    "shortfall_bars": "Bars on which some buy could not be funded in full.",
    **RISK_DEFINITIONS,
}


def annualisation(result: BacktestResult) -> dict[str, object]:
    """How the metrics were annualised and measured, for metrics.json and the page."""
    rf = result.config.report.model_dump(mode="json")["risk_free"]
    return {
        "periods_per_year": result.metrics["periods_per_year"],
        "periods_per_year_rule": "bars per year over the calendar span of the data",
        "returns": "simple per-bar returns of the value curve, the first from the initial cash",
        "risk_free": rf,
        "risk_free_per_bar": "(1 + annual rate) ** (1 / periods_per_year) - 1",
        "volatility": "sample standard deviation (ddof 1) times sqrt(periods_per_year)",
        "cagr": "growth ** (periods_per_year / bars) - 1",
    }


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def bankruptcy_banner(result: BacktestResult) -> str | None:
    """Return the line that heads every report of a bankrupt run, or None."""
    bankruptcy = result.bankruptcy
    if bankruptcy is None:
        return None
    return (
        f"BANKRUPT on {day_label(bankruptcy.date)}: {bankruptcy.cause}. The value fell to "
        "zero or below, every position was closed at that bar's close and nothing traded "
        "after; Sharpe, Sortino, Calmar and the other ratios are undefined."
    )


def run_identity(config: RunConfig, market: Market) -> dict[str, object]:
    """What a JSON output says first: the config, its data source, period and currency."""
    return {
        "name": config.name,
        "config": str(config.path) if config.path else None,
        "data_source": market.source,
        "start": str(market.index[0].date()),
        "end": str(market.index[-1].date()),
        "bars": len(market.index),
        "base_currency": market.base_currency,
    }


def metrics_document(result: BacktestResult) -> dict[str, object]:
    """Return the content of ``metrics.json``: run identity, metrics and benchmark metrics.

    ``bankrupt`` is null, or the date the value fell to zero or below and its cause.
    """
    config, market = result.config, result.market
    document: dict[str, object] = {
        **run_identity(config, market),
        "risk_free": config.report.model_dump(mode="json")["risk_free"],
        "metrics": {k: _finite(v) for k, v in result.metrics.items()},
        "annualisation": annualisation(result),
        "bankrupt": None,
    }
    if result.bankruptcy is not None:
        document["bankrupt"] = {
            "date": day_label(result.bankruptcy.date),
            "cause": result.bankruptcy.cause,
        }
    if result.benchmark_metrics is not None and config.benchmark is not None:
        document["benchmark"] = {
            "symbols": config.benchmark.symbols,
            "weights": config.benchmark.weights,
            "metrics": {k: _finite(v) for k, v in result.benchmark_metrics.items()},
        }
    return document


def metrics_json(result: BacktestResult, run_id: str | None = None) -> str:
    """Return ``metrics.json`` as text (sorted keys, NaN as null), stamped with `run_id`."""
    document = metrics_document(result)
    if run_id is not None:
        document["run_id"] = run_id
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def equity_frame(result: BacktestResult) -> pd.DataFrame:
    """Return the per-bar curve: value, returns, drawdown, exposures and the benchmark's."""
    sim, init = result.simulation, result.config.portfolio.init_cash
    value = sim.value.to_numpy()
    frame = pd.DataFrame(
        {
            "value": value,
            "returns": sim.returns.to_numpy(),
            "drawdown": m.drawdown(value, init),
            "cash": sim.cash.to_numpy(),
            "gross_exposure": sim.gross_exposure.to_numpy(),
            "net_exposure": sim.net_exposure.to_numpy(),
            "turnover": sim.turnover.to_numpy(),
        },
        index=pd.DatetimeIndex(sim.index, name="date"),
    )
    if result.benchmark is not None:
        bench = result.benchmark.to_numpy()
        frame["benchmark"] = bench
        frame["benchmark_returns"] = m.returns_from_value(bench, init)
        frame["benchmark_drawdown"] = m.drawdown(bench, init)
    return frame


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename_axis("date")


def output_files(result: BacktestResult) -> dict[str, str]:
    """Return the text of every data file of a run, keyed by file name (no run id yet)."""
    sim = result.simulation
    files = {
        "metrics.json": metrics_json(result),
        "equity.csv": equity_frame(result).to_csv(),
        "positions.csv": _dated(sim.positions).to_csv(),
        "weights.csv": _dated(sim.weights).to_csv(),
        "trades.csv": sim.trades.to_csv(index=False),
        "round_trips.csv": result.round_trips.to_csv(index=False),
    }
    files |= risk_file(result.config, getattr(sim, "risk", None))
    return files | attribution_files(result)


def attribution_files(result: BacktestResult) -> dict[str, str]:
    """The attribution CSVs: totals and per-bar P&L by asset, and by group when the
    config names groups of symbols (`engine.attribution`)."""
    parts, groups = result.attribution, result.config.data.groups
    files = {
        "attribution.csv": parts.by_asset(groups).to_csv(),
        "attribution_daily.csv": parts.daily().to_csv(),
    }
    if groups:
        files["attribution_groups.csv"] = parts.by_group(groups).to_csv()
        files["attribution_groups_daily.csv"] = parts.daily_groups(groups).to_csv()
    return files


def side_by_side(results: Sequence[BacktestResult]) -> pd.DataFrame:
    """Return every metric (rows, by label) of every run (columns, by config name)."""
    data = {r.config.name: [r.metrics.get(spec.key, np.nan) for spec in METRICS] for r in results}
    return pd.DataFrame(data, index=pd.Index([s.key for s in METRICS], name="metric"))


def aligned_values(results: Sequence[BacktestResult]) -> pd.DataFrame:
    """Return each run's value as a growth of 1 on the union of their dates.

    A value carries forward over dates only other runs have; before a run's first bar and
    after its last it is NaN, so a run is never drawn, or correlated, where it did not run.
    """
    curves = {r.config.name: r.simulation.value / r.config.portfolio.init_cash for r in results}
    frame = pd.DataFrame(curves).sort_index()
    running = frame.ffill().notna() & frame.bfill().notna()
    return frame.ffill().where(running)


def return_correlation(results: Sequence[BacktestResult]) -> pd.DataFrame:
    """Return the correlation matrix of the runs' returns, each pair over the dates both ran."""
    return aligned_values(results).pct_change(fill_method=None).corr()
