"""The csv source on hostile input: what an error message quotes from a file, what is
read at all (a folder, a device, binary data), how far the symbol search looks, and which
``data.pattern`` values it accepts (issue 16)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from engine.cli import main
from engine.data import Columns, FileSpec, SeriesFile, load_files_market
from engine.data import files as data_files
from engine.errors import DataError

WINDOW = {"start": pd.Timestamp("2024-01-01"), "end": pd.Timestamp("2024-01-31")}
DAYS = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2024-01-02", "2024-01-31")]
SECRET = "TOKEN_0123456789abcdef"
PRICES_ONLY = Columns(open=None, high=None, low=None, volume=None)


def _prices(path: Path, column: str = "close") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"date,{column}\n" + "".join(f"{d},10\n" for d in DAYS))
    return path


def _load(spec: FileSpec, symbols=("AAA",)):
    return load_files_market(spec, list(symbols), base_currency="USD", **WINDOW)


def _error(root: Path, symbols=("AAA",), **spec: object) -> str:
    with pytest.raises(DataError) as caught:
        _load(FileSpec(root=root, columns=PRICES_ONLY, **spec), symbols)  # type: ignore[arg-type]
    return str(caught.value)


def _quotes_no_more_than(message: str, limit: int = 40) -> None:
    """No quoted name in `message` is longer than `limit` characters (plus an ellipsis)."""
    for quoted in re.findall(r"'([^']*)'", message):
        assert len(quoted) <= limit + 1, quoted


# --- what a message quotes --------------------------------------------------------------


def test_files_market_with_binary_file_says_so_without_quoting_it(tmp_path):
    (tmp_path / "AAA.csv").write_bytes(f"HOME=/root\x00API={SECRET}\x00PATH=/bin\x00".encode())
    message = _error(tmp_path)
    assert "AAA.csv" in message and "binary" in message
    assert SECRET not in message and "HOME" not in message


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_cli_run_with_proc_environ_as_a_price_file_never_prints_the_environment(tmp_path, capsys):
    _prices(tmp_path / "MSFT.csv")
    config = tmp_path / "c.yaml"
    data = {
        "source": "csv",
        "path": str(tmp_path),
        "symbols": ["AAPL", "MSFT"],
        "start": "2024-01-01",
        "end": "2024-01-31",
        "files": {"AAPL": "/proc/self/environ"},
    }
    document = {"name": "c", "data": data, "strategy": {"name": "equal_weight"}}
    config.write_text(yaml.safe_dump(document))
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "/proc/self/environ" in err
    assert os.environ["PATH"] not in err and "PATH=" not in err
    assert not (tmp_path / "out").exists()


def test_files_market_with_many_long_column_names_lists_a_few_cut_short(tmp_path):
    names = [f"column_{i}_" + "x" * 200 for i in range(100)]
    (tmp_path / "AAA.csv").write_text(",".join(names) + "\n" + ",".join("1" * 100) + "\n")
    message = _error(tmp_path)
    assert "no date column 'date'" in message and "and 92 more" in message
    assert "column_7_" in message and "column_8_" not in message
    _quotes_no_more_than(message)
    assert len(message) < 600


def test_files_market_with_a_huge_text_cell_quotes_it_cut_short(tmp_path):
    cell = SECRET * 500
    (tmp_path / "AAA.csv").write_text(f"date,close\n2024-01-02,10\n2024-01-03,{cell}\n")
    message = _error(tmp_path)
    assert "AAA.csv: line 3, column 'close'" in message and "is not a number" in message
    _quotes_no_more_than(message)
    assert len(message) < 400


def test_files_market_with_a_huge_date_cell_names_the_line_and_quotes_it_cut_short(tmp_path):
    cell = "not-a-date-" + SECRET * 500
    (tmp_path / "AAA.csv").write_text(f"date,close\n2024-01-02,10\n{cell},11\n")
    message = _error(tmp_path)
    assert "AAA.csv: line 3, column 'date'" in message and "is not a date" in message
    _quotes_no_more_than(message)
    assert len(message) < 400


def test_files_market_with_where_matching_nothing_quotes_a_few_values_cut_short(tmp_path):
    _prices(tmp_path / "AAA.csv")
    kinds = [f"kind_{i}_" + "y" * 100 for i in range(50)]
    rows = "".join(f"2024-01-02,{k},1\n" for k in kinds)
    (tmp_path / "flows.csv").write_text("date,kind,flow\n" + rows)
    item = SeriesFile("flows.csv", "flow", where={"kind": "south"})
    message = _error(tmp_path, extras={"south": item})
    assert "flows.csv: no row has kind = south" in message and "and 42 more" in message
    assert "kind_8_" not in message
    _quotes_no_more_than(message)
    assert len(message) < 600


def test_files_market_with_unreadable_bytes_names_the_file_in_a_bounded_line(tmp_path):
    (tmp_path / "AAA.csv").write_bytes(b"date,close\n2024-01-02,\xff\xfe" + b"\xff" * 5000 + b"\n")
    message = _error(tmp_path)
    assert "AAA.csv: cannot read it" in message and len(message) < 400


@pytest.mark.parametrize("kind", ["folder", "device"])
def test_files_market_with_something_not_a_file_where_a_file_should_be_says_so(tmp_path, kind):
    files = {}
    if kind == "folder":
        (tmp_path / "AAA.csv").mkdir()
    elif Path("/dev/zero").exists():
        files = {"AAA": "/dev/zero"}  # read as CSV, it never ends
    else:
        pytest.skip("needs /dev/zero")
    message = _error(tmp_path, files=files)
    assert "is not a file" in message


def test_files_market_with_yyyymmdd_numbers_as_dates_reads_those_days(tmp_path):
    (tmp_path / "AAA.csv").write_text("date,close\n20240102,10\n20240103,11\n")
    market = _load(FileSpec(root=tmp_path, columns=PRICES_ONLY))
    assert list(market.index) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")]


# --- how far the search looks -----------------------------------------------------------


def test_symbol_search_finds_a_file_three_folders_down(tmp_path):
    _prices(tmp_path / "a" / "b" / "c" / "AAA.csv")
    assert _load(FileSpec(root=tmp_path, columns=PRICES_ONLY)).close["AAA"].iloc[0] == 10.0


def test_symbol_search_stops_three_folders_down_and_says_so(tmp_path):
    _prices(tmp_path / "a" / "b" / "c" / "d" / "AAA.csv")
    message = _error(tmp_path)
    assert "AAA: no file 'AAA.csv' in" in message and "3 folder levels below" in message
    assert "data.files.AAA" in message


def test_symbol_search_through_a_symlink_loop_ends_and_finds_the_file_once(tmp_path):
    _prices(tmp_path / "hk" / "AAA.csv")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert _load(FileSpec(root=tmp_path, columns=PRICES_ONLY)).close["AAA"].iloc[0] == 10.0


def test_symbol_search_in_a_huge_folder_tree_stops_with_advice(tmp_path, monkeypatch):
    monkeypatch.setattr(data_files, "SEARCH_FOLDERS", 20)
    for i in range(30):
        (tmp_path / f"f{i}").mkdir()
    message = _error(tmp_path)
    assert "more than 20 folders" in message and "data.files.AAA" in message


# --- data.pattern -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "{sym}.csv",
        "{0}.csv",
        "{}.csv",
        "{symbol.csv",
        "{symbol!x}",
        "{symbol:>9}.csv",
        "{symbol.upper}.csv",
        "{symbol[0]}.csv",
        "prices.csv",
        "{{symbol}}.csv",
        "}",
    ],
)
def test_files_market_with_a_bad_pattern_names_data_pattern_and_the_fix(tmp_path, pattern):
    _prices(tmp_path / "AAA.csv")
    message = _error(tmp_path, pattern=pattern)
    assert message.startswith("data.pattern: ") and "use {symbol}" in message


@pytest.mark.parametrize(
    "pattern", ["../{symbol}.csv", "a/../../{symbol}.csv", "/tmp/{symbol}.csv"]
)
def test_files_market_with_a_pattern_leaving_the_folder_is_an_error(tmp_path, pattern):
    _prices(tmp_path / "inner" / "AAA.csv")
    message = _error(tmp_path / "inner", pattern=pattern)
    assert message.startswith("data.pattern: ") and "below data.path" in message


@pytest.mark.parametrize("pattern", ["{symbol}.csv", "px_{symbol}.csv", "{symbol}/daily.csv"])
def test_files_market_with_a_good_pattern_reads_the_file(tmp_path, pattern):
    _prices(tmp_path / pattern.format(symbol="AAA"))
    spec = FileSpec(root=tmp_path, pattern=pattern, columns=PRICES_ONLY)
    assert _load(spec).close["AAA"].iloc[-1] == 10.0


def test_cli_run_with_a_bad_pattern_exits_2_with_one_line_naming_the_config(tmp_path, capsys):
    _prices(tmp_path / "AAPL.csv")
    data = {
        "source": "csv",
        "path": ".",
        "symbols": ["AAPL"],
        "start": "2024-01-01",
        "end": "2024-01-31",
        "pattern": "{sym}.csv",
    }
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({"name": "c", "data": data, "strategy": {"name": "equal_weight"}})
    )
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "c.yaml" in err and "data.pattern" in err


def test_files_market_with_a_symbol_that_makes_the_pattern_leave_the_folder_is_an_error(
    tmp_path,
):
    _prices(tmp_path / "daily.csv")
    (tmp_path / "inner").mkdir()
    spec = FileSpec(root=tmp_path / "inner", pattern="{symbol}/daily.csv", columns=PRICES_ONLY)
    metadata = {"..": {"currency": "USD", "exchange": "XNYS", "lot_size": 1}}
    with pytest.raises(
        DataError, match=r"\.\.: data\.pattern makes '\.\./daily\.csv', which leads"
    ):
        load_files_market(spec, [".."], base_currency="USD", metadata=metadata, **WINDOW)


def test_files_market_with_more_fields_on_the_first_row_than_the_header_names_the_line(
    tmp_path,
):
    # pandas would take the extra field as a sign that the first columns are an index,
    # and shift every value one column to the left
    rows = "".join(f"{d},10{',99' if i == 0 else ''}\n" for i, d in enumerate(DAYS))
    (tmp_path / "AAA.csv").write_text("date,close\n" + rows)
    message = _error(tmp_path)
    assert "AAA.csv: line 2 has 3 fields, the header 2" in message


def test_files_market_with_an_empty_extra_field_on_the_first_row_reads_the_values(tmp_path):
    rows = "".join(f"{d},10{',' if i == 0 else ''}\n" for i, d in enumerate(DAYS))
    (tmp_path / "AAA.csv").write_text("date,close\n" + rows)
    close = _load(FileSpec(root=tmp_path, columns=PRICES_ONLY)).close["AAA"]
    assert close.index[0] == pd.Timestamp(DAYS[0]) and (close == 10.0).all()


@pytest.mark.parametrize("day", ["9999-12-31", "1600-01-01"])
def test_files_market_with_a_date_pandas_cannot_hold_names_the_line(tmp_path, day):
    (tmp_path / "AAA.csv").write_text(f"date,close\n2024-01-02,10\n{day},11\n")
    message = _error(tmp_path)
    assert f"AAA.csv: line 3, column 'date': '{day}' is outside the years" in message


@pytest.mark.parametrize(
    ("column", "cell"), [("close", "1e300"), ("close", "5e-324"), ("open", "1e16")]
)
def test_files_market_with_a_price_no_listing_trades_at_names_the_row(tmp_path, column, cell):
    # a one-bar spike of 1e300 made the volatility and the equity curve overflow to inf
    rows = [f"{d},10" if d != "2024-01-05" else f"{d},{cell}" for d in DAYS]
    other = "open" if column == "close" else "close"
    rows = [f"{row},10" for row in rows]  # the other price column, always 10
    (tmp_path / "AAA.csv").write_text(f"date,{column},{other}\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as caught:
        _load(FileSpec(root=tmp_path, columns=Columns(high=None, low=None, volume=None)))
    message = str(caught.value)
    assert f"AAA.csv: AAA {column} on 2024-01-05 is {float(cell):.6g}, outside" in message
