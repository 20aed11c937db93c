"""Config loading: good files load; every bad one names the file and the YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.config import load_config, validate_strategy_params
from engine.errors import ConfigError
from strategies import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
MODELS = {name: cls.params_model for name, cls in REGISTRY.items()}
GOOD = {
    "name": "t",
    "data": {"symbols": ["AAPL"], "start": "2020-01-01", "end": "2020-12-31"},
    "strategy": {"name": "equal_weight", "params": {"rebalance": "weekly"}},
    "portfolio": {"fees": 0.001},
}


def _write(tmp_path: Path, document: object, name: str = "case.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document) if not isinstance(document, str) else document)
    return path


def _with(section: str, key: str, value: object) -> dict:
    document = {k: (dict(v) if isinstance(v, dict) else v) for k, v in GOOD.items()}
    document.setdefault(section, {})[key] = value
    return document


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_load_config_with_example_file_validates(path):
    config = load_config(path)
    validate_strategy_params(config, MODELS)


def test_load_config_without_name_uses_file_stem(tmp_path):
    document = {k: v for k, v in GOOD.items() if k != "name"}
    assert load_config(_write(tmp_path, document, "my_run.yaml")).name == "my_run"


@pytest.mark.parametrize(
    ("document", "match"),
    [
        (_with("portfolio", "fees", -0.01), r"portfolio\.fees: .*greater than or equal to 0"),
        (_with("portfolio", "fee", 0.01), r"portfolio\.fee: Extra inputs are not permitted"),
        (_with("portfolio", "lag", "one"), r"portfolio\.lag: .*valid integer"),
        (_with("portfolio", "max_leverage", 0), r"portfolio\.max_leverage: .*greater than 0"),
        (_with("portfolio", "execution", "vwap"), r"portfolio\.execution: .*'close' or 'open'"),
        (_with("data", "end", "2019-01-01"), r"data: .*end 2019-01-01 is before start"),
        (_with("data", "symbols", []), r"data\.symbols: .*at least 1"),
        (_with("data", "start", "yesterday"), r"data\.start: .*valid date"),
        (_with("data", "source", "bloomberg"), r"data\.source: .*'synthetic'"),
        ({k: v for k, v in GOOD.items() if k != "strategy"}, r"strategy: Field required"),
        ({**GOOD, "universe": ["AAPL"]}, r"universe: Extra inputs are not permitted"),
        ("- just\n- a list\n", r"must hold a mapping"),
        ("data: [unclosed\n", r"line 2"),
        ("", r"the file is empty"),
    ],
)
def test_load_config_with_bad_setting_raises_config_error_naming_path(tmp_path, document, match):
    path = _write(tmp_path, document)
    with pytest.raises(ConfigError, match=match) as info:
        load_config(path)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_load_config_with_missing_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found"):
        load_config(tmp_path / "nope.yaml")


def test_validate_strategy_params_with_typo_suggests_close_match(tmp_path):
    config = load_config(_write(tmp_path, {**GOOD, "strategy": {"name": "equal_wieght"}}))
    with pytest.raises(ConfigError, match=r"strategy\.name: .*did you mean 'equal_weight'"):
        validate_strategy_params(config, MODELS)


def test_validate_strategy_params_with_bad_param_locates_it_under_strategy_params(tmp_path):
    document = {**GOOD, "strategy": {"name": "equal_weight", "params": {"rebalance": "hourly"}}}
    config = load_config(_write(tmp_path, document))
    with pytest.raises(ConfigError, match=r"strategy\.params\.rebalance: "):
        validate_strategy_params(config, MODELS)
