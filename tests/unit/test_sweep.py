"""Sweeps: the grid, the sweep kernel against the backtest, Dask, walk-forward, Ctrl-C."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import engine
from engine import metrics as m
from engine import sweep as sw
from engine.cli import main
from engine.config import load_config
from engine.data import calendars
from engine.errors import ConfigError, StrategyError
from engine.kernel.sim_nb import METRIC_NAMES as SWEEP_METRICS
from engine.simulation import prepare_market, sweep_metrics
from engine.strategy import carry_last, schedule_keep, schedule_rebalance
from engine.targets import TargetPlan, scheduled
from strategies import REGISTRY

ROOT = Path(__file__).resolve().parents[2]

SMALL = {
    "name": "small_sweep",
    "data": {
        "source": "synthetic",
        "symbols": ["AAPL", "MSFT", "0700.HK"],
        "start": "2019-01-01",
        "end": "2021-12-31",
        "seed": 3,
    },
    "strategy": {"name": "trend", "params": {"signal": "ma_cross"}},
    "portfolio": {"fees": 0.001, "slippage": 0.0002, "borrow_rate": 0.02},
    "report": {"risk_free": 0.01},
    "sweep": {
        "params": {
            "strategy.params.fast": [5, 20, 60],
            "strategy.params.slow": {"start": 40, "stop": 120, "step": 40},
            "strategy.params.short": [False, True],
            "portfolio.lag": [1, 2],
        },
        "chunk": 4,
        "curves": 2,
    },
}


def _write(tmp_path: Path, document: dict, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_grid_specs_with_list_range_and_log_range_expand_in_order(tmp_path):
    doc = {
        **SMALL,
        "sweep": {
            "params": {
                "strategy.params.fast": {"start": 5, "stop": 20, "step": 5},
                "portfolio.fees.rate": {"log": [0.0001, 0.01], "num": 3},
                "strategy.params.slow": {"start": 0.5, "stop": 1.0, "num": 3},
            }
        },
    }
    grids = load_config(_write(tmp_path, doc)).sweep.grids()
    assert grids["strategy.params.fast"] == [5, 10, 15, 20]
    np.testing.assert_allclose(grids["portfolio.fees.rate"], [0.0001, 0.001, 0.01])
    np.testing.assert_allclose(grids["strategy.params.slow"], [0.5, 0.75, 1.0])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"strategy.fast": [1]}, "sweep keys are strategy.params.NAME or portfolio.PATH"),
        ({"strategy.params.fast": {"start": 5, "stop": 1, "step": 1}}, "stop \\(1\\) is below"),
        ({"strategy.params.fast": {"start": 1, "stop": 5}}, "exactly one of 'step' or 'num'"),
        ({"strategy.params.fast": []}, "at least 1 item"),
        ({"portfolio.fees.rate": {"log": [0, 1], "num": 3}}, "greater than 0"),
    ],
)
def test_bad_sweep_grid_is_a_located_config_error(tmp_path, params, message):
    path = _write(tmp_path, {**SMALL, "sweep": {"params": params}})
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert "sweep.params" in str(info.value)


def test_sweep_of_a_parameter_the_strategy_lacks_is_a_located_config_error(tmp_path):
    doc = {**SMALL, "sweep": {"params": {"strategy.params.fsat": [5, 10]}}}
    with pytest.raises(ConfigError, match="has no parameter 'fsat'; did you mean 'fast'") as info:
        sw.run_sweep(load_config(_write(tmp_path, doc)))
    assert "sweep.params.strategy.params.fsat" in str(info.value)


def test_sweep_with_every_combination_rejected_is_an_error_naming_a_reason(tmp_path):
    grid = {"strategy.params.fast": [100, 120], "strategy.params.slow": [50]}
    doc = {**SMALL, "sweep": {"params": grid}}
    with pytest.raises(
        StrategyError, match=r"rejected all 2 combinations, e\.g\. strategy\.params.*slow"
    ):
        sw.run_sweep(load_config(_write(tmp_path, doc)))


def test_sweep_metrics_with_every_combination_equal_a_full_backtest_of_it(tmp_path):
    path = _write(tmp_path, SMALL)
    config = load_config(path)
    result = sw.run_sweep(config)
    table = result.table
    assert len(table) == 3 * 3 * 2 * 2
    invalid = table["status"] == sw.ROW_INVALID
    assert (invalid == (table["fast"] >= table["slow"])).all()  # fast must be below slow
    for row in table[~invalid].itertuples():
        overrides = [
            f"strategy.params.fast={row.fast}",
            f"strategy.params.slow={row.slow}",
            f"strategy.params.short={str(row.short).lower()}",
            f"portfolio.lag={row.lag}",
        ]
        single = engine.run(load_config(path, overrides))
        for name in SWEEP_METRICS:
            got, expected = getattr(row, name), single.metrics[name]
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), (row.Index, name)


def test_sweep_kernel_metrics_equal_the_run_metrics_on_random_portfolios_bit_for_bit():
    rng = np.random.default_rng(5)
    n_bars, n_assets, k = 700, 4, 12
    index = pd.bdate_range("2020-01-01", periods=n_bars)
    close = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_bars, n_assets)), axis=0)), index=index
    )
    targets = np.full((k, n_bars, n_assets), np.nan)
    for i in range(k):
        rows = rng.choice(n_bars, 25, replace=False)
        targets[i, rows] = rng.normal(0, 0.6, (25, n_assets))
    targets[0] = np.nan  # never trades: flat curve, undefined Sharpe
    kw = {"fees": 0.001, "min_fees": 1.0, "borrow_rate": 0.03, "sell_tax": 0.001}
    market = prepare_market(close, risk_free=0.02, **kw)
    chunk = sweep_metrics(market, targets, ppy=252.0, keep_values=True)
    batch = engine.simulate(close, targets, init_cash=1_000_000.0, **kw)
    rf_bar = np.full(n_bars, (1.02 ** (1 / 252.0)) - 1.0)
    for i, sim in enumerate(batch):
        np.testing.assert_array_equal(chunk.values[i], sim.value.to_numpy())
        expected = m.simulation_metrics(sim, 252.0, rf_bar)
        np.testing.assert_array_equal(chunk.metrics[i], [expected[n] for n in SWEEP_METRICS])
    assert np.isnan(chunk.metrics[0, SWEEP_METRICS.index("sharpe")])
    assert np.isfinite(chunk.metrics[1:]).all()


def _plan(index, schedule, lag, first=0, closing=None, limit=np.inf):
    decide = max(first - lag, 0)
    on_change = schedule == "on_change"
    window = index[decide:]
    keep = (
        np.ones(len(window), dtype=bool)
        if on_change
        else schedule_keep(np.empty((len(window), 1)), window, schedule)
    )
    n_assets = 4
    closing = np.full(n_assets, -1, dtype=np.int64) if closing is None else closing
    return TargetPlan(keep, on_change, lag, decide, first, closing, limit)


def _reference(raw, index, schedule, lag, first):
    """The pipeline's targets as NumPy built them before the kernel did: carry the last
    instruction into the window's first row, keep the schedule's rows, lag, cut the
    warm-up off."""
    decide = max(first - lag, 0)
    window = carry_last(raw, decide)
    keep = schedule_keep(window, index[decide:], schedule)
    n_bars = window.shape[1]
    out = np.full_like(window, np.nan)
    out[:, lag:] = np.where(keep[:, : n_bars - lag, None], window[:, : n_bars - lag], np.nan)
    return out[:, first - decide :]


def test_kernel_schedule_equals_schedule_rebalance_then_lag():
    rng = np.random.default_rng(1)
    index = pd.bdate_range("2021-01-01", periods=120)
    raw = np.round(rng.uniform(-1, 1, (3, 120, 4)), 0)  # repeated rows: on_change matters
    raw[:, :5] = np.nan
    raw[:, 40:43, 1] = np.nan  # a gap in one asset
    for schedule in ("daily", "weekly", "monthly", "quarterly", "on_change"):
        for lag in (0, 1, 3):
            batch, over, _ = scheduled(raw, _plan(index, schedule, lag))
            assert (over == -1).all()
            for k in range(3):
                one = schedule_rebalance(pd.DataFrame(raw[k], index=index), schedule).shift(lag)
                np.testing.assert_array_equal(batch[k], one.to_numpy(), err_msg=schedule)


@pytest.mark.parametrize("first", [1, 2, 7, 30])
def test_kernel_schedule_after_a_warm_up_carries_the_last_instruction_into_the_window(first):
    rng = np.random.default_rng(first)
    index = pd.bdate_range("2021-01-01", periods=90)
    raw = np.round(rng.uniform(-1, 1, (2, 90, 4)), 0)
    raw[rng.uniform(size=raw.shape) < 0.6] = np.nan  # sparse: the carry has work to do
    for schedule in ("daily", "monthly", "on_change"):
        for lag in (0, 1, 3):
            got, _, _ = scheduled(raw, _plan(index, schedule, lag, first=first))
            expected = _reference(raw, index, schedule, lag, first)
            np.testing.assert_array_equal(got, expected, err_msg=f"{schedule} lag {lag}")


def test_kernel_schedule_closes_an_ending_series_and_finds_the_first_row_over_the_limit():
    index = pd.bdate_range("2021-01-01", periods=10)
    raw = np.full((1, 10, 4), 0.2)
    raw[0, 6] = [0.5, 0.4, 0.5, 0.1]  # gross 1.1 without the closed series, on bar 6
    closing = np.array([-1, 4, -1, -1], dtype=np.int64)
    targets, over, gross = scheduled(
        raw, _plan(index, "daily", 1, closing=closing, limit=1.0 * (1 + 1e-9))
    )
    assert targets[0, 4, 1] == 0.0 and np.isnan(targets[0, 5:, 1]).all()
    np.testing.assert_array_equal(targets[0, 1:, 0], raw[0, :-1, 0])  # lagged one bar
    assert int(over[0]) == 7  # decided on bar 6, executes on bar 7
    assert gross[0] == pytest.approx(0.5 + 0.5 + 0.1)  # the closed series asks for nothing


def test_trend_target_weights_many_equals_one_by_one(tmp_path):
    market = engine.load_market(load_config(_write(tmp_path, SMALL)))
    cls = REGISTRY["trend"]
    params = [
        cls.params_model(signal="ma_cross", fast=5, slow=40),
        cls.params_model(signal="tsmom", lookback=60, short=True, gross=1.5),
        cls.params_model(signal="ma_cross", fast=20, slow=80, short=True),
    ]
    batch = cls.target_weights_many(market, params)
    for k, p in enumerate(params):
        one = cls(p).target_weights(market).to_numpy()
        np.testing.assert_array_equal(batch[k], one)


def test_sweep_on_dask_local_cluster_gives_the_identical_table(tmp_path):
    pytest.importorskip("dask.distributed")
    config = load_config(_write(tmp_path, SMALL))
    local = sw.run_sweep(config)
    distributed = sw.run_sweep(config, dask="local", workers=2)
    pd.testing.assert_frame_equal(local.table, distributed.table, check_exact=True)
    assert list(local.curves) == list(distributed.curves)


def interrupt_second_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the sweep's second chunk raise KeyboardInterrupt, as Ctrl-C would."""
    real = sw.run_chunk
    calls = {"n": 0}

    def interrupt_second(payload, chunk):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(payload, chunk)

    monkeypatch.setattr(sw, "run_chunk", interrupt_second)


