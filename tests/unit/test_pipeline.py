"""The one pipeline: strategy lookup, declared parameters of user strategies, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import engine
from engine import sweep as sw
from engine.config import load_config
from engine.errors import ConfigError, StrategyError
from engine.pipeline import resolve_strategy

TYPED = '''
import pandas as pd


def weights(market, n: int = 2, scale: float = 1.0):
    """Equal weight over n assets' worth of gross, times scale."""
    return pd.DataFrame(scale / n, index=market.index, columns=market.close.columns)
'''

MODEL = """
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(default=2, ge=1)


def weights(market, params: Params):
    return pd.DataFrame(1.0 / params.n, index=market.index, columns=market.close.columns)
"""

BASE = {
    "name": "user",
    "data": {
        "source": "synthetic",
        "symbols": ["AAPL", "MSFT"],
        "start": "2021-01-01",
        "end": "2021-06-30",
    },
}


def _config(tmp_path: Path, source: str, strategy: dict, sweep: dict | None = None) -> Path:
    # one module name per test: Python caches an imported module by name
    module = f"mine_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(source)
    strategy = {**strategy, "name": strategy["name"].replace("mine:", f"{module}:")}
    document = {**BASE, "strategy": strategy, **({"sweep": sweep} if sweep else {})}
    path = tmp_path / "user.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.mark.parametrize("source", [TYPED, MODEL], ids=["typed", "model"])
def test_sweep_of_user_strategy_with_misspelt_swept_name_is_an_error(tmp_path, source):
    path = _config(
        tmp_path, source, {"name": "mine:weights"}, {"params": {"strategy.params.nn": [1, 2]}}
    )
    with pytest.raises(ConfigError, match=r"has no parameter 'nn'; did you mean 'n'\?"):
        sw.run_sweep(load_config(path))


@pytest.mark.parametrize("source", [TYPED, MODEL], ids=["typed", "model"])
def test_run_of_user_strategy_with_misspelt_param_names_its_yaml_path(tmp_path, source):
    path = _config(tmp_path, source, {"name": "mine:weights", "params": {"nn": 3}})
    with pytest.raises(ConfigError, match=r"user\.yaml:\d+: strategy\.params\.nn: Extra inputs"):
        engine.run(load_config(path))


def test_sweep_of_typed_user_strategy_gives_each_set_its_own_values(tmp_path):
    path = _config(
        tmp_path,
        TYPED,
        {"name": "mine:weights"},
        {"params": {"strategy.params.n": [2, 4], "strategy.params.scale": [0.5, 1.0]}},
    )
    table = sw.run_sweep(load_config(path)).table
    assert (table["status"] == sw.ROW_OK).all()
    ok = table.set_index(["n", "scale"])["avg_gross_exposure"]
    # gross scale/n per asset on two assets: half as much exposure with n = 4 or scale 0.5
    np.testing.assert_allclose(ok.loc[(4, 1.0)], ok.loc[(2, 1.0)] / 2, rtol=0.02)
    np.testing.assert_allclose(ok.loc[(2, 0.5)], ok.loc[(2, 1.0)] / 2, rtol=0.02)


def test_sweep_of_typed_user_strategy_with_a_value_of_the_wrong_type_stops_first(tmp_path):
    path = _config(
        tmp_path,
        TYPED,
        {"name": "mine:weights"},
        {"params": {"strategy.params.n": [2, 4], "strategy.params.scale": ["x", 1.0]}},
    )
    with pytest.raises(
        ConfigError, match=r"sweep\.params\.strategy\.params\.scale\.0: 'x' is not a valid"
    ):
        sw.run_sweep(load_config(path))


def test_resolve_strategy_with_misspelt_name_suggests_before_loading_data(tmp_path):
    document = {**BASE, "strategy": {"name": "trnd"}, "sweep": {"params": {"portfolio.lag": [1]}}}
    document["data"] = {**BASE["data"], "source": "csv", "path": "no/such/folder"}
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(document))
    for call in (engine.run, sw.run_sweep):
        with pytest.raises(ConfigError, match=r"unknown strategy 'trnd'; did you mean 'trend'\?"):
            call(load_config(path))


def test_strategy_error_with_location_names_file_line_and_param(tmp_path):
    document = {
        **BASE,
        "strategy": {"name": "long_short", "params": {"long": ["AAPL"], "short": ["AAPL"]}},
    }
    path = tmp_path / "overlap.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(StrategyError, match=r"overlap\.yaml:\d+: strategy\.params: \['AAPL'\]"):
        engine.run(load_config(path))


def test_resolve_strategy_with_star_kwargs_function_is_a_config_error(tmp_path):
    path = _config(
        tmp_path, "def weights(market, **params):\n    return None\n", {"name": "mine:weights"}
    )
    with pytest.raises(ConfigError, match=r"cannot take \*args or \*\*kwargs"):
        resolve_strategy(load_config(path))


def test_declared_params_with_one_typed_positional_parameter_is_a_typed_signature(tmp_path):
    source = "def weights(market, n: int):\n    return None\n"
    strategy = resolve_strategy(load_config(_config(tmp_path, source, {"name": "mine:weights"})))
    assert strategy.param_names == {"n"}
    legacy = "def weights(market, params: dict):\n    return None\n"
    other = tmp_path / "legacy"
    other.mkdir()
    strategy = resolve_strategy(load_config(_config(other, legacy, {"name": "mine:weights"})))
    assert strategy.param_names is None


def _fixed(tmp_path: Path, weights: dict, portfolio: dict | None = None, **extra) -> Path:
    document = {
        **BASE,
        "strategy": {"name": "fixed_weights", "params": {"weights": weights}},
        "portfolio": portfolio or {},
        **extra,
    }
    path = tmp_path / "fixed.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("weights", "gross"),
    [({"AAPL": 50.0}, "50"), ({"AAPL": 6.0, "MSFT": -5.0}, "11"), ({"AAPL": 1e300}, "1e\\+300")],
)
def test_run_with_gross_above_max_gross_names_the_date_the_gross_and_the_setting(
    tmp_path, weights, gross
):
    path = _fixed(tmp_path, weights)
    market = engine.load_market(load_config(path))
    # fixed_weights decides every month, lag 1: the first fill is decided on the last
    # bar before data.start, the last bar of the warm-up history
    decided = market.index[market.warmup_bars - 1].date()
    with pytest.raises(
        StrategyError,
        match=rf"fixed\.yaml(:\d+)?: portfolio\.max_gross: strategy 'fixed_weights' asks for gross "
        rf"exposure {gross} on {decided} \(the sum of \|weights\|\), above portfolio\.max_gross "
        r"= 10",
    ):
        engine.run(load_config(path))


def test_run_with_gross_above_max_leverage_names_max_leverage(tmp_path):
    path = _fixed(tmp_path, {"AAPL": 2.0, "MSFT": -1.0}, {"max_leverage": 2.5})
    with pytest.raises(
        StrategyError,
        match=r"fixed\.yaml:\d+: portfolio\.max_leverage: .*gross exposure 3 on .*above "
        r"portfolio\.max_leverage = 2\.5; set portfolio\.max_leverage to 3 or more",
    ):
        engine.run(load_config(path))


def test_run_with_gross_at_the_limit_or_a_raised_max_gross_runs(tmp_path):
    assert engine.run(load_config(_fixed(tmp_path, {"AAPL": 5.0, "MSFT": 5.0}))).metrics
    raised = _fixed(tmp_path, {"AAPL": 12.0}, {"max_gross": 12})
    assert engine.run(load_config(raised)).metrics


def test_sweep_with_one_set_above_max_gross_marks_that_row_invalid_with_the_reason(tmp_path):
    sweep = {"params": {"strategy.params.weights": [{"AAPL": 1.0}, {"AAPL": 50.0}]}}
    table = sw.run_sweep(load_config(_fixed(tmp_path, {}, sweep=sweep))).table
    assert list(table["status"]) == [sw.ROW_OK, sw.ROW_INVALID]
    assert "asks for gross exposure 50 on" in table.loc[1, "reason"]
    assert np.isnan(table.loc[1, "sharpe"])
