"""The akshare source with faked akshare answers, the southbound derivations and their
publication lag, and the data export round trip. Nothing here touches the network."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from engine.data import akshare_source as ak
from engine.data.southbound import estimated_net_buy, on_bars, southbound_frame, zscore
from engine.errors import DataError

TODAY = pd.Timestamp("2024-03-20")


def _holdings_raw(dates: list[str], shares: list[float], close: list[float]) -> pd.DataFrame:
    """A frame shaped like akshare's stock_hsgt_individual_em for a Hong Kong stock."""
    return pd.DataFrame(
        {
            "持股日期": pd.to_datetime(dates).date,
            "当日收盘价": close,
            "当日涨跌幅": 0.0,
            "持股数量": shares,
            "持股市值": np.array(shares) * np.array(close),
            "持股数量占A股百分比": np.array(shares) / 1e9 * 100,
            "持股市值变化-1日": 0.0,
            "持股市值变化-5日": 0.0,
            "持股市值变化-10日": 0.0,
        }
    )


def test_installed_akshare_has_the_functions_the_source_calls() -> None:
    try:
        akshare = importlib.import_module("akshare")
    except Exception as exc:  # akshare is in the test extra; only a broken platform lands here
        pytest.skip(f"akshare does not import on this platform: {exc}")
    for name in (*ak.FUNCTIONS, "stock_hsgt_stock_statistics_em", "stock_hk_index_daily_sina"):
        assert callable(getattr(akshare, name, None)), name


def test_estimated_net_buy_with_two_days_returns_change_times_close() -> None:
    holdings = pd.DataFrame(
        {"close": [10.0, 12.0], "holding_shares": [1e6, 1.5e6], "holding_ratio": [0.01, 0.015]},
        index=pd.to_datetime(["2024-03-01", "2024-03-04"]),
    )
    flow = estimated_net_buy(holdings)
    assert np.isnan(flow.iloc[0])
    assert flow.iloc[1] == pytest.approx(0.5e6 * 12.0 / 1e6)  # 6.0 HKD millions


def test_estimated_net_buy_with_a_split_returns_nan() -> None:
    holdings = pd.DataFrame(
        {"close": [10.0, 5.0], "holding_shares": [1e6, 2e6], "holding_ratio": [0.01, 0.01]},
        index=pd.to_datetime(["2024-03-01", "2024-03-04"]),
    )
    assert np.isnan(estimated_net_buy(holdings).iloc[1])


def test_zscore_by_hand() -> None:
    z = zscore(pd.Series([1.0, 2.0, 3.0]), 3)
    assert z.iloc[2] == pytest.approx((3.0 - 2.0) / 1.0)


def test_on_bars_with_lag_one_is_first_usable_on_the_next_bar() -> None:
    bars = pd.to_datetime(["2024-03-01", "2024-03-04", "2024-03-05"])
    series = pd.Series([5.0, 7.0], index=pd.to_datetime(["2024-03-01", "2024-03-04"]))
    level = on_bars(series, pd.DatetimeIndex(bars), lag=1, flow=False)
    assert np.isnan(level.iloc[0]) and level.iloc[1] == 5.0 and level.iloc[2] == 7.0
    flow = on_bars(series, pd.DatetimeIndex(bars), lag=1, flow=True)
    assert np.isnan(flow.iloc[0]) and flow.iloc[1] == 5.0 and flow.iloc[2] == 7.0


def test_on_bars_adds_flows_that_reach_one_bar() -> None:
    bars = pd.DatetimeIndex(pd.to_datetime(["2024-03-01", "2024-03-06"]))
    series = pd.Series(
        [1.0, 2.0, 4.0], index=pd.to_datetime(["2024-02-29", "2024-03-04", "2024-03-05"])
    )
    out = on_bars(series, bars, lag=1, flow=True)
    assert out.iloc[0] == 1.0 and out.iloc[1] == 6.0


def test_southbound_series_at_a_bar_never_depends_on_holdings_dated_that_bar_or_later() -> None:
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2024-01-01", periods=60)
    holdings = pd.DataFrame(
        {
            "close": 50 + rng.normal(size=60).cumsum(),
            "holding_shares": 1e8 + rng.normal(0, 1e6, 60).cumsum(),
            "holding_ratio": 0.1 + rng.normal(0, 1e-3, 60),
            "holding_value": 1.0,
        },
        index=dates,
    )
    for series in ("net_buy", "net_buy_sum", "net_buy_z", "holding_shares"):
        full = southbound_frame({"X": holdings}, dates, ["X"], series, window=5, z_window=10, lag=1)
        for t in (20, 35, 59):
            cut = holdings.loc[holdings.index < dates[t]]  # published before bar t only
            part = southbound_frame({"X": cut}, dates, ["X"], series, window=5, z_window=10, lag=1)
            np.testing.assert_equal(full["X"].iloc[t], part["X"].iloc[t])
    # a same-day reading (lag 0) would use the holdings of bar t at bar t: the cut differs
    same = southbound_frame({"X": holdings}, dates, ["X"], "net_buy", window=5, z_window=10, lag=0)
    cut = holdings.loc[holdings.index < dates[30]]
    part = southbound_frame({"X": cut}, dates, ["X"], "net_buy", window=5, z_window=10, lag=0)
    assert same["X"].iloc[30] != part["X"].iloc[30]