def test_sweep_when_interrupted_keeps_finished_chunks(tmp_path, monkeypatch, capsys):
    interrupt_second_chunk(monkeypatch)
    out = tmp_path / "out"
    code = main(["sweep", str(_write(tmp_path, SMALL)), "--out", str(out), "--quiet"])
    assert code == 130
    table = pd.read_csv(out / "partial" / "results.csv")  # never in place of a finished one
    assert (table["status"] != sw.ROW_NOT_RUN).sum() == 4  # the first chunk of 4
    assert table.loc[table["status"] == sw.ROW_OK, "sharpe"].notna().all()
    assert not (out / "partial" / "sweep.html").exists() and not (out / "results.csv").exists()
    assert "interrupted: kept the 4 of 36" in capsys.readouterr().err


def test_sweep_cli_writes_results_and_html_and_prints_the_top(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "out"
    assert main(["sweep", str(_write(tmp_path, SMALL)), "--out", str(out), "--top", "3"]) == 0
    printed = capsys.readouterr()
    assert "top 3 of 36 by sharpe" in printed.out
    # fast 60 >= slow 40 is the one rejected pair, times 2 short x 2 lag settings
    assert "4 of 36 combinations were rejected by the strategy (e.g. strategy.params" in printed.err
    assert sorted(p.name for p in out.iterdir()) == [
        "results.csv",
        "results.parquet",
        "run.json",
        "sweep.html",
    ]
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "results.parquet")[["fast", "slow"]],
        pd.read_csv(out / "results.csv")[["fast", "slow"]],
        check_dtype=False,
    )
    page = (out / "sweep.html").read_text()
    assert 'id="chart-heatmap-0"' in page and 'id="chart-best"' in page


