"""Costs by trade date: the hk and us presets' rates on either side of their change
dates, dated schedules written in YAML, how they merge through the cost layers, and
that settings which do not change reach the kernel exactly as plain numbers.

Prices are flat, so every trade's value is known; each expected cost is the rate in
force on the trade's date (from the published schedules, not from the preset code)
times that value, worked out in the comments.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from engine.config import load_config, merge, value_on
from engine.errors import ConfigError
from engine.pipeline import cost_arguments, load_market, prepare_kernel
from tests.dated_runs import config, run

HK_DAYS = ["2020-06-01", "2020-06-02", "2022-06-01", "2022-06-02", "2024-06-03", "2024-06-04"]
# commission and exchange charges off, so that the fees column holds only what is tested
NO_COMMISSION = {"rate": 0.0, "minimum": 0.0}
NO_CHARGES = {
    "trading_fee": {"rate": 0.0},
    "trading_tariff": {"minimum": 0.0, "maximum": 0.0},
    "sfc_levy": {"rate": 0.0},
    "afrc_levy": {"rate": 0.0},
    "settlement": {"rate": 0.0, "minimum": 0.0, "maximum": 0.0},
}


def _flat(days: list[str], price: float = 100.0) -> dict[str, float]:
    return dict.fromkeys(days, price)


def _in_and_out(days: list[str], symbol: str, weight: float = 0.5) -> dict[str, dict[str, float]]:
    """Buy `weight` on every other day, sell it all the next."""
    return {day: {symbol: weight if i % 2 == 0 else 0.0} for i, day in enumerate(days)}


def test_hk_preset_stamp_duty_is_0_13_percent_in_2022_and_0_1_percent_in_2020_and_2024(
    tmp_path,
):
    path = config(
        tmp_path,
        {"0700.HK": _flat(HK_DAYS)},
        _in_and_out(HK_DAYS, "0700.HK"),
        {"costs": {"XHKG": {"preset": "hk", "fees": NO_COMMISSION, "charges": NO_CHARGES}}},
    )
    trades = run(path).simulation.trades
    assert [str(d.date()) for d in trades["date"]] == HK_DAYS
    # stamp duty on buys and sells: 0.1% until 2021-07-31, 0.13% to 2023-11-16, then 0.1%
    rates = np.array([0.001, 0.001, 0.0013, 0.0013, 0.001, 0.001])
    np.testing.assert_allclose(trades["tax"], trades["value"].abs() * rates, rtol=1e-12)
    # the first buy: 0.5 * 1,000,000 / 100 = 5,000 shares, 500,000 traded, tax 500
    assert trades["tax"].iloc[0] == pytest.approx(500.0, rel=1e-12)
    assert trades["fees"].sum() == 0.0


def test_hk_preset_afrc_levy_and_trading_fee_apply_from_their_change_dates(tmp_path):
    days = ["2021-12-30", "2021-12-31", "2022-01-03", "2022-01-04", "2022-12-30", "2023-01-03"]
    # keep the preset's trading fee, tariff and AFRC levy; everything else off
    charges = {"sfc_levy": NO_CHARGES["sfc_levy"], "settlement": NO_CHARGES["settlement"]}
    hk = {"preset": "hk", "fees": NO_COMMISSION, "charges": charges}
    path = config(
        tmp_path,
        {"0700.HK": _flat(days)},
        _in_and_out(days, "0700.HK"),
        {"costs": {"XHKG": {**hk, "buy_tax": 0.0, "sell_tax": 0.0}}},
    )
    trades = run(path).simulation.trades
    value = trades["value"].abs().to_numpy()
    # trading fee 0.005% to 2022-12-31 then 0.00565%; AFRC levy 0 before 2022-01-01 then
    # 0.00015%; tariff HK$0.50 per trade until the 2023 fee change removed it
    trading = np.array([0.00005] * 5 + [0.0000565])
    afrc = np.array([0.0, 0.0, 0.0000015, 0.0000015, 0.0000015, 0.0000015])
    tariff = np.array([0.5] * 5 + [0.0])
    np.testing.assert_allclose(trades["fees"], value * (trading + afrc) + tariff, rtol=1e-12)
    # the first buy: 500,000 * 0.005% + 0.50 = 25.50
    assert trades["fees"].iloc[0] == pytest.approx(25.5, rel=1e-12)
    assert trades["tax"].sum() == 0.0


def test_us_preset_charges_the_sec_fee_in_force_on_each_sale(tmp_path):
    days = ["2024-05-20", "2024-05-21", "2024-05-22", "2025-05-13", "2025-05-14"]
    weights = {
        "2024-05-20": {"AAPL": 0.5},
        "2024-05-21": {"AAPL": 0.25},  # sells half: $8.00 per million (since 2023-02-27)
        "2024-05-22": {"AAPL": 0.0},  # sells the rest: $27.80 per million from today
        "2025-05-13": {"AAPL": 0.5},
        "2025-05-14": {"AAPL": 0.0},  # $0.00 per million from 2025-05-14
    }
    path = config(
        tmp_path,
        {"AAPL": _flat(days)},
        weights,
        {"costs": {"USD": {"preset": "us", "fees": NO_COMMISSION}}},
        base="USD",
    )
    trades = run(path).simulation.trades
    sold = trades["qty"] < 0
    assert sold.tolist() == [False, True, True, False, True]
    rates = np.array([8.00e-6, 27.80e-6, 0.0])
    np.testing.assert_allclose(trades.loc[sold, "tax"], -trades.loc[sold, "value"] * rates)
    assert (trades.loc[~sold, "tax"] == 0.0).all()
    # the first sale: 2,500 of 5,000 shares at $100 = $250,000; fee 250,000 * 8e-6 = $2.00
    assert trades["tax"].iloc[1] == pytest.approx(2.0, rel=1e-12)


def test_yaml_schedule_overrides_the_preset_setting_for_one_exchange_only(tmp_path):
    days = ["2022-06-01", "2022-06-02", "2022-06-06", "2022-06-07"]
    weights = {
        days[0]: {"0700.HK": 0.25, "AAPL": 0.25},
        days[1]: {"0700.HK": 0.0, "AAPL": 0.0},
        days[2]: {"0700.HK": 0.25, "AAPL": 0.25},
        days[3]: {"0700.HK": 0.0, "AAPL": 0.0},
    }
    hk = {
        "preset": "hk",
        "fees": NO_COMMISSION,
        "charges": NO_CHARGES,
        "sell_tax": {"2020-01-01": 0.002, "2022-06-06": 0.003},
    }
    path = config(
        tmp_path,
        {"0700.HK": _flat(days), "AAPL": _flat(days, 50.0)},
        weights,
        {"costs": {"XHKG": hk, "USD": {"preset": "us", "fees": NO_COMMISSION}}},
        base="USD",
        data={"fx": {"HKD": {"file": "HKD.csv", "quote": "units_per_base"}}},
    )
    (tmp_path / "HKD.csv").write_text("date,close\n" + "".join(f"{d},7.8\n" for d in days))
    trades = run(path).simulation.trades
    hk_trades = trades[trades["symbol"] == "0700.HK"]
    us_trades = trades[trades["symbol"] == "AAPL"]
    value = hk_trades["value"].abs().to_numpy()
    # 0700.HK: buys keep the preset's 0.13% stamp duty; sells pay the YAML schedule,
    # 0.2% on 2022-06-02 and 0.3% from 2022-06-06 (not the preset's 0.13%)
    np.testing.assert_allclose(hk_trades["tax"], value * [0.0013, 0.002, 0.0013, 0.003])
    # AAPL keeps the us preset: SEC fee $22.90 per million on sales (since 2022-05-14)
    us_value = us_trades["value"].abs().to_numpy()
    np.testing.assert_allclose(us_trades["tax"], us_value * [0.0, 22.90e-6, 0.0, 22.90e-6])


def test_later_layer_schedule_replaces_the_earlier_schedule_whole(tmp_path):
    days = ["2024-06-03", "2024-06-04"]
    user = {"2024-01-01": 0.002}
    path = config(
        tmp_path,
        {"0700.HK": _flat(days)},
        _in_and_out(days, "0700.HK"),
        {"preset": "hk", "costs": {"0700.HK": {"sell_tax": user}}},
    )
    costs = load_config(path).portfolio.asset_costs("0700.HK", "XHKG", "HKD")
    # none of the preset's dates (2006, 2021, 2023) survive under the symbol's schedule
    assert costs.sell_tax == {dt.date(2024, 1, 1): 0.002}
    assert value_on(costs.buy_tax, dt.date(2022, 1, 3)) == 0.0013  # the preset's, untouched


def test_merge_replaces_a_dated_schedule_and_still_merges_sections_key_by_key():
    base = {"fees": {"rate": 0.001, "minimum": 5}, "sell_tax": {dt.date(2021, 8, 1): 0.0013}}
    override = {"fees": {"rate": 0.002}, "sell_tax": {dt.date(2024, 1, 1): 0.002}}
    merged = merge(base, override)
    assert merged["fees"] == {"rate": 0.002, "minimum": 5}
    assert merged["sell_tax"] == {dt.date(2024, 1, 1): 0.002}


def test_extends_with_a_schedule_replaces_the_base_schedule(tmp_path):
    days = ["2024-06-03", "2024-06-04"]
    base = config(
        tmp_path,
        {"0700.HK": _flat(days)},
        _in_and_out(days, "0700.HK"),
        {"sell_tax": {"2021-08-01": 0.0013, "2023-11-17": 0.001}},
        name="base",
    )
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nportfolio:\n  sell_tax: {2024-01-01: 0.002}\n")
    assert load_config(child).portfolio.sell_tax == {dt.date(2024, 1, 1): 0.002}
    assert len(load_config(base).portfolio.sell_tax) == 2


def test_schedule_starting_after_the_first_bar_names_its_file_line_and_path(tmp_path):
    days = ["2021-03-01", "2021-03-02"]
    path = config(
        tmp_path,
        {"0700.HK": _flat(days)},
        _in_and_out(days, "0700.HK"),
        {"costs": {"XHKG": {"sell_tax": {"2021-08-01": 0.0013}}}},
    )
    with pytest.raises(ConfigError) as info:
        run(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:")
    assert "portfolio.costs.XHKG.sell_tax: sell_tax (0700.HK) starts on 2021-08-01" in message
    assert "after the first bar 2021-03-01" in message


def test_preset_before_its_first_date_stops_naming_the_preset(tmp_path):
    days = ["2006-06-01", "2006-06-02"]
    path = config(
        tmp_path,
        {"0700.HK": _flat(days)},
        _in_and_out(days, "0700.HK"),
        {"costs": {"XHKG": {"preset": "hk"}}},
    )
    with pytest.raises(ConfigError, match=r"portfolio\.costs\.XHKG\.preset: the hk preset's"):
        run(path)


def test_invalid_schedule_value_is_one_error_naming_the_date(tmp_path):
    days = ["2024-06-03", "2024-06-04"]
    path = config(
        tmp_path,
        {"0700.HK": _flat(days)},
        _in_and_out(days, "0700.HK"),
        {"sell_tax": {"2024-01-01": 0.001, "2024-06-01": 0.5}},
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).endswith(
        "portfolio.sell_tax: on 2024-06-01: Input should be less than or equal to 0.2 (was 0.5)"
    )


def test_constant_settings_reach_prepare_market_as_plain_numbers(tmp_path):
    days = ["2024-06-03", "2024-06-04", "2024-06-05"]
    path = config(
        tmp_path,
        {"0700.HK": _flat(days), "9988.HK": _flat(days, 80.0)},
        _in_and_out(days, "0700.HK"),
        {"costs": {"XHKG": {"preset": "hk"}}, "borrow_rate": 0.02, "slippage": 0.0005},
    )
    cfg = load_config(path)
    market = load_market(cfg)
    arguments = cost_arguments(cfg, market)
    # the hk preset's rates do not change within June 2024: numbers, as before schedules
    for name in ("fees", "min_fees", "fixed_fees", "buy_tax", "sell_tax", "slippage"):
        assert all(type(v) is float for v in arguments[name].values()), name
    assert arguments["sell_tax"] == {"0700.HK": 0.001, "9988.HK": 0.001}
    assert arguments["borrow_rate"] == {"0700.HK": 0.02, "9988.HK": 0.02}
    for charge in arguments["charges"]:
        assert all(isinstance(field, dict) for field in vars(charge).values())
    kernel = prepare_kernel(cfg, market)
    assert kernel.costs.shape[0] == 1 and not kernel.segment.any()  # one cost segment
    assert kernel.borrow.shape[0] == 1  # one row of borrow rates, reused on every bar


def test_preset_changing_within_the_run_makes_one_segment_per_change(tmp_path):
    days = ["2021-07-30", "2021-08-02", "2021-08-03"]
    path = config(
        tmp_path,
        {"0700.HK": _flat(days)},
        _in_and_out(days, "0700.HK"),
        {"costs": {"XHKG": {"preset": "hk"}}},
    )
    cfg = load_config(path)
    kernel = prepare_kernel(cfg, load_market(cfg))
    # stamp duty moves to 0.13% on Sunday 2021-08-01: in force from Monday's bar
    assert kernel.segment.tolist() == [[0, 1, 1]]
    np.testing.assert_array_equal(kernel.costs["sell_tax"][:, 0], [0.001, 0.0013])


def test_schedule_constant_over_the_run_gives_bit_identical_results_to_the_number(tmp_path):
    days = ["2024-06-03", "2024-06-04", "2024-06-05", "2024-06-06"]
    path = config(
        tmp_path,
        {"0700.HK": dict(zip(days, [100.0, 103.0, 99.0, 101.0], strict=True))},
        _in_and_out(days, "0700.HK"),
        {"sell_tax": 0.001, "fees": {"rate": 0.0003, "minimum": 50.0}, "cash_rate": 0.03},
    )
    plain = run(path)
    dated = run(
        path,
        (
            "portfolio.sell_tax={2021-08-01: 0.0013, 2023-11-17: 0.001}",
            "portfolio.fees.minimum={2000-01-01: 50.0}",
            "portfolio.cash_rate={2024-01-01: 0.03}",
        ),
    )
    assert plain.metrics == dated.metrics
    np.testing.assert_array_equal(plain.simulation.stats, dated.simulation.stats)
