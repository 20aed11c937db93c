"""The risk and liquidity settings of the config: schema errors (one line through the
CLI, exit 2, naming the YAML path), per-asset resolution of limits, stops, half-spread
and impact, and what `engine.risk_inputs` hands `prepare_market`."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from engine.cli import main
from engine.config import load_config
from engine.config.risk import per_symbol
from engine.errors import ConfigError
from engine.pipeline import cost_arguments, load_market
from engine.risk_inputs import liquidity_arguments, risk_arguments

GROUPED = {
    "name": "risk",
    "data": {
        "symbols": {"hk": ["0700.HK", "9988.HK"], "us": ["QQQ"]},
        "start": "2023-01-02",
        "end": "2023-06-30",
    },
    "strategy": {"name": "equal_weight"},
}


def _config(tmp_path: Path, portfolio: dict, symbols: object = None) -> Path:
    document = {**GROUPED, "portfolio": portfolio}
    if symbols is not None:
        document = {**document, "data": {**GROUPED["data"], "symbols": symbols}}
    path = tmp_path / "risk.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(
    ("portfolio", "symbols", "match"),
    [
        (
            {"limits": {"net": [0.1, 0.3]}},
            None,
            r"risk\.yaml:\d+: portfolio\.limits\.net: \[0\.1, 0\.3\] must contain 0",
        ),
        (
            {"limits": {"groups": {"hk": {"net": [-0.2, -0.1]}}}},
            None,
            r"portfolio\.limits\.groups\.hk\.net: \[-0\.2, -0\.1\] must contain 0",
        ),
        (
            {"limits": {"groups": {"tech": {"gross": 1.0}}}},
            None,
            r"risk\.yaml:\d+: portfolio\.limits\.groups\.tech: unknown group 'tech'; the "
            r"groups of data\.symbols are: hk, us$",
        ),
        (
            {"limits": {"groups": {"hk": {"gross": 1.0}}}},
            ["0700.HK", "QQQ"],
            r"portfolio\.limits\.groups\.hk: unknown group 'hk'; the groups of data\.symbols "
            r"are: none: data\.symbols is a list",
        ),
        (
            {"limits": {"max_weight": {"0700.HK": 0.2, "AAPL": 0.1}}},
            None,
            r"portfolio\.limits\.max_weight\.AAPL: 'AAPL' is not in data\.symbols "
            r"\(0700\.HK, 9988\.HK, QQQ\)",
        ),
        (
            {"stops": {"stop_loss": {"default": 0.1, "MSFT": 0.2}}},
            None,
            r"portfolio\.stops\.stop_loss\.MSFT: 'MSFT' is not in data\.symbols",
        ),
        ({"limits": {"max_weight": 0}}, None, r"portfolio\.limits\.max_weight"),
        ({"participation": 1.5}, None, r"portfolio\.participation: Input should be less"),
        ({"participation": 0}, None, r"portfolio\.participation: Input should be greater"),
        ({"impact_window": 1}, None, r"portfolio\.impact_window: Input should be greater"),
        (
            {"costs": {"XHKG": {"impact": -0.5}}},
            None,
            r"portfolio\.costs\.XHKG\.impact: Input should be greater than or equal to 0",
        ),
        (
            {"costs": {"XHKG": {"half_spread": 0.5}}},
            None,
            r"portfolio\.costs\.XHKG\.half_spread: Input should be less than or equal to 0\.2",
        ),
        (
            {"drawdown": {"trigger": 1.2, "fraction": 0.5, "recovery": 0.1}},
            None,
            r"portfolio\.drawdown\.trigger: Input should be less than 1",
        ),
        (
            {"drawdown": {"trigger": 0.2, "fraction": 1.0, "recovery": 0.1}},
            None,
            r"portfolio\.drawdown\.fraction: Input should be less than 1",
        ),
        ({"stops": {}}, None, r"portfolio\.stops: give stop_loss, take_profit or both"),
        ({"stops": {"stop_loss": -0.1}}, None, r"portfolio\.stops\.stop_loss"),
        ({"limits": {"max_weigth": 0.2}}, None, r"portfolio\.limits\.max_weigth: Extra inputs"),
    ],
)
def test_bad_risk_setting_exits_2_with_one_line_naming_its_yaml_path(
    tmp_path, capsys, portfolio, symbols, match
):
    path = _config(tmp_path, portfolio, symbols)
    code = main(["validate", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert re.search(match, err.removeprefix("ConfigError: ")), err


def test_per_symbol_with_number_mapping_default_and_none_resolves_each_symbol():
    symbols = ["A", "B", "C"]
    assert per_symbol(0.2, symbols) == {"A": 0.2, "B": 0.2, "C": 0.2}
    assert per_symbol({"B": 0.1, "default": 0.3}, symbols) == {"A": 0.3, "B": 0.1, "C": 0.3}
    assert per_symbol({"B": 0.1}, symbols) == {"A": math.inf, "B": 0.1, "C": math.inf}
    assert per_symbol(None, symbols) == dict.fromkeys(symbols, math.inf)


def test_risk_arguments_with_no_risk_settings_is_empty(tmp_path):
    assert risk_arguments(load_config(_config(tmp_path, {}))) == {}


def test_risk_arguments_resolve_max_weight_stops_and_net_band_per_asset(tmp_path):
    portfolio = {
        "limits": {"max_weight": {"default": 0.3, "QQQ": 0.5}, "net": [-0.1, 0.2]},
        "stops": {"stop_loss": 0.1, "take_profit": {"9988.HK": 0.25}},
    }
    arguments = risk_arguments(load_config(_config(tmp_path, portfolio)))
    assert arguments == {
        "max_weight": {"0700.HK": 0.3, "9988.HK": 0.3, "QQQ": 0.5},
        "net_exposure": (-0.1, 0.2),
        "stop_loss": {"0700.HK": 0.1, "9988.HK": 0.1, "QQQ": 0.1},
        "take_profit": {"0700.HK": math.inf, "9988.HK": 0.25, "QQQ": math.inf},
    }


def test_half_spread_and_impact_resolve_per_market_like_slippage(tmp_path):
    portfolio = {
        "slippage": 0.0005,
        "half_spread": 0.0001,  # every asset
        "costs": {
            "XHKG": {"half_spread": {"2023-01-01": 0.0005, "2023-04-03": 0.0008}, "impact": 1.0},
            "9988.HK": {"impact": 0.5},
        },
    }
    cfg = load_config(_config(tmp_path, portfolio))
    market = load_market(cfg)
    costs = cost_arguments(cfg, market)
    spread = costs["half_spread"]  # a schedule that changes in the run: a dated frame
    assert isinstance(spread, pd.DataFrame)
    assert spread.loc[spread.index[0]].to_dict() == {
        "0700.HK": 0.0005,
        "9988.HK": 0.0005,
        "QQQ": 0.0001,
    }
    assert spread.iloc[-1]["0700.HK"] == 0.0008 and spread.iloc[-1]["QQQ"] == 0.0001
    assert costs["slippage"] == dict.fromkeys(["0700.HK", "9988.HK", "QQQ"], 0.0005)
    impact = {
        s: cfg.portfolio.asset_costs(s, market.exchange[s], market.currency[s]).impact
        for s in market.symbols
    }
    assert impact == {"0700.HK": 1.0, "9988.HK": 0.5, "QQQ": 0.0}
    assert cfg.portfolio.cost_origin("9988.HK", "XHKG", "HKD", ("impact",)) == (
        "portfolio",
        "costs",
        "9988.HK",
        "impact",
    )


def test_liquidity_arguments_are_empty_when_participation_and_impact_are_off(tmp_path):
    cfg = load_config(_config(tmp_path, {"costs": {"XHKG": {"half_spread": 0.001}}}))
    assert liquidity_arguments(cfg, load_market(cfg)) == {}


@pytest.mark.parametrize(
    ("portfolio", "setting"),
    [
        ({"participation": 0.1}, r"portfolio\.participation: AAPL has no volume in csv"),
        (
            {"costs": {"QQQ": {"impact": 1.0}}},
            r"portfolio\.costs\.QQQ\.impact: QQQ has no volume in csv",
        ),
    ],
)
def test_participation_or_impact_without_volume_names_the_setting_and_symbol(
    tmp_path, portfolio, setting
):
    days = pd.bdate_range("2023-01-02", "2023-03-31")
    folder = tmp_path / "prices"
    folder.mkdir()
    for symbol, price in (("AAPL", 150.0), ("QQQ", 280.0)):
        frame = pd.DataFrame({"date": days, "close": price * np.linspace(1.0, 1.1, len(days))})
        frame.to_csv(folder / f"{symbol}.csv", index=False)
    document = {
        "name": "novolume",
        "data": {
            "source": "csv",
            "path": "prices",
            "symbols": ["AAPL", "QQQ"],
            "start": "2023-01-02",
            "end": "2023-03-31",
        },
        "strategy": {"name": "equal_weight"},
        "portfolio": portfolio,
    }
    path = tmp_path / "novolume.yaml"
    path.write_text(yaml.safe_dump(document))
    cfg = load_config(path)
    with pytest.raises(ConfigError, match=setting):
        liquidity_arguments(cfg, load_market(cfg))