# --- walk-forward with a known answer -------------------------------------------------

PICK = '''
import pandas as pd


def pick(market, params):
    """All in the one asset named by params['asset']."""
    weights = pd.DataFrame(0.0, index=market.index, columns=market.close.columns)
    weights[params["asset"]] = 1.0
    return weights
'''


def _leaders_market(tmp_path: Path) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray]]:
    """Three assets; each has its own up-trending stretch, flat-ish noise elsewhere."""
    rng = np.random.default_rng(0)
    n = 900
    every = calendars.all_sessions("XNYS")  # A, B and C are US listings
    index = every[every >= pd.Timestamp("2015-01-01")][:n]
    drift = {"A": (0, 300, 0.004), "B": (300, 600, 0.003), "C": (600, 900, 0.0035)}
    prices = {}
    for symbol, (a, b, mu) in drift.items():
        r = rng.normal(0.0, 0.002, n)
        r[a:b] += mu
        prices[symbol] = 100.0 * np.cumprod(1.0 + r)
        frame = pd.DataFrame({"date": index, "close": prices[symbol]})
        frame.to_csv(tmp_path / f"{symbol}.csv", index=False)
    return index, prices


def test_walk_forward_with_known_leaders_picks_each_train_windows_best(tmp_path):
    index, prices = _leaders_market(tmp_path)
    (tmp_path / "pick.py").write_text(textwrap.dedent(PICK))
    doc = {
        "name": "leaders",
        "data": {
            "source": "csv",
            "path": ".",
            "symbols": ["A", "B", "C"],
            "start": str(index[0].date()),
            "end": str(index[-1].date()),
        },
        "strategy": {"name": "pick:pick", "params": {"asset": "A"}},
        "portfolio": {"lag": 0, "lots": False, "rebalance": "daily"},
        "sweep": {
            "params": {"strategy.params.asset": ["A", "B", "C"]},
            "metric": "total_return",
            "walk_forward": {"train": 200, "test": 100, "mode": "rolling"},
        },
    }
    result = sw.run_sweep(load_config(_write(tmp_path, doc)))
    folds = result.walk_forward
    assert len(folds) == 7  # test windows start at bars 200, 300, ..., 800
    growth_oos = 1.0
    for f, fold in folds.iterrows():
        a, b = 100 * f, 100 * f + 200
        c, d = b, min(b + 100, 900)
        # the answer by construction: the asset that grew most over the train bars,
        # bought at the close of the window's first bar
        expected = max(prices, key=lambda s: prices[s][b - 1] / prices[s][a])
        assert fold["asset"] == expected, f
        assert fold["train_total_return"] == pytest.approx(
            prices[expected][b - 1] / prices[expected][a] - 1.0, rel=1e-9
        )
        growth_oos *= prices[expected][d - 1] / prices[expected][c]
    assert result.oos_value.iloc[-1] == pytest.approx(growth_oos, rel=1e-9)
    assert len(result.oos_value) == 700  # the stitched test windows cover bars 200..899


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_sweep_of_every_registered_strategy_equals_its_single_backtests(tmp_path, name):
    from tests.unit.test_strategies import EXAMPLES, SYMBOLS

    doc = {
        "name": f"every_{name}",
        "data": {
            "source": "synthetic",
            "symbols": {"hk": SYMBOLS[2:], "us": SYMBOLS[:2]},
            "start": "2021-01-01",
            "end": "2022-12-31",
            "seed": 11,
        },
        "strategy": {"name": name, "params": EXAMPLES[name]},
        "portfolio": {"slippage": 0.0005, "borrow_rate": 0.02, "max_leverage": 3.0},
        "sweep": {"params": {"portfolio.lag": [1, 2], "portfolio.fees.rate": [0.0005, 0.002]}},
    }
    path = _write(tmp_path, doc)
    table = sw.run_sweep(load_config(path)).table
    assert (table["status"] == sw.ROW_OK).all()
    for row in table.itertuples():
        fee = table.at[row.Index, "fees.rate"]
        overrides = [f"portfolio.lag={row.lag}", f"portfolio.fees.rate={fee}"]
        single = engine.run(load_config(path, overrides))
        assert single.metrics["n_trades"] > 0
        # one pipeline and one metric definition: equal bit for bit, not within a tolerance
        for metric in SWEEP_METRICS:
            got, expected = getattr(row, metric), single.metrics[metric]
            assert got == expected or (np.isnan(got) and np.isnan(expected)), (row.Index, metric)


