"""Changing a config in code: `RunConfig.with_updates` and `override_config` validate again."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.config import override_config

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"


@pytest.fixture(scope="module")
def config_path() -> Path:
    return DEMO


def test_with_updates_validates_and_keeps_other_settings(config_path):
    config = engine.load_config(config_path)
    updated = config.with_updates({"portfolio.fees.rate": 0.002, "portfolio.lag": 2})
    assert (updated.portfolio.fees.rate, updated.portfolio.lag) == (0.002, 2)
    assert updated.portfolio.slippage == config.portfolio.slippage
    assert updated.path == config.path
    with pytest.raises(engine.ConfigError, match=r"portfolio\.lag"):
        config.with_updates({"portfolio.lag": "soon"})
    with pytest.raises(engine.ConfigError, match=r"portfolio\.no_such_setting"):
        config.with_updates({"portfolio.no_such_setting": 1})


def test_model_copy_skips_validation_and_with_updates_does_not():
    config = engine.load_config(DEMO)
    fees = config.portfolio.fees
    unchecked = fees.model_copy(update={"rate": -5.0})  # pydantic does not check this
    assert unchecked.rate == -5.0
    with pytest.raises(engine.ConfigError, match=r"portfolio\.fees\.rate"):
        config.with_updates({"portfolio.fees.rate": -5.0})


def test_override_config_reads_values_as_yaml_like_set():
    config = engine.load_config(DEMO)
    updated = override_config(config, ["portfolio.fees.rate=2e-3", "benchmark=SPY"])
    assert updated.portfolio.fees.rate == 0.002
    assert updated.benchmark is not None and updated.benchmark.symbols == ["SPY"]
    with pytest.raises(engine.ConfigError, match="KEY=VALUE"):
        override_config(config, ["portfolio.fees.rate"])
