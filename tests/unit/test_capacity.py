"""`eastwind capacity` and `engine.capacity`: one config at multiples of its initial cash."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import engine
import engine.backtest as backtest
from engine.capacity import COLUMNS, capacity, check_multipliers, parse_multipliers
from engine.cli import main
from engine.config import load_config
from engine.errors import ConfigError
from engine.report.capacity_table import CAPACITY_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"
FILES = ["capacity.csv", "capacity.html", "capacity.json", "run.json"]
# the metrics a capacity row copies from its run, and the run's metrics.json keys
COPIED = ["total_return", "cagr", "sharpe", "max_drawdown", "turnover", "shortfall", "n_trades"]
COPIED += ["fees", "taxes", "slippage", "fx_costs"]


def test_capacity_command_on_demo_writes_one_row_per_multiple(tmp_path, capsys):
    out = tmp_path / "cap"
    assert main(["capacity", str(DEMO), "--data", "synthetic", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "capacity" in printed and "SYNTHETIC DATA" in printed and "1000x" in printed
    assert sorted(p.name for p in out.iterdir()) == FILES
    table = pd.read_csv(out / "capacity.csv")
    assert list(table.columns) == list(COLUMNS)
    assert table["multiplier"].tolist() == [1.0, 10.0, 100.0, 1000.0]
    assert table["init_cash"].tolist() == [1e6, 1e7, 1e8, 1e9]  # exact: 1x .. 1000x of 1e6
    document = json.loads((out / "capacity.json").read_text())
    manifest = json.loads((out / "run.json").read_text())
    assert len(document["rows"]) == 4 and document["run_id"] == manifest["run_id"]
    assert manifest["command"] == "capacity" and manifest["multipliers"] == [1, 10, 100, 1000]
    page = (out / "capacity.html").read_text()
    assert 'id="chart-capacity"' in page and manifest["run_id"] in page
    assert '"type":"log"' in page  # the capital axis
    # total costs are the sum of their parts, and their bps are over the average value
    parts = table[["fees", "taxes", "slippage", "fx_costs", "impact"]].sum(axis=1)
    assert table["costs"].to_numpy() == pytest.approx(parts.to_numpy(), rel=1e-15)
    bps = 1e4 * table["costs"] / table["avg_value"]
    assert table["costs_bps"].to_numpy() == pytest.approx(bps.to_numpy(), rel=1e-15)


def test_capacity_1x_row_is_a_plain_run_bit_for_bit(tmp_path):
    config = load_config(DEMO, ["data.source=synthetic"])
    plain = engine.run(config)
    result = capacity(config, [10, 1])  # sorted: the 1x row comes first
    assert result.multipliers == (1.0, 10.0)
    row = result.table.iloc[0]
    for key in COPIED:
        assert row[key] == plain.metrics[key], key
    assert result.results[0].value.equals(plain.value)
    assert result.results[0].metrics == pytest.approx(plain.metrics, nan_ok=True, rel=0, abs=0)
    # the files agree too: capacity.csv and capacity.json against run's metrics.json
    assert main(["run", str(DEMO), "--data", "synthetic", "--out", str(tmp_path / "run")]) == 0
    out = tmp_path / "cap"
    assert main(["capacity", str(DEMO), "--data", "synthetic", "--multipliers", "1,10",
                 "--out", str(out), "--quiet"]) == 0  # fmt: skip
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())["metrics"]
    first = json.loads((out / "capacity.json").read_text())["rows"][0]
    csv_row = pd.read_csv(out / "capacity.csv").iloc[0]
    for key in COPIED:
        assert first[key] == metrics[key] and csv_row[key] == metrics[key], key


def test_capacity_loads_the_market_and_builds_targets_once(monkeypatch):
    calls = {"load_markets": 0, "build_targets": 0, "prepare_kernel": 0}
    for name in calls:
        original = getattr(backtest, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(backtest, name, counted)
    seen = []
    config = load_config(DEMO, ["data.source=synthetic", "data.start=2024-01-01"])
    result = capacity(config, [1, 10, 100], progress=lambda i, m: seen.append((i, m)))
    assert calls == {"load_markets": 1, "build_targets": 1, "prepare_kernel": 1}
    assert seen == [(1, 1.0), (2, 10.0), (3, 100.0)]
    assert [r.config.portfolio.init_cash for r in result.results] == [1e6, 1e7, 1e8]


def _flat_market(folder: Path) -> Path:
    """One asset at a flat 10.00 for five days, bought once at half the book."""
    days = pd.bdate_range("2024-01-02", periods=5)
    pd.DataFrame({"date": days.date, "close": 10.0}).to_csv(folder / "AAA.csv", index=False)
    path = folder / "flat.yaml"
    path.write_text(
        "name: flat\n"
        f"data: {{source: csv, path: ., symbols: [AAA], start: {days[0].date()},\n"
        f"       end: {days[-1].date()}}}\n"
        "strategy: {name: buy_and_hold, params: {weights: {AAA: 0.5}}}\n"
        "portfolio: {init_cash: 1000, lots: false, fees: {rate: 0, minimum: 5}, slippage: 0}\n"
        "report: {bootstrap: {samples: 0}}\n"
    )
    return path


def test_capacity_with_a_minimum_fee_costs_fewer_bps_on_a_bigger_book(tmp_path):
    # Bar 0 holds cash; bar 1 buys half the book at 10.00 and pays the minimum fee of 5
    # whatever the size (rate 0), then nothing moves: the value is cash - 5 from bar 1 on.
    result = capacity(_flat_market(tmp_path), [1, 10])
    table = result.table.set_index("multiplier")
    assert table["n_trades"].tolist() == [1.0, 1.0]
    assert table["costs"].tolist() == [5.0, 5.0]
    assert table.at[1.0, "avg_value"] == pytest.approx((1000 + 4 * 995) / 5, rel=1e-15)
    assert table.at[10.0, "avg_value"] == pytest.approx((10_000 + 4 * 9995) / 5, rel=1e-15)
    assert table.at[1.0, "costs_bps"] == pytest.approx(5 / 996 * 1e4, rel=1e-12)  # 50.2
    assert table.at[10.0, "costs_bps"] == pytest.approx(5 / 9996 * 1e4, rel=1e-12)  # 5.0
    assert table.at[10.0, "costs_bps"] < table.at[1.0, "costs_bps"]
    assert table["total_return"].tolist() == pytest.approx([-5 / 1000, -5 / 10_000], rel=1e-12)


_FRAMES = ("volume", "volatility", "adv")  # given as one number, put on every bar


def _with_liquidity(monkeypatch, **rules):
    """Simulate the flat market with `rules` (prepare_market's liquidity arguments) and no
    fees: until the config wires them, the kernel's arrays are built here."""
    from engine.inputs import prepare_market

    def kernel(config, history):
        market = history.after_warmup()
        bars = {"index": market.close.index, "columns": market.close.columns}
        given = {k: pd.DataFrame(v, **bars) if k in _FRAMES else v for k, v in rules.items()}
        return prepare_market(
            market.close,
            fx=market.fx,
            currency=market.currency,
            base_currency=market.base_currency,
            **given,
        )

    monkeypatch.setattr(backtest, "prepare_kernel", kernel)


def test_capacity_unfilled_counts_what_the_participation_cap_held_back(tmp_path, monkeypatch):
    # 100 shares trade a bar and the cap is 10%: 10 shares a bar. 1x wants 50 shares, so
    # bars 1-4 hold back 40, 30, 20, 10 shares at 10.00; 10x wants 500: 490 .. 460.
    _with_liquidity(monkeypatch, volume=100.0, participation=0.1)
    result = capacity(_flat_market(tmp_path), [1, 10], set=["portfolio.fees.minimum=0"])
    table = result.table.set_index("multiplier")
    assert table["unfilled"].tolist() == [
        (40 + 30 + 20 + 10) * 10.0,
        (490 + 480 + 470 + 460) * 10.0,
    ]
    assert table["unfilled_bars"].tolist() == [4.0, 4.0]
    # the value stays at the cash, so the book's share waiting is unfilled / (cash x 5 bars)
    assert table["unfilled_share"].to_numpy() == pytest.approx([0.2, 0.38], rel=1e-12)
    assert table["n_trades"].tolist() == [4.0, 4.0]
    assert table["costs"].tolist() == [0.0, 0.0]


def test_capacity_square_root_impact_costs_more_bps_on_a_bigger_book(tmp_path, monkeypatch):
    # k = 1, sigma 2%, ADV 1000 shares: a buy of q shares at 10.00 pays the fraction
    # 0.02 / sqrt(1000) * sqrt(q), i.e. 10 * q * 0.02 * sqrt(q / 1000) in all.
    _with_liquidity(monkeypatch, impact=1.0, volatility=0.02, adv=1000.0)
    result = capacity(_flat_market(tmp_path), [1, 10], set=["portfolio.fees.minimum=0"])
    table = result.table.set_index("multiplier")
    paid = [10.0 * q * 0.02 * (q / 1000.0) ** 0.5 for q in (50.0, 500.0)]  # 2.24, 70.7
    assert table["impact"].to_numpy() == pytest.approx(paid, rel=1e-12)
    assert table["costs"].to_numpy() == pytest.approx(paid, rel=1e-12)
    cash = [1000.0, 10_000.0]
    average = [(c + 4 * (c - p)) / 5 for c, p in zip(cash, paid, strict=True)]
    assert table["avg_value"].to_numpy() == pytest.approx(average, rel=1e-12)
    bps = [1e4 * p / a for p, a in zip(paid, average, strict=True)]  # 22.4, 71.2
    assert table["impact_bps"].to_numpy() == pytest.approx(bps, rel=1e-12)
    assert table.at[10.0, "impact_bps"] > 3 * table.at[1.0, "impact_bps"]  # about sqrt(10)


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ("0", "multiplier 0 is not a positive number"),
        ("1,-10", "multiplier -10 is not a positive number"),
        ("1,ten", "--multipliers: 'ten' is not a number"),
        ("1,,10", "--multipliers: '' is not a number"),
        ("nan", "multiplier nan is not a positive number"),
        ("1,1e10", "multiplier 1e+10: 1e+10 x portfolio.init_cash 1,000,000 = 1e+16, over"),
        ("10,10", "multiplier 10 is given twice"),
    ],
)
def test_capacity_with_bad_multipliers_exits_2_with_one_line_and_writes_nothing(
    tmp_path, capsys, given, named
):
    out = tmp_path / "cap"
    argv = ["capacity", str(DEMO), "--data", "synthetic", f"--multipliers={given}"]
    assert main([*argv, "--out", str(out)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ConfigError: "), lines
    assert named in lines[0]
    assert not out.exists()


def test_capacity_cap_names_the_setting_it_multiplies():
    config = load_config(DEMO)
    with pytest.raises(ConfigError, match=r"demo\.yaml:\d+: portfolio\.init_cash"):
        check_multipliers([1, 1e9 + 1], config)
    assert check_multipliers([1e9], config) == (1e9,)  # exactly the cap is allowed


def test_multipliers_come_back_ascending_and_parsed_as_given():
    assert parse_multipliers("100, 1,10") == (100.0, 1.0, 10.0)
    assert check_multipliers((100.0, 1.0, 10.0), load_config(DEMO)) == (1.0, 10.0, 100.0)
    with pytest.raises(ConfigError, match="none given"):
        check_multipliers([], load_config(DEMO))


def test_every_capacity_column_has_one_display_spec_in_order():
    assert [c.key for c in CAPACITY_COLUMNS] == list(COLUMNS)


def test_capacity_html_in_headless_chromium_renders_its_chart_offline(tmp_path):
    from tests.unit.test_report import _open_in_chromium

    out = tmp_path / "cap"
    argv = ["capacity", str(DEMO), "--data", "synthetic", "--multipliers", "1,10"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    seen = _open_in_chromium(out / "capacity.html", {"chart-capacity"})
    assert seen["rendered"] == ["chart-capacity"]
    assert seen["errors"] == []
    assert seen["requests"] == [(out / "capacity.html").as_uri()]  # nothing from the network