FUSSY = '''
import pandas as pd


def weights(market, params):
    """Equal weight; fails in two different ways for two of the swept values."""
    if params["n"] == 2:
        raise KeyError("no such column")
    if params["n"] == 3:
        return pd.DataFrame(1.0, index=market.index[:5], columns=market.close.columns)
    return pd.DataFrame(1.0 / params["n"], index=market.index, columns=market.close.columns)
'''


def test_sweep_with_user_function_failing_for_some_sets_keeps_the_others(tmp_path):
    (tmp_path / "fussy.py").write_text(FUSSY)
    doc = {
        **SMALL,
        "strategy": {"name": "fussy:weights", "params": {}},
        "sweep": {"params": {"strategy.params.n": [1, 2, 3, 4]}},
    }
    table = sw.run_sweep(load_config(_write(tmp_path, doc))).table.set_index("n")
    assert list(table["status"]) == [sw.ROW_OK, sw.ROW_INVALID, sw.ROW_INVALID, sw.ROW_OK]
    first, *frames = table.loc[2, "reason"].splitlines()
    assert first == "strategy 'fussy:weights' failed: KeyError: 'no such column'"
    assert frames[-1] == '    raise KeyError("no such column")'  # the user's own line
    assert table.loc[3, "reason"].startswith("strategy 'fussy:weights' must return")
    assert list(table.loc[[1, 4], "reason"]) == ["", ""]
    assert table.loc[1, "avg_gross_exposure"] > table.loc[4, "avg_gross_exposure"] > 0.0