def _fake(monkeypatch: pytest.MonkeyPatch, answers: dict[str, object]) -> list[tuple[str, dict]]:
    calls: list[tuple[str, dict]] = []

    def call(function: str, **kwargs: str) -> object:
        calls.append((function, kwargs))
        answer = answers[function]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    monkeypatch.setattr(ak, "_call", call)
    return calls


def test_holdings_from_fake_akshare_are_parsed_and_cached(monkeypatch, tmp_path) -> None:
    raw = _holdings_raw(["2024-03-01", "2024-03-04"], [1e6, 2e6], [10.0, 11.0])
    calls = _fake(monkeypatch, {"stock_hsgt_individual_em": raw})
    data = ak.AkshareData(tmp_path, today=TODAY)
    got = data.holdings(["0700.HK"], pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-04"))
    frame = got["0700.HK"]
    assert calls == [("stock_hsgt_individual_em", {"symbol": "00700"})]
    assert frame["holding_ratio"].iloc[1] == pytest.approx(0.002)
    assert frame["holding_shares"].tolist() == [1e6, 2e6]
    offline = ak.AkshareData(tmp_path, offline=True, today=TODAY)
    again = offline.holdings(["0700.HK"], pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-04"))
    pd.testing.assert_frame_equal(again["0700.HK"], frame, check_freq=False)
    assert len(calls) == 1


def test_market_flow_and_index_from_fake_akshare(monkeypatch, tmp_path) -> None:
    flows = pd.DataFrame(
        {
            "日期": pd.to_datetime(["2024-03-01"]).date,
            "当日成交净买额": [12.5],
            "买入成交额": [100.0],
            "卖出成交额": [87.5],
            "历史累计净买额": [0.0],
        }
    )
    index = pd.DataFrame(
        {
            "date": ["2024-03-01", "2024-03-04"],
            "open": [1.0, 2.0],
            "high": [1.0, 2.0],
            "low": [1.0, 2.0],
            "latest": [3500.0, 3550.0],
        }
    )
    _fake(monkeypatch, {"stock_hsgt_hist_em": flows, "stock_hk_index_daily_em": index})
    data = ak.AkshareData(tmp_path, today=TODAY)
    day = pd.Timestamp("2024-03-01")
    assert data.market_flow(day, day)["net_buy"].iloc[0] == pytest.approx(1250.0)  # 亿 -> millions
    assert data.index("HSTECH", day, pd.Timestamp("2024-03-04"))["close"].tolist() == [
        3500.0,
        3550.0,
    ]


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (pd.DataFrame(), "0700.HK: no akshare holdings data.*no rows"),
        (
            pd.DataFrame({"持股日期": ["2024-03-01"]}),
            "0700.HK: akshare stock_hsgt_individual_em returned no column '当日收盘价'",
        ),
        ("返回数据为空", "0700.HK: .*akshare answered '返回数据为空'"),
        (
            TimeoutError("read timed out"),
            "0700.HK: .*no network to download it \\(TimeoutError: read timed out\\)",
        ),
        (
            TypeError("'NoneType' object is not subscriptable"),
            "0700.HK: .*the download failed: TypeError",
        ),
    ],
)
def test_bad_akshare_answers_give_one_line_errors(monkeypatch, tmp_path, answer, match) -> None:
    _fake(monkeypatch, {"stock_hsgt_individual_em": answer})
    data = ak.AkshareData(tmp_path, today=TODAY)
    with pytest.raises(DataError, match=match) as caught:
        data.holdings(["0700.HK"], pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-04"))
    assert "\n" not in str(caught.value)


def test_holdings_for_a_us_symbol_is_an_error() -> None:
    with pytest.raises(DataError, match="QQQ: southbound holdings exist only for Hong Kong"):
        ak.hk_code("QQQ")


def test_export_then_csv_run_gives_bit_identical_results(tmp_path) -> None:
    import engine
    from engine.config import load_config
    from engine.export import export_data

    config = load_config(
        "configs/southbound_per_stock.yaml",
        ["data.source=synthetic", "data.start=2024-01-02", "data.end=2024-06-28"],
    )
    export_data(config, tmp_path / "shared")
    original = engine.run(config)
    again = engine.run(str(tmp_path / "shared" / "config.yaml"))
    assert again.market.source == "csv"
    np.testing.assert_array_equal(
        again.simulation.value.to_numpy(), original.simulation.value.to_numpy()
    )
    np.testing.assert_array_equal(again.benchmark.to_numpy(), original.benchmark.to_numpy())
