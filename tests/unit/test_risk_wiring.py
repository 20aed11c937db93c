"""From YAML to the kernel: the arrays a config's risk and liquidity settings put in
`KernelMarket`, sweeps over them, risk.csv and the report rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import engine
from engine import sweep as sw
from engine.cli import main
from engine.config import load_config
from engine.inputs import prepare_market, trailing_liquidity
from engine.kernel.sim_nb import METRIC_NAMES
from engine.pipeline import cost_arguments, load_market, prepare_kernel

SYMBOLS = {"hk": ["0700.HK", "9988.HK"], "us": ["QQQ"]}
BASE = {
    "name": "wired",
    "data": {"source": "synthetic", "symbols": SYMBOLS, "start": "2022-01-03", "end": "2022-12-30"},
    "strategy": {"name": "equal_weight"},
    "portfolio": {"init_cash": 1e6, "rebalance": "monthly", "lots": False},
}


def _write(tmp_path: Path, portfolio: dict, sweep: dict | None = None) -> Path:
    document = {**BASE, "portfolio": {**BASE["portfolio"], **portfolio}}
    if sweep is not None:
        document["sweep"] = sweep
    path = tmp_path / "wired.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


RISKY = {
    "participation": 0.05,
    "impact_window": 10,
    "limits": {
        "max_weight": {"default": 0.3, "QQQ": 0.2},
        "net": [-0.2, 0.5],
        "groups": {"hk": {"gross": 0.5, "net": [-0.1, 0.4]}},
    },
    "drawdown": {"trigger": 0.1, "fraction": 0.5, "recovery": 0.05},
    "stops": {"stop_loss": 0.15, "take_profit": {"default": 0.4, "QQQ": 0.25}},
    "costs": {"XHKG": {"half_spread": 0.0005, "impact": 1.0}},
}


def _direct(cfg, market):
    """`prepare_market` called by hand with what the spec says the settings mean."""
    sim = market.after_warmup()
    volume = market.volume.reindex(columns=market.symbols)
    sigma, adv = trailing_liquidity(market.close, volume, 10)
    inf = math.inf
    return prepare_market(
        sim.close,
        fx=sim.fx,
        currency=sim.currency,
        base_currency=sim.base_currency,
        **cost_arguments(cfg, market),
        volume=volume.loc[sim.index],
        participation=0.05,
        execution="close",
        impact={"0700.HK": 1.0, "9988.HK": 1.0, "QQQ": 0.0},
        impact_window=10,
        volatility=sigma.loc[sim.index],
        adv=adv.loc[sim.index],
        max_weight={"0700.HK": 0.3, "9988.HK": 0.3, "QQQ": 0.2},
        net_exposure=(-0.2, 0.5),
        group_limits={"hk": engine.inputs.GroupLimit(["0700.HK", "9988.HK"], 0.5, (-0.1, 0.4))},
        drawdown=engine.inputs.DrawdownRule(0.1, 0.5, 0.05),
        stop_loss=0.15,
        take_profit={"0700.HK": 0.4, "9988.HK": 0.4, "QQQ": 0.25},
    ), inf


def _same(a, b) -> None:
    assert set(vars(a)) == set(vars(b))
    for name, value in vars(a).items():
        other = vars(b)[name]
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, other, err_msg=name)
        elif isinstance(value, pd.Index):
            assert value.equals(other), name


def test_prepare_kernel_of_a_config_equals_prepare_market_given_the_settings_by_hand(tmp_path):
    cfg = load_config(_write(tmp_path, RISKY))
    market = load_market(cfg)
    kernel = prepare_kernel(cfg, market)
    expected, _ = _direct(cfg, market)
    _same(kernel, expected)


def test_sigma_and_adv_of_the_first_simulated_bars_come_from_the_warm_up(tmp_path):
    cfg = load_config(_write(tmp_path, {"costs": {"XHKG": {"impact": 1.0}}}))
    market = load_market(cfg)
    assert market.warmup_bars > 0
    sigma, adv = trailing_liquidity(market.close, market.volume, cfg.portfolio.impact_window)
    first = market.index[market.warmup_bars]
    assert np.isfinite(sigma.loc[first, "0700.HK"]) and np.isfinite(adv.loc[first, "0700.HK"])


def test_run_with_features_off_equals_the_run_without_the_settings_bit_for_bit(tmp_path):
    plain = engine.run(load_config(_write(tmp_path, {})))
    off = engine.run(load_config(_write(tmp_path, {"impact_window": 5, "half_spread": 0.0})))
    np.testing.assert_array_equal(plain.value.to_numpy(), off.value.to_numpy())


def test_sweep_over_limits_and_participation_equals_each_single_run(tmp_path):
    sweep = {
        "params": {
            "portfolio.limits.max_weight": [0.2, 0.3],
            "portfolio.participation": [0.0001, 1.0],
        }
    }
    path = _write(tmp_path, {"costs": {"XHKG": {"impact": 1.0}}}, sweep)
    config = load_config(path)
    payload, _, _, _ = sw.plan(config, load_market(config))
    assert len(payload.groups) == 4  # one set of kernel arrays per portfolio combination
    table = sw.run_sweep(config).table
    assert table["limits.max_weight"].nunique() == 2
    for _, row in table.iterrows():
        cap, share = row["limits.max_weight"], row["participation"]
        single = engine.run(
            load_config(
                path,
                [f"portfolio.limits.max_weight={cap}", f"portfolio.participation={share}"],
            )
        )
        for name in METRIC_NAMES:
            got, expected = row[name], single.metrics[name]
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-12, nan_ok=True), name
    # the limits bite: a 20% cap cuts more than a 30% cap, and 0.01% of volume holds back more
    by = table.set_index(["limits.max_weight", "participation"])
    assert by.loc[(0.2, 1.0), "cut_name"] > by.loc[(0.3, 1.0), "cut_name"]
    assert by.loc[(0.3, 0.0001), "unfilled"] > by.loc[(0.3, 1.0), "unfilled"]


def test_run_with_limits_writes_risk_csv_and_shows_the_rows_it_used(tmp_path, capsys):
    path = _write(tmp_path, {"limits": {"max_weight": 0.2}})
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--no-html"]) == 0
    printed = capsys.readouterr().out
    risk = pd.read_csv(out / "risk.csv", index_col="date", parse_dates=True)
    assert list(risk.columns) == [
        "cut_name", "cut_group", "cut_net", "cut_drawdown",
        "drawdown_cutting", "stop_losses", "take_profits", "unfilled",
    ]  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    # equal weight over 3 names is 1/3 each: the cap takes 1/3 - 0.2 a name off each row
    cut = risk["cut_name"][risk["cut_name"] > 0.0]
    assert len(cut) >= 10  # a row a month
    np.testing.assert_allclose(cut, 3 * (1 / 3 - 0.2), rtol=1e-12)
    assert metrics["cut_name"] == pytest.approx(cut.sum(), rel=1e-12)
    assert "Cut by name limits" in printed and "Stop-losses" not in printed
    manifest = json.loads((out / "run.json").read_text())
    assert "risk.csv" in manifest["files"]


def test_run_without_risk_features_writes_no_risk_csv_and_no_risk_rows(tmp_path, capsys):
    path = _write(tmp_path, {})
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--no-html"]) == 0
    printed = capsys.readouterr().out
    assert not (out / "risk.csv").exists()
    assert "Cut by name limits" not in printed and "Impact cost" not in printed