@pytest.mark.parametrize("metric", SWEEP_METRICS)
def test_walk_forward_with_any_rank_metric_scores_every_test_window_finitely(tmp_path, metric):
    doc = {
        **SMALL,
        "portfolio": {**SMALL["portfolio"], "cash_rate": 0.02},
        "strategy": {"name": "trend", "params": {"signal": "ma_cross", "short": True}},
        "sweep": {
            "params": {"strategy.params.fast": [5, 20], "strategy.params.slow": [60]},
            "metric": metric,
            "walk_forward": {"train": 250, "test": 120},
        },
    }
    result = sw.run_sweep(load_config(_write(tmp_path, doc)))
    folds = result.walk_forward
    assert folds is not None and len(folds) >= 3
    # test windows are scored by the kernel's metrics, like the train windows
    assert np.isfinite(folds[f"test_{metric}"].to_numpy(dtype=float)).all(), folds
    assert np.isfinite(folds[f"train_{metric}"].to_numpy(dtype=float)).all(), folds


def test_sweep_kernel_with_bankrupt_portfolios_equals_the_run_bit_for_bit():
    rng = np.random.default_rng(8)
    n_bars, n_assets, k = 300, 3, 6
    index = pd.bdate_range("2020-01-01", periods=n_bars)
    close = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.03, (n_bars, n_assets)), axis=0)), index=index
    )
    targets = np.full((k, n_bars, n_assets), np.nan)
    for i in range(k):
        rows = rng.choice(n_bars, 10, replace=False)
        targets[i, rows] = rng.normal(0, 2.0 * i, (10, n_assets))  # 0 .. very levered
    kw = {"fees": 0.001, "borrow_rate": 0.03, "cash_rate": 0.01, "slippage": 0.001}
    market = prepare_market(close, **kw)
    chunk = sweep_metrics(market, targets, ppy=252.0, keep_values=True, max_leverage=None)
    with pytest.warns(engine.BankruptcyWarning):
        batch = engine.simulate(close, targets, init_cash=1_000_000.0, **kw)
    bankrupt = [i for i, sim in enumerate(batch) if sim.bankrupt_at is not None]
    assert 0 < len(bankrupt) < k
    for i, sim in enumerate(batch):
        np.testing.assert_array_equal(chunk.values[i], sim.value.to_numpy())
        expected = m.simulation_metrics(sim, 252.0, np.zeros(n_bars))
        np.testing.assert_array_equal(chunk.metrics[i], [expected[n] for n in SWEEP_METRICS])
        assert chunk.status[i] == (1 if i in bankrupt else 0)
        assert chunk.fail_bar[i] == (sim.fail_bar if i in bankrupt else -1)
    sharpe = chunk.metrics[:, SWEEP_METRICS.index("sharpe")]
    assert np.isnan(sharpe[bankrupt]).all()


