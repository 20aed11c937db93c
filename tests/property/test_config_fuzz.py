"""Fuzzed configs through the command line: a result or one line, nothing in between.

A small valid config (synthetic data, half a year) is mutated: wrong types, missing and
unknown keys, huge, negative and NaN numbers, strings where numbers go, bad dates,
odd symbols, deep nesting, and in the text duplicate keys and anchors. Each mutant runs
through `engine.cli.main` in this process (``run``, or ``sweep`` with a small grid) and
must either exit 0 with finite results, or exit 2 with one line on stderr and no output
folder; never a traceback, a hang or a partial output.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import io
import json
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main
from tests.limits import time_limit

BASE: dict[str, Any] = {
    "name": "fuzz",
    "data": {
        "source": "synthetic",
        "symbols": ["AAPL", "MSFT", "0700.HK"],
        "start": dt.date(2021, 1, 1),
        "end": dt.date(2021, 6, 30),
        "seed": 3,
    },
    "strategy": {"name": "trend", "params": {"signal": "ma_cross", "fast": 5, "slow": 20}},
    "portfolio": {
        "init_cash": 100_000,
        "fees": {"rate": 0.001, "minimum": 1.0},
        "slippage": 0.0002,
        "borrow_rate": 0.02,
        "lag": 1,
        "max_leverage": 2.0,
        "costs": {"HKD": {"preset": "hk"}},
    },
    "benchmark": "QQQ",
    "report": {"risk_free": 0.01},
}
SWEEP: dict[str, Any] = {
    "params": {"strategy.params.fast": [5, 10], "portfolio.fees.rate": [1e-4, 0.001]},
    "walk_forward": {"train": 60, "test": 30},
    "chunk": 2,
}
SECONDS_PER_EXAMPLE = 120  # a ceiling that turns a hang into a failure, not a speed test

ODD_TEXT = [
    "",
    "abc",
    "1e-4",
    "2021-02-30",
    "yesterday",
    "20210101",
    "ON",
    "^GSPC",
    "0700.HK",
    "A B",
    "../x",
    "XHKG",
    "weekly",
    "open",
    "hk",
    "USD",
    "equal_weight",
    "no_module:f",
    ".nan",
]
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 1, 2, 0.5, 365, 10**20, 1e308, -1e-308, 1e-4]),
)


def _nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


ODD = st.one_of(
    st.none(),
    st.booleans(),
    NUMBERS,
    st.text(max_size=12),
    st.sampled_from(ODD_TEXT),
    st.dates(min_value=dt.date(1985, 1, 1), max_value=dt.date(2035, 12, 31)),
    st.lists(st.sampled_from(["AAPL", "QQQ", "0700.HK", "", "XYZ", 1, None]), max_size=4),
    st.dictionaries(st.sampled_from(["a", "rate", "AAPL", "1"]), NUMBERS, max_size=2),
    st.integers(min_value=2, max_value=70).map(_nested),
)


SYMBOLS = ["AAPL", "MSFT", "QQQ", "0700.HK", "9988.HK", "^GSPC", "HKD=X", "XYZ", "ON", ""]


def _near(value: Any) -> st.SearchStrategy[Any]:
    """Values of the same type as `value`, often at or past the edges of what is allowed."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.one_of(
            st.integers(min_value=-5, max_value=3000),
            st.sampled_from([0, 1, 2, 10, 11, 2520, 10**9]),
        )
    if isinstance(value, float):
        return st.one_of(
            st.floats(min_value=-1e6, max_value=1e12, allow_nan=False),
            st.sampled_from([0.0, 1e-12, 0.2, 0.21, 1e300, 5e-324, -0.0]),
        )
    if isinstance(value, dt.date):
        return st.dates(min_value=dt.date(1985, 1, 1), max_value=dt.date(2035, 12, 31))
    if isinstance(value, list):
        return st.lists(st.sampled_from(SYMBOLS), min_size=0, max_size=4)
    return st.sampled_from(ODD_TEXT)


