"""A configured run with ``data.adjust: price``: withholding per market reaches the kernel,
metrics.json and the report show the dividends and the confidence intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engine
from engine.report import write_run

DAYS = pd.bdate_range("2024-02-01", periods=40)  # XNYS sessions except 2024-02-19


def _files(folder: Path) -> None:
    rng = np.random.default_rng(3)
    for k, symbol in enumerate(["AAA", "BBB"]):
        close = 50.0 * (k + 1) * np.exp(np.cumsum(rng.normal(0.0, 0.01, len(DAYS))))
        paid = np.zeros(len(DAYS))
        paid[[10, 30]] = 0.5 * (k + 1)  # two ex-dates each
        pd.DataFrame({"date": DAYS.date, "close": close, "dividends": paid}).to_csv(
            folder / f"{symbol}.csv", index=False
        )


def _config(folder: Path, adjust: str) -> Path:
    path = folder / f"run_{adjust}.yaml"
    path.write_text(
        f"name: run_{adjust}\ndata:\n  source: csv\n  path: .\n  symbols: [AAA, BBB]\n"
        f"  start: {DAYS[0].date()}\n  end: {DAYS[-1].date()}\n  adjust: {adjust}\n"
        "strategy: {name: equal_weight}\nportfolio:\n  rebalance: daily\n  lots: false\n"
        "  costs: {AAA: {withholding: 0.3}}\n"
        "report:\n  bootstrap: {samples: 200, seed: 3}\n"
    )
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _files(tmp_path)
    return tmp_path


def test_run_with_price_adjust_withholds_per_symbol_and_reports_it(folder, tmp_path):
    result = engine.run(_config(folder, "price"))
    costs = result.simulation.costs
    metrics = result.metrics
    assert metrics["dividends"] > 0.0 and metrics["dividends_paid"] == 0.0
    # only AAA withholds: 30% of what AAA paid, which is its share of the dividends
    qty = result.simulation.positions.shift(1).fillna(0.0)
    paid = result.market.extras["dividends"]
    aaa = float((qty["AAA"] * paid["AAA"]).sum())
    assert aaa > 0.0 and metrics["withholding"] == pytest.approx(0.3 * aaa, rel=1e-12)
    assert costs["dividends"].sum() == pytest.approx(float((qty * paid).sum().sum()), rel=1e-12)
    out = tmp_path / "out"
    write_run(result, out)
    document = json.loads((out / "metrics.json").read_text())["metrics"]
    assert document["withholding"] == metrics["withholding"]
    assert document["sharpe_p05"] <= document["sharpe"] <= document["sharpe_p95"]
    page = (out / "report.html").read_text()
    assert "Dividend tax withheld" in page and "Sharpe, 5th pct" in page
    assert "withholding on longs: 30% AAA; 0% BBB" in page


def test_run_with_total_return_default_pays_no_dividends(folder):
    metrics = engine.run(_config(folder, "total_return")).metrics
    assert metrics["dividends"] == metrics["withholding"] == metrics["dividends_paid"] == 0.0


def test_run_twice_gives_bit_identical_intervals(folder):
    first = engine.run(_config(folder, "price")).metrics
    second = engine.run(_config(folder, "price")).metrics
    keys = [k for k in first if k.endswith(("_p05", "_p95"))] + ["psr"]
    assert [first[k] for k in keys] == [second[k] for k in keys]
