"""Rates that change: cash and borrow rates from a file, an extra series or a dated
schedule, separate rates on positive and negative cash, the short rebate spread, and
report.risk_free as a series. Bars are Friday 2024-01-05 to Wednesday 2024-01-10, so
the first interval spans a weekend (3 calendar days); every expected amount is worked
out in the comments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import sweep as sw
from engine.cli import main
from engine.config import load_config
from engine.errors import ConfigError, DataError
from tests.dated_runs import config, run

DAYS = ["2024-01-05", "2024-01-08", "2024-01-09", "2024-01-10"]  # Fri, Mon, Tue, Wed
CASH = {DAYS[0]: {"AAPL": 0.0}}  # never trades: the whole value sits in cash
SERIES = {"file": "rates.csv", "column": "rate", "scale": 0.01}


def _rates(folder, rows: dict[str, float]) -> None:
    """A rate file in percent, like the T-bill file: ``date,rate``."""
    lines = ["date,rate", *(f"{day},{value}" for day, value in rows.items())]
    (folder / "rates.csv").write_text("\n".join(lines) + "\n")


def _flat(days=DAYS, price: float = 100.0) -> dict[str, dict[str, float]]:
    return {"AAPL": dict.fromkeys(days, price)}


def test_cash_rate_from_a_file_accrues_the_rate_of_each_bar_over_calendar_days(tmp_path):
    # Sunday's 3.65% is carried to Monday; 7.3% from Tuesday is carried to Wednesday
    _rates(tmp_path, {"2024-01-04": 1.0, "2024-01-07": 3.65, "2024-01-09": 7.3})
    path = config(tmp_path, _flat(), CASH, {"cash_rate": SERIES}, base="USD")
    interest = run(path).simulation.costs["interest"]
    # Mon: 1,000,000 * 3.65% * 3 / 365 = 300 (Friday to Monday, three days)
    # Tue: 1,000,300 * 7.3% / 365 = 200.06; Wed: 1,000,500.06 * 7.3% / 365 = 200.100012
    np.testing.assert_allclose(interest, [0.0, 300.0, 200.06, 200.100012], rtol=1e-12)


def test_cash_rate_from_an_extra_series_is_carried_over_bars_without_a_value(tmp_path):
    _rates(tmp_path, {"2024-01-05": 1.0, "2024-01-08": 3.65, "2024-01-10": 7.3})
    path = config(
        tmp_path,
        _flat(),
        CASH,
        {"cash_rate": {"extra": "irx", "scale": 0.01}},
        base="USD",
        data={"extras": {"irx": {"file": "rates.csv", "column": "rate"}}},
    )
    interest = run(path).simulation.costs["interest"]
    # Mon 300 as above; Tue keeps Monday's 3.65%: 1,000,300 * 3.65% / 365 = 100.03;
    # Wed 7.3%: 1,000,400.03 * 7.3% / 365 = 200.080006
    np.testing.assert_allclose(interest, [0.0, 300.0, 100.03, 200.080006], rtol=1e-12)


def test_negative_cash_pays_the_debit_rate_and_positive_cash_earns_the_cash_rate(tmp_path):
    weights = {DAYS[0]: {"AAPL": 1.5}, DAYS[2]: {"AAPL": 0.0}}
    portfolio = {
        "cash_rate": 0.0365,
        "cash_debit_rate": {"2024-01-01": 0.073},
        "max_leverage": 2.0,
    }
    path = config(tmp_path, _flat(), weights, portfolio, base="USD")
    interest = run(path).simulation.costs["interest"]
    # Fri: buy 15,000 shares at 100 = 1,500,000: cash -500,000
    # Mon: -500,000 * 7.3% * 3 / 365 = -300, at the debit rate
    # Tue: -500,300 * 7.3% / 365 = -100.06; then sell all: cash -500,400.06 + 1,500,000
    # Wed: 999,599.94 earns the cash rate: 999,599.94 * 3.65% / 365 = 99.959994
    np.testing.assert_allclose(interest, [0.0, -300.0, -100.06, 99.959994], rtol=1e-12)


def test_short_pays_borrow_plus_rebate_spread_and_its_proceeds_earn_the_cash_rate(tmp_path):
    portfolio = {
        "cash_rate": 0.0365,
        "rebate_spread": 0.073,
        "costs": {"AAPL": {"borrow_rate": {"2024-01-01": 0.0365, "2024-01-09": 0.73}}},
    }
    path = config(tmp_path, _flat(), {DAYS[0]: {"AAPL": -0.5}}, portfolio, base="USD")
    costs = run(path).simulation.costs
    # Fri: short 5,000 shares at 100: 500,000 short, cash 1,500,000
    # Mon: interest 1,500,000 * 3.65% * 3 / 365 = 450; borrow 500,000 * (3.65% + 7.3%)
    #      * 3 / 365 = 450: r+ * cash - (borrow + spread) * short value nets to 0
    # Tue: cash 1,500,000: interest 150; borrow from the 73% rate: 500,000 * 80.3% / 365
    #      = 1,100; Wed: cash 1,500,000 - 950 = 1,499,050: interest 149.905, borrow 1,100
    np.testing.assert_allclose(costs["interest"], [0.0, 450.0, 150.0, 149.905], rtol=1e-12)
    np.testing.assert_allclose(costs["borrow"], [0.0, 450.0, 1100.0, 1100.0], rtol=1e-12)


def test_risk_free_series_changes_sharpe_as_computed_from_the_rate_of_each_bar(tmp_path):
    days = [f"2024-01-{d:02d}" for d in (2, 3, 4, 5, 8, 9, 10, 11, 12, 16)]
    prices = [100, 101, 99.5, 102, 103, 101, 104, 106, 105, 107]
    _rates(tmp_path, {"2023-12-29": 5.0, "2024-01-08": 40.0})
    path = config(
        tmp_path,
        {"AAPL": dict(zip(days, prices, strict=True))},
        {days[0]: {"AAPL": 1.0}},
        {},
        base="USD",
        report={"risk_free": SERIES},
    )
    result = run(path)
    ppy = result.metrics["periods_per_year"]
    annual = np.array([0.05] * 4 + [0.40] * 6)  # 5% to Friday 5th, 40% from Monday 8th
    rf = (1.0 + annual) ** (1.0 / ppy) - 1.0
    excess = result.simulation.returns.to_numpy() - rf
    expected = excess.mean() / excess.std(ddof=1) * np.sqrt(ppy)
    assert result.metrics["sharpe"] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(result.risk_free, rf, rtol=1e-15)  # what rolling Sharpe uses
    flat = run(path, ("report.risk_free=0.05",))  # 5% on every bar instead
    excess = result.simulation.returns.to_numpy() - ((1.0 + 0.05) ** (1.0 / ppy) - 1.0)
    assert flat.metrics["sharpe"] == pytest.approx(
        excess.mean() / excess.std(ddof=1) * np.sqrt(ppy), rel=1e-12
    )
    assert flat.metrics["sharpe"] - result.metrics["sharpe"] > 0.5


def _cash_series_config(tmp_path: Path) -> Path:
    """Half in AAPL; cash earns the file's rate series, which is also the risk-free rate."""
    _rates(tmp_path, {"2024-01-04": 1.0, "2024-01-07": 3.65, "2024-01-09": 7.3})
    return config(
        tmp_path,
        _flat(),
        {DAYS[0]: {"AAPL": 0.5}},
        {"cash_rate": SERIES},
        base="USD",
        report={"risk_free": "cash"},
    )


