"""Warm-up history before data.start: counted in each exchange's sessions, seen by the
strategy and not by the simulation; late listings warn, sources cut short fail."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import engine
from engine.config import load_config
from engine.data.calendars import sessions
from engine.data.warmup import Warmup, history_start, load_start, parse_span
from engine.errors import DataError, DataWarning
from engine.pipeline import (
    build_targets,
    gross_limit,
    load_markets,
    resolve_strategy,
    schedule_of,
    strategy_params,
    warmup_of,
)
from strategies import REGISTRY
from tests.unit.test_strategies import EXAMPLES, SYMBOLS

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "data" / "real"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="shared real data not present")


def _write(folder: Path, document: dict, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _synthetic(name: str, **data: object) -> dict:
    return {
        "name": f"warm_{name}",
        "data": {
            "source": "synthetic",
            "symbols": {"hk": SYMBOLS[2:], "us": SYMBOLS[:2]},
            "start": "2021-06-01",
            "end": "2021-12-31",
            "seed": 11,
            **data,
        },
        "strategy": {"name": name, "params": EXAMPLES[name]},
    }


def _first_targets(config: engine.RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """The targets of the first simulated bar, and whether each asset ever gets one."""
    strategy = resolve_strategy(config)
    params = strategy_params(config, strategy)
    market, _ = load_markets(config)
    targets, _, reasons = build_targets(
        strategy,
        market,
        [params],
        schedule=schedule_of(config, strategy),
        lag=config.portfolio.lag,
        where=config.where,
        max_gross=gross_limit(config.portfolio),
    )
    assert reasons == [None]
    return targets[0, 0], ~np.isnan(targets[0]).all(axis=0)


# --- counting the warm-up -------------------------------------------------------------


def test_history_start_counts_each_exchanges_own_sessions():
    start = pd.Timestamp("2024-01-02")
    # XNYS: 22, 26, 27, 28, 29 December; XHKG is shut on 25 and 26 December
    assert history_start(start, 5, "XNYS") == pd.Timestamp("2023-12-22")
    assert history_start(start, 5, "XHKG") == pd.Timestamp("2023-12-21")
    assert load_start(start, Warmup(5, 5), ["XNYS", "XHKG"]) == pd.Timestamp("2023-12-21")
    assert history_start(start, 0, "XHKG") == start


def test_history_start_of_unknown_exchange_counts_weekdays():
    assert history_start(pd.Timestamp("2024-01-08"), 5, "XXXX") == pd.Timestamp("2024-01-01")


def test_warmup_of_a_strategy_is_its_history_before_the_decision_bar_plus_the_lag():
    assert Warmup.of(None, history=200, lag=1) == Warmup(load=200, required=199)
    assert Warmup.of(None, history=1, lag=0) == Warmup(load=0, required=0)
    assert Warmup.of(30, history=200, lag=1) == Warmup(load=30, required=30)
    span = Warmup.of("18M", history=200, lag=1)
    assert span.load == pd.DateOffset(months=18) == span.required


@pytest.mark.parametrize("text", ["18X", "M18", "1.5Y", ""])
def test_parse_span_with_bad_text_names_the_setting(text):
    with pytest.raises(DataError, match=r"data\.warmup"):
        parse_span(text)


def test_config_warmup_with_bad_span_is_a_config_error(tmp_path):
    document = _synthetic("trend", warmup="two years")
    with pytest.raises(engine.ConfigError, match=r"data\.warmup"):
        load_config(_write(tmp_path, document))


def test_warmup_of_a_sweep_is_the_longest_history_of_its_grid(tmp_path):
    document = _synthetic("trend")
    document["sweep"] = {"params": {"strategy.params.slow": [40, 120, 80], "portfolio.lag": [0, 3]}}
    config = load_config(_write(tmp_path, document))
    assert warmup_of(config, resolve_strategy(config)) == Warmup(load=122, required=119)


def test_user_function_states_its_history_as_a_function_of_its_parameters(tmp_path):
    (tmp_path / "mine.py").write_text(
        "def weights(market, slow: int = 30):\n"
        "    return market.close.rolling(slow).mean() * 0 + 0.1\n"
        "weights.history = lambda params: params.slow\n"
    )
    document = _synthetic("trend")
    document["strategy"] = {"name": "mine:weights", "params": {"slow": 45}}
    config = load_config(_write(tmp_path, document))
    assert warmup_of(config, resolve_strategy(config)) == Warmup(load=45, required=44)


# --- strategies see the warm-up, the simulation does not ------------------------------


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_stated_history_gives_every_strategy_a_target_on_the_first_simulated_bar(tmp_path, name):
    config = load_config(_write(tmp_path, _synthetic(name)))
    first, ever = _first_targets(config)
    assert ever.any()
    assert np.isfinite(first[ever]).all(), f"{name}: no target on the first bar"


def test_cold_start_with_warmup_zero_leaves_a_trend_without_a_target_for_its_window(tmp_path):
    config = load_config(_write(tmp_path, _synthetic("trend", warmup=0)))
    first, _ = _first_targets(config)
    assert np.isnan(first).all()


def test_run_with_warmup_simulates_from_start_and_holds_from_the_first_bar(tmp_path):
    result = engine.run(load_config(_write(tmp_path, _synthetic("trend"))))
    assert result.market.index[0] == pd.Timestamp("2021-06-01")
    assert result.value.index[0] == pd.Timestamp("2021-06-01")
    assert (result.simulation.positions.iloc[0] != 0).any()


def test_warmed_up_run_decides_what_a_longer_run_decides_on_the_same_bars(tmp_path):
    short = load_config(_write(tmp_path, _synthetic("momentum"), "short.yaml"))
    document = _synthetic("momentum", start="2020-06-01")
    long = load_config(_write(tmp_path, document, "long.yaml"))
    late, early = engine.run(short), engine.run(long)
    # both decide on the first bar of a month; the short run starts on one
    same = early.target_weights.loc[late.target_weights.index[1] :]
    pd.testing.assert_frame_equal(late.target_weights.iloc[1:], same, check_freq=False)


def test_walk_forward_test_windows_warm_up_on_the_bars_before_them(tmp_path):
    document = _synthetic("trend")
    document["strategy"]["params"]["short"] = True  # long or short: never flat
    document["data"]["end"] = "2022-12-31"
    document["sweep"] = {
        "params": {"strategy.params.slow": [40, 60]},
        "walk_forward": {"train": 120, "test": 60},
    }
    from engine.sweep import run_sweep

    result = run_sweep(load_config(_write(tmp_path, document)))
    assert result.walk_forward is not None
    oos = result.oos_value
    starts = pd.to_datetime(result.walk_forward["test_start"])
    # every test window holds positions from its first bar: its first value moved
    for start in starts:
        segment = oos.loc[start:]
        assert segment.iloc[1] != segment.iloc[0]


# --- late listings and sources cut short ------------------------------------------------


def _csv(folder: Path, symbol: str, dates: pd.DatetimeIndex) -> None:
    closes = 100.0 * 1.001 ** np.arange(len(dates))  # an uptrend: a trend strategy holds it
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "close": closes})
    (folder / f"{symbol}.csv").write_text(frame.to_csv(index=False))


def _files_config(tmp_path: Path, **data: object) -> Path:
    document = {
        "name": "files",
        "data": {
            "source": "csv",
            "path": ".",
            "symbols": ["AAA", "BBB"],
            "start": "2024-03-01",
            "end": "2024-06-28",
            "columns": {"open": None, "high": None, "low": None, "volume": None},
            **data,
        },
        "strategy": {"name": "trend", "params": {"fast": 5, "slow": 20}},
    }
    return _write(tmp_path, document)


def test_source_that_starts_at_data_start_fails_naming_the_symbol_and_the_fix(tmp_path):
    days = pd.bdate_range("2024-03-01", "2024-06-28")
    _csv(tmp_path, "AAA", days)
    _csv(tmp_path, "BBB", days)
    with pytest.raises(DataError) as caught:
        load_markets(load_config(_files_config(tmp_path)))
    message = str(caught.value)
    assert "\n" not in message
    assert "AAA: the data starts on 2024-03-01" in message
    assert "19 sessions of history" in message and "data.warmup" in message


def test_source_that_starts_at_data_start_runs_cold_with_warmup_zero(tmp_path):
    days = pd.bdate_range("2024-03-01", "2024-06-28")
    _csv(tmp_path, "AAA", days)
    _csv(tmp_path, "BBB", days)
    result = engine.run(load_config(_files_config(tmp_path, warmup=0)))
    assert result.market.index[0] == pd.Timestamp("2024-03-01")
    assert result.target_weights.dropna(how="all").index[0] > pd.Timestamp("2024-03-20")


def test_series_listed_inside_the_warmup_warns_and_the_run_goes_on(tmp_path):
    _csv(tmp_path, "AAA", pd.bdate_range("2023-12-01", "2024-06-28"))
    _csv(tmp_path, "BBB", pd.bdate_range("2024-02-20", "2024-06-28"))
    with pytest.warns(DataWarning, match=r"BBB: listed late: first price on 2024-02-20, 8 "):
        result = engine.run(load_config(_files_config(tmp_path)))
    first = result.simulation.positions.iloc[0]
    assert first["AAA"] != 0 and first["BBB"] == 0


def test_span_warmup_loads_that_calendar_span_before_start(tmp_path):
    _csv(tmp_path, "AAA", pd.bdate_range("2023-06-01", "2024-06-28"))
    _csv(tmp_path, "BBB", pd.bdate_range("2023-06-01", "2024-06-28"))
    market, _ = load_markets(load_config(_files_config(tmp_path, warmup="2M")))
    assert market.index[0] == pd.Timestamp("2024-01-02")  # 1 January: NYSE shut
    assert market.start == pd.Timestamp("2024-03-01")
    nyse = sessions("XNYS", pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-29"))
    assert market.warmup_bars == len(nyse) == 41


# --- the real files ---------------------------------------------------------------------


@needs_real
def test_real_southbound_config_holds_its_book_from_the_first_day():
    config = load_config(ROOT / "configs" / "real" / "southbound_market_wide.yaml")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = engine.run(config)
    assert any("1024.HK: listed late" in str(w.message) for w in seen)
    assert result.value.index[0] == pd.Timestamp("2021-03-01")
    first = result.simulation.positions.iloc[0]
    assert first["QQQ"] < 0 and (first[["9988.HK", "0700.HK", "1810.HK"]] > 0).all()


@needs_real
def test_real_200_day_trend_on_qqq_holds_from_the_first_day_where_a_cold_start_waits(tmp_path):
    document = {
        "name": "trend_real",
        "data": {
            "source": "csv",
            "path": str(REAL),
            "symbols": ["QQQ"],
            "files": {"QQQ": "us/QQQ.csv"},
            "start": "2021-03-01",
            "end": "2022-12-30",
        },
        "strategy": {"name": "trend", "params": {"fast": 50, "slow": 200}},
    }
    warm = engine.run(load_config(_write(tmp_path, document, "warm.yaml")))
    assert warm.simulation.positions["QQQ"].iloc[0] > 0  # QQQ was above its 200-day average
    document["data"]["warmup"] = 0
    cold = engine.run(load_config(_write(tmp_path, document, "cold.yaml")))
    held = cold.simulation.positions["QQQ"].ne(0)
    assert int(held.to_numpy().argmax()) >= 199


# --- series that end early ----------------------------------------------------------------


def _ending(tmp_path: Path, policy: str | None = None, execution: str = "close") -> Path:
    """AAA trades to the end; BBB's file stops on 2024-04-30 (its exchange trades on)."""
    days = pd.bdate_range("2024-03-01", "2024-06-28")
    _csv(tmp_path, "AAA", days)
    _csv(tmp_path, "BBB", days[days <= "2024-04-30"])
    data: dict = {"columns": {"open": None, "high": None, "low": None, "volume": None}}
    if policy is not None:
        data["on_series_end"] = policy
    document = {
        "name": "ending",
        "data": {
            "source": "csv",
            "path": ".",
            "symbols": ["AAA", "BBB"],
            "start": "2024-03-01",
            "end": "2024-06-28",
            **data,
        },
        "strategy": {"name": "buy_and_hold"},
        "portfolio": {"lots": False, "lag": 0, "execution": execution},
    }
    return _write(tmp_path, document)


