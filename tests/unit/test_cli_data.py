"""`eastwind data fetch|show`: coverage per symbol (flat and dropped rows), suspect prints,
series that end early, and the yahoo cache."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from engine.cli import main
from engine.data import yahoo
from tests.unit.test_data_yahoo import FakeYahoo

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "data" / "real"


def _config(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "c.yaml"
    document = {"name": "c", "data": data, "strategy": {"name": "equal_weight"}}
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.skipif(not REAL.exists(), reason="shared real data is absent")
def test_data_show_with_real_hk_files_counts_half_days_as_flat_rows(tmp_path, capsys):
    config = _config(
        tmp_path,
        {
            "source": "csv",
            "path": str(REAL),
            "symbols": ["0700.HK"],
            "start": "2024-12-01",
            "end": "2025-01-31",
            "files": {"0700.HK": "hk/0700.HK.csv"},
            "fx": {"HKD": {"file": "fx/USDHKD.csv", "quote": "units_per_base"}},
        },
    )
    assert main(["data", "show", str(config)]) == 0
    out = capsys.readouterr().out
    # 2024-12-24, 2024-12-31 and 2025-01-28 are half days; no row on a closed day
    assert _cells(out, "0700.HK")[-2:] == ["3", "0"]
    assert "XHKG" in out and "placeholder" not in out


def _cells(out: str, symbol: str) -> list[str]:
    """The cells of `symbol`'s row in a rich table."""
    line = next(line for line in out.splitlines() if line.lstrip("│ ").startswith(symbol))
    return [cell.strip() for cell in line.strip("│ ").split("│")]


def test_data_fetch_with_yahoo_source_fills_cache_then_show_works_offline(
    tmp_path, monkeypatch, capsys
):
    network = FakeYahoo()
    monkeypatch.setattr(yahoo, "_download", network)
    config = _config(
        tmp_path,
        {
            "source": "yahoo",
            "cache": "cache",
            "symbols": ["AAPL", "MSFT"],
            "start": "2024-01-02",
            "end": "2024-02-29",
        },
    )
    assert main(["data", "fetch", str(config)]) == 0
    assert (tmp_path / "cache" / "AAPL.parquet").exists()
    network.online = False
    calls = len(network.calls)
    assert main(["data", "show", str(config)]) == 0
    assert len(network.calls) == calls  # show never touches the network
    assert "AAPL" in capsys.readouterr().out


@pytest.mark.parametrize("cached", [False, True], ids=["no cache", "short cache"])
def test_data_fetch_without_network_exits_2_naming_the_network(
    tmp_path, monkeypatch, capsys, cached
):
    network = FakeYahoo()
    monkeypatch.setattr(yahoo, "_download", network)
    data = {"source": "yahoo", "cache": "cache", "symbols": ["AAPL"], "start": "2024-01-02"}
    if cached:  # data.allow_partial lets a run end early; never a fetch
        assert main(["data", "fetch", str(_config(tmp_path, {**data, "end": "2024-01-31"}))]) == 0
        data["allow_partial"] = True
    network.online = False
    capsys.readouterr()

    assert main(["data", "fetch", str(_config(tmp_path, {**data, "end": "2024-02-29"}))]) == 2

    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith("DataError: ") and "AAPL" in err and "no network" in err


def test_data_fetch_with_non_yahoo_source_exits_2_naming_the_setting(capsys):
    assert main(["data", "fetch", str(ROOT / "configs" / "demo.yaml")]) == 2
    assert "data.source" in capsys.readouterr().err


def test_data_show_with_short_extra_prints_one_warning_line_and_series_counts(tmp_path, capsys):
    days = pd.bdate_range("2024-01-02", "2024-01-31").drop(pd.Timestamp("2024-01-15"))  # XNYS
    (tmp_path / "AAA.csv").write_text("date,close\n" + "".join(f"{d.date()},10\n" for d in days))
    (tmp_path / "f.csv").write_text("date,v\n" + "".join(f"{d.date()},1\n" for d in days[:-3]))
    config = _config(
        tmp_path,
        {
            "source": "csv",
            "path": str(tmp_path),
            "symbols": ["AAA"],
            "start": "2024-01-01",
            "end": "2024-01-31",
            "columns": {"open": None, "high": None, "low": None, "volume": None},
            "extras": {"flow": {"file": "f.csv", "column": "v"}},
        },
    )
    assert main(["data", "show", str(config)]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"DataWarning: {tmp_path / 'f.csv'}: data.extras.flow ends on 2024-01-26, before the "
        "last bar (2024-01-31); the last 3 of 21 bars have no value (NaN)"
    ]
    assert "extra flow" in captured.out and "2024-01-26" in captured.out


def test_data_show_says_how_much_warm_up_history_it_loaded(tmp_path, capsys):
    config = _config(
        tmp_path,
        {"source": "synthetic", "symbols": ["AAPL"], "start": "2024-03-01", "end": "2024-03-28"},
    )
    document = yaml.safe_load(config.read_text())
    document["strategy"] = {"name": "trend", "params": {"fast": 5, "slow": 20}}
    config.write_text(yaml.safe_dump(document))
    assert main(["data", "show", str(config)]) == 0
    out = capsys.readouterr().out
    # 19 sessions complete the 20-day average at data.start, 1 more for the lag
    assert "warm-up: 20 bars from 2024-02-01, before data.start 2024-03-01" in out