def write_spiky_prices(folder: Path, spike: float = 1e307) -> list[str]:
    """AAA and BBB, business days of January 2024; BBB jumps to `spike` on 2024-01-10."""
    folder.mkdir()
    dates = [str(d.date()) for d in pd.bdate_range("2024-01-02", "2024-01-31")]
    (folder / "AAA.csv").write_text("date,close\n" + "".join(f"{d},10\n" for d in dates))
    spiky = "".join(f"{d},{spike if d == '2024-01-10' else 20.0}\n" for d in dates)
    (folder / "BBB.csv").write_text("date,close\n" + spiky)
    return dates


def test_sweep_with_a_set_that_overflows_marks_that_row_invalid_naming_the_bar(tmp_path):
    write_spiky_prices(tmp_path / "prices", spike=20.0)
    doc = {
        "name": "spiky",
        "data": {
            "source": "csv",
            "path": "prices",
            "symbols": ["AAA", "BBB"],
            "start": "2024-01-02",
            "end": "2024-01-31",
            "columns": {"open": None, "high": None, "low": None, "volume": None},
        },
        "strategy": {"name": "fixed_weights", "params": {}},
        "portfolio": {"lots": False},
        "sweep": {"params": {"strategy.params.weights": [{"AAA": 1.0}, {"AAA": 1.0, "BBB": -1.0}]}},
    }
    config = load_config(_write(tmp_path, doc))
    market = engine.load_market(config)  # BBB at 20 every day: the csv source refuses 1e307
    close = market.close.copy()
    close.loc["2024-01-10", "BBB"] = 1e307  # what the Python API lets through
    spiky = dataclasses.replace(market, close=close, open=close)
    table = sw.run_sweep(config, market=spiky).table
    assert list(table["status"]) == [sw.ROW_OK, sw.ROW_INVALID]
    assert "overflowed on 2024-01-10" in table.loc[1, "reason"]
    assert "short position in BBB" in table.loc[1, "reason"]
    assert np.isnan(table.loc[1, SWEEP_METRICS].to_numpy(dtype=float)).all()


@pytest.mark.parametrize(
    ("signal", "windows", "rebalance"),
    [
        ("ma_cross", {"strategy.params.fast": [5, 20], "strategy.params.slow": [40, 80]}, None),
        ("tsmom", {"strategy.params.lookback": [20, 60]}, "monthly"),
    ],
)
def test_sweep_by_decision_rule_equals_the_sweep_of_built_targets(
    tmp_path, monkeypatch, signal, windows, rebalance
):
    # HK and US sessions (gaps), warm-up, lags, shorts, and a gross limit that rejects
    # some sets: the kernel's per-portfolio targets must match the built [K, T, N] ones
    doc = {
        **SMALL,
        "strategy": {"name": "trend", "params": {"signal": signal, "gross": 0.9}},
        "portfolio": {**SMALL["portfolio"], "rebalance": rebalance},
        "sweep": {
            "params": {
                **windows,
                "strategy.params.short": [False, True],
                "portfolio.lag": [0, 1, 2],
                "portfolio.max_gross": [0.5, 2.0],
            },
            "chunk": 5,
            "curves": 0,
        },
    }
    config = load_config(_write(tmp_path, doc))
    calls = []
    rule_metrics = sw.sweep_rule_metrics
    monkeypatch.setattr(
        sw, "sweep_rule_metrics", lambda *a, **kw: calls.append(1) or rule_metrics(*a, **kw)
    )
    by_rule = sw.run_sweep(config)
    assert calls  # the rule path ran
    built_only = dataclasses.replace(sw.resolve_strategy(config), decision_rule=None)
    monkeypatch.setattr(sw, "resolve_strategy", lambda _config: built_only)
    built = sw.run_sweep(config)

    assert (by_rule.table["status"] == sw.ROW_INVALID).any()  # the limit rejected some
    assert (by_rule.table["status"] == sw.ROW_OK).any()
    pd.testing.assert_frame_equal(by_rule.table, built.table)