def _paths(node: Any, loc: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every key path of `node`, mappings included, with the value there."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*loc, key), value
            yield from _paths(value, (*loc, key))


def _mappings(node: Any, loc: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        yield loc
        for key, value in node.items():
            yield from _mappings(value, (*loc, key))


def _apply(document: dict[str, Any], mutation: tuple[Any, ...]) -> None:
    kind, loc, value = mutation
    parent: Any = document
    for part in loc[:-1]:
        parent = parent.get(part) if isinstance(parent, dict) else None
    if not isinstance(parent, dict):
        return  # an earlier mutation replaced the mapping this one would change
    if kind == "delete":
        parent.pop(loc[-1], None)
    else:
        parent[loc[-1]] = value


def _mutation(document: dict[str, Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    paths = sorted(_paths(document), key=repr)
    mappings = sorted(_mappings(document), key=repr)
    unknown = st.sampled_from(["extra", "fee", "Start", "symbol", "1", "params"])
    near = st.sampled_from(paths).flatmap(
        lambda found: st.tuples(st.just("set"), st.just(found[0]), _near(found[1]))
    )
    return st.one_of(
        near,
        near,
        st.tuples(st.just("set"), st.sampled_from([loc for loc, _ in paths]), ODD),
        st.tuples(st.just("delete"), st.sampled_from([loc for loc, _ in paths]), st.none()),
        st.tuples(st.just("set"), st.tuples(st.sampled_from(mappings), unknown), ODD).map(
            lambda m: (m[0], (*m[1][0], m[1][1]), m[2])
        ),
    )


@st.composite
def configs(draw: st.DrawFn) -> tuple[str, str]:
    """A mutated config as YAML text, and the command that runs it."""
    command = draw(st.sampled_from(["run", "sweep"]))
    document = copy.deepcopy(BASE)
    if command == "sweep":
        document["sweep"] = copy.deepcopy(SWEEP)
    for mutation in draw(st.lists(_mutation(document), min_size=1, max_size=3)):
        _apply(document, mutation)
    text = yaml.safe_dump(document, sort_keys=False)
    # edits of the text itself, which a dumped mapping cannot hold
    edit = draw(st.sampled_from(["none"] * 4 + ["duplicate", "anchor", "date", "exponent"]))
    if edit == "duplicate":  # a second block of a section, as a careless merge leaves it
        section = draw(st.sampled_from(sorted(map(str, document))))
        text += yaml.safe_dump({section: {"lag": 2}}, sort_keys=False)
    elif edit == "anchor":
        text = text.replace("portfolio:", "portfolio: &p", 1) + "x: *p\n"
    elif edit == "date":  # unquoted, so YAML reads it as a date that does not exist
        text = text.replace("2021-06-30", draw(st.sampled_from(["2021-02-30", "2021-13-01"])))
    elif edit == "exponent":
        text = text.replace("0.001", "1e-3").replace("0.0002", "2E-4")
    return command, text


def _numbers(node: Any) -> Iterator[float]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _numbers(value)
    elif isinstance(node, int | float) and not isinstance(node, bool):
        yield float(node)


def _check_outputs(command: str, out: Path) -> None:
    if command == "run":
        document = json.loads((out / "metrics.json").read_text())
        assert all(math.isfinite(v) for v in _numbers(document)), document
        return
    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == len(pd.read_csv(out / "results.csv"))
    metrics = table.select_dtypes("number").to_numpy(dtype=float)
    assert not (metrics == math.inf).any() and not (metrics == -math.inf).any()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=configs())
def test_fuzzed_config_gives_a_result_or_one_line_never_a_traceback(case):
    command, text = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(text)
        out = Path(folder) / "out"
        stderr = io.StringIO()
        args = [command, str(path), "--out", str(out), "--quiet"]
        args += ["--no-html"] if command == "run" else []
        with time_limit(SECONDS_PER_EXAMPLE), contextlib.redirect_stderr(stderr):
            code = main(args)
        lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
        errors = [line for line in lines if not line.startswith("DataWarning: ")]
        if code == 0:
            assert not errors, stderr.getvalue()
            _check_outputs(command, out)
        else:
            assert code == 2, stderr.getvalue()
            assert len(errors) == 1 and errors[0].split(":")[0].endswith("Error"), errors
            assert not out.exists(), sorted(p.name for p in out.iterdir())
