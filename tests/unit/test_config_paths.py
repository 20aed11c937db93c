"""Where a config's paths resolve through ``extends``, and where its outputs go.

Each input path starts from the folder of the file that wrote it (a ``--set`` one from
the working directory); ``report.out`` is never inherited. Every case writes its own
small config files and price files in folders A, B and C under tmp_path; a decoy file
with other prices sits where the old rule (all paths from the top file's folder) would
have looked.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

import engine
from engine.config import load_config
from engine.data import calendars, yahoo
from engine.errors import ConfigError, DataError, DataWarning
from engine.pipeline import load_markets, resolve_strategy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "configs").rglob("*.yaml"))
DATES = ["2024-01-02", "2024-01-03", "2024-01-04"]
BASE = {
    "name": "base",
    "data": {
        "source": "csv",
        "path": "prices",
        "symbols": ["AAA"],
        "start": "2024-01-01",
        "end": "2024-01-31",
        "columns": {"open": None, "high": None, "low": None, "volume": None},
    },
    "strategy": {"name": "equal_weight"},
}
HOLD_ALL = "def hold_all(market):\n    return market.close * 0 + 1\n"


def _config(folder: Path, document: dict, name: str) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _prices(folder: Path, first_close: float, file: str = "AAA.csv") -> None:
    """A date,close file whose first close tells which folder a run read."""
    path = folder / file
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{d},{first_close + i}\n" for i, d in enumerate(DATES))
    path.write_text("date,close\n" + rows)


def _first_close(config: engine.RunConfig, symbol: str = "AAA") -> float:
    market, _ = load_markets(config, offline=True)
    return float(market.close[symbol].iloc[0])


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    made = tmp_path / "A", tmp_path / "B", tmp_path / "C"
    for folder in made:
        folder.mkdir()
    return made


@pytest.fixture
def forget_module() -> Iterator[list[str]]:
    """Module names a test imports from its own folders; forgotten afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        sys.modules.pop(name, None)


def test_extends_from_another_folder_with_base_data_path_loads_the_base_files(folders):
    a, b, _ = folders
    _config(a, BASE, "base.yaml")
    _prices(a / "prices", 10.0)
    _prices(b / "prices", 500.0)  # decoy beside the extending file
    child = _config(b, {"extends": "../A/base.yaml", "description": "x"}, "child.yaml")

    config = load_config(child)

    assert config.source_dir(["data", "path"]).resolve() == a.resolve()
    assert _first_close(config) == 10.0


def test_extends_from_another_folder_with_base_module_function_imports_it_from_the_base(
    folders, forget_module
):
    a, b, _ = folders
    forget_module.append("paths_signals_a")
    base = {**BASE, "strategy": {"name": "paths_signals_a:hold_all"}}
    _config(a, base, "base.yaml")
    child = _config(b, {"extends": "../A/base.yaml"}, "child.yaml")
    (a / "paths_signals_a.py").write_text(HOLD_ALL)
    (b / "paths_signals_a.py").write_text("raise RuntimeError('imported from B')\n")

    strategy = resolve_strategy(load_config(child))

    assert strategy.name == "paths_signals_a:hold_all"
    assert Path(sys.modules[strategy.module].__file__).parent.resolve() == a.resolve()


def test_child_with_own_data_path_resolves_it_against_its_own_folder(folders):
    a, b, _ = folders
    _config(a, BASE, "base.yaml")
    _prices(a / "prices", 10.0)
    _prices(b / "mine", 20.0)
    child = _config(b, {"extends": "../A/base.yaml", "data": {"path": "mine"}}, "child.yaml")

    config = load_config(child)

    assert _first_close(config) == 20.0
    assert re.match(r".*child\.yaml:\d+: data\.path$", config.where(["data", "path"]))


def test_chain_of_three_folders_resolves_each_path_where_it_was_written(folders, forget_module):
    a, b, c = folders
    forget_module.append("paths_signals_chain")
    _config(a, {**BASE, "strategy": {"name": "paths_signals_chain:hold_all"}}, "base.yaml")
    (a / "paths_signals_chain.py").write_text(HOLD_ALL)
    _config(b, {"extends": "../A/base.yaml", "data": {"path": "prices"}}, "mid.yaml")
    _config(c, {"extends": "../B/mid.yaml", "portfolio": {"lag": 0}}, "top.yaml")
    _prices(a / "prices", 10.0)
    _prices(b / "prices", 20.0)
    _prices(c / "prices", 30.0)

    config = load_config(c / "top.yaml")
    strategy = resolve_strategy(config)

    assert _first_close(config) == 20.0  # data.path written in B
    assert config.source_dir(["strategy", "name"]).resolve() == a.resolve()
    assert Path(sys.modules[strategy.module].__file__).parent.resolve() == a.resolve()
    assert config.portfolio.lag == 0 and config.name == "top"


