"""`eastwind run` on a folder of damaged price files (hypothesis, issue 16).

A small, valid csv folder is damaged in one to three ways (text or huge numbers in
number cells, empty, binary or cut-off files, unsorted or repeated dates, a missing
column, a BOM, another delimiter, dates in odd formats, a folder where a file should
be) and run through the command line in this process. Whatever the damage, the run
either succeeds with finite results, or exits 2 with one line naming the problem:
never a traceback, a hang, or a partial output folder.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.cli import main
from tests.limits import time_limit

SYMBOLS = ("AAA", "BBB")
HOLIDAYS = ("2024-01-15", "2024-02-19")  # XNYS: Martin Luther King Day, Presidents' Day
DAYS = [
    d.strftime("%Y-%m-%d")
    for d in pd.bdate_range("2024-01-02", "2024-02-29")
    if d.strftime("%Y-%m-%d") not in HOLIDAYS
]
ERRORS = ("DataError: ", "ConfigError: ", "StrategyError: ", "SimulationError: ")
SECONDS = 120  # for one run; the first one compiles the kernel when the cache is cold


def _clean(symbol: str) -> str:
    rows = [
        f"{d},{100 + i + (j % 3)},{101 + i},{99 + i},{100.5 + i},{1000 + j}"
        for j, d in enumerate(DAYS)
        for i in [10 * SYMBOLS.index(symbol)]
    ]
    return "date,open,high,low,close,volume\n" + "\n".join(rows) + "\n"


Damage = Callable[[str, st.DataObject], str | bytes | None]  # None: a folder instead


def _cell(text: str, data: st.DataObject, column: int, values: st.SearchStrategy[str]) -> str:
    lines = text.split("\n")
    row = data.draw(st.integers(1, len(lines) - 2), label="row")
    cells = lines[row].split(",")
    if column < len(cells):
        cells[column] = data.draw(values, label="cell")
    lines[row] = ",".join(cells)
    return "\n".join(lines)


BAD_NUMBERS = st.sampled_from(
    ["abc", "1,5", "12O.5", "-", "#N/A", "inf", "-inf", "1e400", "nan", "", " ", "0x1A"]
)
HUGE = st.sampled_from(["1e308", "1e300", "-1e308", "1e-320", "5e-324", "99999999999999999999"])
NOT_POSITIVE = st.sampled_from(["0", "-5", "-0.0", "-1e-9"])
ODD_DATES = st.sampled_from(
    [
        "2024/01/03",
        "03.01.2024",
        "Jan 3 2024",
        "20240103",
        "2024-01-03T00:00:00+08:00",
        "2024-01-03 25:00",
        "9999-12-31",
        "1600-01-01",
        "2024-02-30",
        "yesterday",
        "",
    ]
)


def _swap_lines(text: str, data: st.DataObject) -> str:
    lines = text.split("\n")
    i, j = (data.draw(st.integers(1, len(lines) - 2), label="line") for _ in range(2))
    lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def _repeat_line(text: str, data: st.DataObject) -> str:
    lines = text.split("\n")
    i = data.draw(st.integers(1, len(lines) - 2), label="line")
    return "\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])


def _drop_column(text: str, data: st.DataObject) -> str:
    column = data.draw(st.integers(0, 5), label="column")
    return "\n".join(
        ",".join(c for k, c in enumerate(line.split(",")) if k != column) if line else line
        for line in text.split("\n")
    )


def _rename_header(text: str, data: st.DataObject) -> str:
    header, rest = text.split("\n", 1)
    name = data.draw(st.sampled_from(["Date", "close ", "CLOSE", "x" * 500, "\x01", "日期"]))
    cells = header.split(",")
    cells[data.draw(st.integers(0, len(cells) - 1), label="column")] = name
    return ",".join(cells) + "\n" + rest


def _cut(text: str, data: st.DataObject) -> str:
    return text[: data.draw(st.integers(0, len(text)), label="length")]


def _extra_fields(text: str, data: st.DataObject) -> str:
    lines = text.split("\n")
    i = data.draw(st.integers(1, len(lines) - 2), label="line")
    lines[i] += data.draw(st.sampled_from([",1,2,3", ",", ',"unclosed']), label="tail")
    return "\n".join(lines)


DAMAGES: dict[str, Damage] = {
    "bad number": lambda t, d: _cell(t, d, d.draw(st.integers(1, 5)), BAD_NUMBERS),
    "huge number": lambda t, d: _cell(t, d, 4, HUGE),
    "price not positive": lambda t, d: _cell(t, d, d.draw(st.integers(1, 4)), NOT_POSITIVE),
    "odd date": lambda t, d: _cell(t, d, 0, ODD_DATES),
    "unicode cell": lambda t, d: _cell(t, d, d.draw(st.integers(0, 5)), st.text(max_size=8)),
    "empty": lambda t, d: "",
    "header only": lambda t, d: t.split("\n", 1)[0] + "\n",
    "binary junk": lambda t, d: d.draw(st.binary(min_size=1, max_size=200), label="bytes"),
    "junk after text": lambda t, d: t.encode() + d.draw(st.binary(min_size=1, max_size=50)),
    "unsorted dates": _swap_lines,
    "repeated date": _repeat_line,
    "missing column": _drop_column,
    "renamed header": _rename_header,
    "cut off": _cut,
    "extra fields": _extra_fields,
    "bom": lambda t, d: "\ufeff" + t,
    "crlf": lambda t, d: t.replace("\n", "\r\n"),
    "semicolons": lambda t, d: t.replace(",", d.draw(st.sampled_from([";", "\t", "|", " "]))),
    "decimal commas": lambda t, d: t.replace(",", ";").replace(".", ","),
    "folder instead": lambda t, d: None,
}


@contextlib.contextmanager
def _warnings_as_printed() -> Iterator[None]:
    """Warnings reach stderr as they would outside pytest, which records them instead."""

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


def _write_folder(root: Path, data: st.DataObject) -> list[str]:
    texts: dict[str, str | bytes | None] = {s: _clean(s) for s in SYMBOLS}
    applied = []
    for _ in range(data.draw(st.integers(1, 3), label="damages")):
        symbol = data.draw(st.sampled_from(SYMBOLS), label="file")
        name = data.draw(st.sampled_from(sorted(DAMAGES)), label="damage")
        text = texts[symbol]
        # bytes, a folder, or text too short to pick a row from take no further damage
        if isinstance(text, str) and text.count("\n") >= 3:
            texts[symbol] = DAMAGES[name](text, data)
            applied.append(f"{symbol}: {name}")
    (root / "prices").mkdir()
    for symbol, text in texts.items():
        path = root / "prices" / f"{symbol}.csv"
        if text is None:
            path.mkdir()
        elif isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8", newline="")
    return applied


def _config(root: Path) -> Path:
    data = {
        "source": "csv",
        "path": "prices",
        "symbols": list(SYMBOLS),
        "start": DAYS[0],
        "end": DAYS[-1],
    }
    document = {"name": "fuzz", "data": data, "strategy": {"name": "equal_weight"}}
    path = root / "fuzz.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _assert_finite(out: Path) -> None:
    equity = pd.read_csv(out / "equity.csv", index_col=0)
    assert len(equity) and np.isfinite(equity.to_numpy(dtype=float)).all()
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    for key in ("total_return", "volatility", "max_drawdown", "turnover"):
        assert np.isfinite(metrics[key]), (key, metrics[key])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_cli_run_with_damaged_price_files_succeeds_finitely_or_exits_2_with_one_line(data, capsys):
    capsys.readouterr()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        damage = _write_folder(root, data)
        out = root / "out"
        with time_limit(SECONDS), _warnings_as_printed():
            code = main(["run", str(_config(root)), "--out", str(out), "--quiet", "--no-html"])
        err = capsys.readouterr().err
        lines = err.splitlines()
        event(f"exit {code}")  # --hypothesis-show-statistics: how often each outcome ran
        if code == 0:
            _assert_finite(out)
            assert all(line.startswith("DataWarning: ") for line in lines), (damage, err)
            return
        assert code == 2, (damage, code, err)
        assert lines and lines[-1].startswith(ERRORS), (damage, err)
        assert all(line.startswith("DataWarning: ") for line in lines[:-1]), (damage, err)
        assert "Traceback" not in err and len(lines[-1]) < 800, (damage, err)
        assert not out.exists(), (damage, sorted(p.name for p in out.iterdir()))