def test_series_that_ends_early_is_closed_at_its_last_close_with_a_warning(tmp_path):
    with pytest.warns(DataWarning, match=r"BBB: prices end on 2024-04-30 with 41 sessions"):
        result = engine.run(load_config(_ending(tmp_path)))
    trades = result.simulation.trades
    exit_ = trades[(trades["symbol"] == "BBB") & (trades["side"] == "sell")]
    assert len(exit_) == 1 and exit_["date"].iloc[0] == pd.Timestamp("2024-04-30")
    last_close = 100.0 * 1.001 ** (len(pd.bdate_range("2024-03-01", "2024-04-30")) - 1)
    assert exit_["price"].iloc[0] == pytest.approx(last_close, rel=1e-12)
    assert (result.simulation.positions.loc["2024-04-30":, "BBB"] == 0).all()


def test_series_end_closes_at_the_last_close_when_orders_fill_at_the_open(tmp_path):
    with pytest.warns(DataWarning, match="BBB: prices end"):
        result = engine.run(load_config(_ending(tmp_path, execution="open")))
    trades = result.simulation.trades
    exit_ = trades[(trades["symbol"] == "BBB") & (trades["side"] == "sell")]
    assert exit_["date"].tolist() == [pd.Timestamp("2024-04-30")]


def test_series_end_with_hold_keeps_the_position_at_its_last_price(tmp_path):
    with pytest.warns(DataWarning, match="held at its last price"):
        result = engine.run(load_config(_ending(tmp_path, "hold")))
    assert (result.simulation.positions.loc["2024-04-30":, "BBB"] > 0).all()
    assert (result.simulation.trades["side"] == "buy").all()


def test_series_end_with_error_stops_naming_the_symbol_and_the_fix(tmp_path):
    with pytest.raises(DataError) as caught:
        engine.run(load_config(_ending(tmp_path, "error")))
    message = str(caught.value)
    assert "\n" not in message
    assert "BBB: prices end on 2024-04-30, 41 sessions" in message
    assert "data.on_series_end" in message