def test_data_files_entries_are_relative_to_data_path_wherever_they_are_written(folders):
    a, b, _ = folders
    _config(a, {**BASE, "data": {**BASE["data"], "files": {"AAA": "x/a.csv"}}}, "base.yaml")
    _prices(a / "prices", 10.0, "x/a.csv")
    _prices(a / "prices", 40.0, "y/b.csv")
    _prices(b / "prices", 500.0, "y/b.csv")  # decoy
    child = {"extends": "../A/base.yaml", "data": {"symbols": ["AAA", "BBB"]}}
    child["data"]["files"] = {"BBB": "y/b.csv"}
    config = load_config(_config(b, child, "child.yaml"))

    assert _first_close(config, "AAA") == 10.0
    assert _first_close(config, "BBB") == 40.0


def test_set_data_path_resolves_against_the_working_directory(folders, tmp_path, monkeypatch):
    a, b, _ = folders
    _config(a, BASE, "base.yaml")
    child = _config(b, {"extends": "../A/base.yaml"}, "child.yaml")
    _prices(a / "given", 10.0)
    _prices(b / "given", 20.0)
    _prices(tmp_path / "given", 30.0)
    monkeypatch.chdir(tmp_path)

    config = load_config(child, ["data.path=given"])

    assert config.source_dir(["data", "path"]) == Path.cwd()
    assert _first_close(config) == 30.0


def test_missing_data_folder_names_the_file_and_line_that_set_data_path(folders):
    a, b, _ = folders
    _config(a, {**BASE, "data": {**BASE["data"], "path": "nowhere"}}, "base.yaml")
    _prices(b / "nowhere", 20.0)  # beside the extending file: not looked at
    config = load_config(_config(b, {"extends": "../A/base.yaml"}, "child.yaml"))

    with pytest.raises(ConfigError, match=r"A/base\.yaml:\d+: data\.path: folder .*A/nowhere"):
        load_markets(config)


def test_yahoo_cache_in_base_resolves_against_the_base_folder(folders):
    a, b, _ = folders
    base = {**BASE, "data": {**BASE["data"], "source": "yahoo", "path": None, "cache": "cache"}}
    _config(a, base, "base.yaml")
    config = load_config(_config(b, {"extends": "../A/base.yaml"}, "child.yaml"))

    with pytest.raises(DataError, match=re.escape(f"not in the cache {(a / 'cache').resolve()}")):
        load_markets(config, offline=True)


def test_yahoo_cache_and_extras_in_base_resolve_against_the_base_folder(folders, monkeypatch):
    a, b, _ = folders

    def download(symbols, start, end):  # yfinance's flat frame for one symbol
        dates = pd.bdate_range(start, end, inclusive="left", name="Date")
        dates = dates[calendars.is_session("XNYS", dates)]  # AAA trades on XNYS sessions
        fields = {"Close": 10.0, "High": 11.0, "Low": 9.0, "Open": 10.0, "Volume": 1e6}
        return pd.DataFrame({f: [v] * len(dates) for f, v in fields.items()}, index=dates)

    monkeypatch.setattr(yahoo, "_download", download)
    data = {**BASE["data"], "source": "yahoo", "path": None, "cache": "cache"}
    data["extras"] = {"flow": {"file": "flow.csv", "column": "net"}}
    _config(a, {**BASE, "data": data}, "base.yaml")
    (a / "flow.csv").write_text("date,net\n" + "".join(f"{d},7\n" for d in DATES))
    (b / "flow.csv").write_text("date,net\n" + "".join(f"{d},-1\n" for d in DATES))
    config = load_config(_config(b, {"extends": "../A/base.yaml"}, "child.yaml"))

    # the three flow dates cover part of the window: the yahoo branch checks extras too
    with pytest.warns(DataWarning, match=r"A/flow\.csv: data\.extras\.flow (starts|ends)"):
        market, _ = load_markets(config)

    assert (a / "cache" / "AAA.parquet").exists() and not (b / "cache").exists()
    assert list(market.extras["flow"].dropna()) == [7.0, 7.0, 7.0]


def test_report_out_of_base_is_not_inherited(folders):
    a, b, _ = folders
    _config(a, {**BASE, "report": {"out": "out/shared", "risk_free": 0.02}}, "base.yaml")
    child = load_config(_config(b, {"extends": "../A/base.yaml"}, "child.yaml"))
    own = load_config(
        _config(b, {"extends": "../A/base.yaml", "report": {"out": "out/mine"}}, "own.yaml")
    )

    assert load_config(a / "base.yaml").out_dir == Path("out/shared")
    assert child.out_dir == Path("out/child")
    assert child.report.risk_free == 0.02  # the rest of the report section is inherited
    assert own.out_dir == Path("out/mine")


def test_report_out_in_the_middle_of_a_chain_is_not_inherited(folders):
    a, b, c = folders
    _config(a, {**BASE, "report": {"risk_free": 0.01}}, "base.yaml")
    _config(b, {"extends": "../A/base.yaml", "report": {"out": "out/mid"}}, "mid.yaml")
    top = load_config(_config(c, {"extends": "../B/mid.yaml"}, "top.yaml"))

    assert load_config(b / "mid.yaml").out_dir == Path("out/mid")
    assert top.out_dir == Path("out/top")
    assert top.report.risk_free == 0.01


def test_example_configs_each_write_to_their_own_folder():
    outs = {path: load_config(path).out_dir for path in EXAMPLES}

    shared = {out for out in outs.values() if list(outs.values()).count(out) > 1}

    assert not shared, {str(p): str(o) for p, o in outs.items() if o in shared}
