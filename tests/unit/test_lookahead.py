"""The look-ahead guard: a weight at bar t that changes with data after t is caught,
named by symbol and bar; honest strategies pass; the CLI exits 1 on a peek."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from engine.cli import main
from engine.data import synthetic_market
from engine.lookahead import find_lookahead, sample_cuts
from engine.pipeline import ResolvedStrategy

MARKET = synthetic_market(["AAPL", "MSFT", "QQQ"], "2022-01-03", "2022-06-30", seed=3)


def _user(function) -> ResolvedStrategy:
    def compute_many(market, params):
        return np.stack([function(market).to_numpy(dtype=float) for _ in params])

    return ResolvedStrategy("user", None, "daily", compute_many, lambda _: 1)


def _peek(shift: int):
    def weights(market):
        ahead = market.close.shift(-shift) / market.close - 1.0
        return (ahead > 0).astype(float).where(ahead.notna()) / 3.0

    return weights


def _whole_sample_zscore(market):
    returns = market.close.pct_change()
    z = (returns - returns.mean()) / returns.std()  # the mean of every bar, future ones too
    return (z > 0).astype(float) / 3.0


def _honest(market):
    fast = market.close.rolling(5).mean()
    slow = market.close.rolling(20).mean()
    return (fast > slow).astype(float).where(slow.notna()) / 3.0


@pytest.mark.parametrize("shift", [1, 2, 10])
def test_strategy_reading_bars_ahead_is_caught_at_the_first_bar_it_peeks(shift):
    found = find_lookahead(_user(_peek(shift)), MARKET, {})
    assert found is not None
    cuts = [MARKET.index[c] for c in sample_cuts(len(MARKET.index))]
    # the first cut sees the peek on the bars within `shift` of it
    first_cut = cuts[0]
    assert first_cut - pd.Timedelta(days=3 * shift + 5) <= found.bar <= first_cut
    assert found.symbol in MARKET.symbols
    assert "reads data after its bar" in str(found)


def test_whole_sample_statistic_is_caught():
    assert find_lookahead(_user(_whole_sample_zscore), MARKET, {}) is not None


def test_honest_rolling_strategy_passes():
    assert find_lookahead(_user(_honest), MARKET, {}) is None


def test_sample_cuts_spread_over_the_span_and_include_the_last_bars():
    cuts = sample_cuts(100, count=5)
    assert cuts[0] == 0 and cuts[-2:] == [97, 98]
    assert cuts == sorted(set(cuts))
    assert sample_cuts(1) == []


PEEK = """
def weights(market):
    ahead = market.close.shift(-2) / market.close - 1.0
    return (ahead > 0).astype(float) / market.close.shape[1]
"""


def _configs(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "peek.py").write_text(PEEK)
    data = {"symbols": ["AAPL", "MSFT"], "start": "2022-01-03", "end": "2022-06-30"}
    peek, honest = tmp_path / "peek.yaml", tmp_path / "honest.yaml"
    peek.write_text(
        yaml.safe_dump({"name": "p", "data": data, "strategy": {"name": "peek:weights"}})
    )
    document = {
        "name": "h",
        "data": data,
        "strategy": {"name": "trend", "params": {"slow": 20, "fast": 5}},
    }
    honest.write_text(yaml.safe_dump(document))
    return peek, honest


def test_validate_lookahead_exits_1_naming_the_symbol_and_bar(tmp_path, capsys):
    peek, honest = _configs(tmp_path)
    assert main(["validate", "--lookahead", str(honest)]) == 0
    assert "no look-ahead found" in capsys.readouterr().out
    assert main(["validate", "--lookahead", str(peek)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith(f"{peek}: look-ahead: the weight of ")


def test_run_lookahead_stops_before_running_a_peeking_strategy(tmp_path, capsys):
    peek, _ = _configs(tmp_path)
    out = tmp_path / "out"
    assert main(["run", "--lookahead", str(peek), "--out", str(out)]) == 1
    assert not out.exists()
    assert "look-ahead" in capsys.readouterr().err