def test_risk_free_cash_is_the_cash_rate_series(tmp_path):
    path = _cash_series_config(tmp_path)
    as_cash = run(path)
    as_file = run(path, (f"report.risk_free={SERIES}",))
    np.testing.assert_array_equal(as_cash.risk_free, as_file.risk_free)
    assert as_cash.metrics["sharpe"] == as_file.metrics["sharpe"]


def test_sweep_with_a_rate_series_scores_as_the_run(tmp_path):
    path = _cash_series_config(tmp_path)
    with path.open("a") as f:
        f.write("sweep:\n  params:\n    portfolio.slippage: [0.0, 0.001]\n  metric: cagr\n")
    swept = sw.run_sweep(load_config(path))
    single = run(path)
    assert swept.table["cagr"].iloc[0] == single.metrics["cagr"]
    np.testing.assert_array_equal(swept.risk_free, single.risk_free)


@pytest.mark.parametrize(
    ("rows", "setting", "error", "match"),
    [
        ({"2024-01-04": 3.0}, {"file": "missing.csv"}, DataError, r"missing\.csv: file not found"),
        ({"2023-06-30": 3.0}, SERIES, DataError, r"ends on 2023-06-30, before the first bar"),
        ({"2024-01-08": 3.0}, SERIES, DataError, r"starts on 2024-01-08, after the first bar"),
        (
            {"2024-01-04": 3.0, "2024-01-08": 3.0},
            {"file": "rates.csv", "column": "rate"},
            DataError,
            r"gives 3 on 2024-01-05, outside \[-0\.2, 1\].*scale: 0\.01",
        ),
        ({"2024-01-04": 3.0}, {"extra": "irx"}, ConfigError, r"no extra series 'irx'"),
    ],
    ids=["missing-file", "ends-before-window", "nan-at-first-bar", "percent", "unknown-extra"],
)
def test_rate_series_failure_is_one_line_naming_the_setting(tmp_path, rows, setting, error, match):
    _rates(tmp_path, rows)
    path = config(tmp_path, _flat(), CASH, {"cash_rate": setting}, base="USD")
    with pytest.raises(error, match=match) as info:
        run(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:") and "portfolio.cash_rate: " in message


def test_cli_run_with_a_missing_rate_file_exits_2_with_one_line(tmp_path, capsys):
    path = config(tmp_path, _flat(), CASH, {"cash_rate": {"file": "nope.csv"}}, base="USD")
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.csv: file not found" in err[0]
