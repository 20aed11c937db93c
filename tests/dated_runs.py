"""Tiny configured runs for the dated-cost and rate tests: a csv market written to a
temporary folder, a strategy that holds given weights on given dates, and a config
that names them, so each test states its prices, weights and costs in a few lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

import engine
from engine.backtest import BacktestResult
from engine.config import RunConfig, load_config


class _Plain(yaml.SafeDumper):
    """Writes a value used twice out twice: config files refuse anchors and aliases."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def write_prices(folder: Path, closes: dict[str, dict[str, float]]) -> None:
    """One ``date,close`` file per symbol: ``closes[symbol][date] = close``."""
    for symbol, rows in closes.items():
        lines = ["date,close", *(f"{day},{price}" for day, price in rows.items())]
        (folder / f"{symbol}.csv").write_text("\n".join(lines) + "\n")


def config(
    folder: Path,
    closes: dict[str, dict[str, float]],
    weights: dict[str, dict[str, float]],
    portfolio: dict[str, Any],
    *,
    base: str = "HKD",
    data: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
    name: str = "dated",
) -> Path:
    """Write prices, a strategy holding ``weights[date][symbol]`` from each date (filled
    with lag 0 at that bar's close) and the config; return the config's path."""
    write_prices(folder, closes)
    module = f"hold_{folder.name.replace('-', '_')}"  # Python caches modules by name
    (folder / f"{module}.py").write_text(
        "import pandas as pd\n\n"
        f"WEIGHTS = {weights!r}\n\n\n"
        "def weights(market):\n"
        "    frame = pd.DataFrame.from_dict(WEIGHTS, orient='index')\n"
        "    frame.index = pd.to_datetime(frame.index)\n"
        "    return frame.reindex(index=market.index, columns=market.symbols)\n"
    )
    days = sorted({day for rows in closes.values() for day in rows})
    document = {
        "name": name,
        "data": {
            "source": "csv",
            "path": ".",
            "symbols": list(closes),
            "start": days[0],
            "end": days[-1],
            "base_currency": base,
            "warmup": 0,
            "columns": {"open": None, "high": None, "low": None, "volume": None},
            **(data or {}),
        },
        "strategy": {"name": f"{module}:weights"},
        "portfolio": {
            "init_cash": 1_000_000,
            "lag": 0,
            "rebalance": "on_change",
            "lots": False,
            **portfolio,
        },
        **({"report": report} if report else {}),
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.dump(document, Dumper=_Plain, sort_keys=False))
    return path


def run(path: Path, overrides: tuple[str, ...] = ()) -> BacktestResult:
    """Load the config (with ``--set`` style `overrides`) and run it."""
    return engine.run(load_config(path, list(overrides)))


def load(path: Path) -> RunConfig:
    """Load the config without running it."""
    return load_config(path)
