"""The `eastwind` command: a thin shell over the Python API.

User errors (`BacktestError`) print one line, ``TypeName: message``, to stderr and exit
with code 2; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine.backtest import BacktestResult, load_market, run
from engine.config import load_config
from engine.data.coverage import coverage
from engine.errors import BacktestError, ConfigError

EXIT_USER_ERROR = 2

_METRIC_LABELS = {
    "total_return": ("Total return", "{:+.2%}"),
    "cagr": ("CAGR", "{:+.2%}"),
    "volatility": ("Volatility (ann.)", "{:.2%}"),
    "sharpe": ("Sharpe", "{:.2f}"),
    "max_drawdown": ("Max drawdown", "{:.2%}"),
}


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _metrics_json(result: BacktestResult) -> str:
    config, market = result.config, result.market
    document = {
        "name": config.name,
        "data_source": market.source,
        "start": str(market.index[0].date()),
        "end": str(market.index[-1].date()),
        "base_currency": market.base_currency,
        "metrics": {k: (None if math.isnan(v) else v) for k, v in result.metrics.items()},
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _table(result: BacktestResult) -> Table:
    market = result.market
    title = f"{result.config.name}: {market.index[0].date()} .. {market.index[-1].date()}"
    if market.is_synthetic:
        title += " [bold yellow](SYNTHETIC DATA)[/]"
    table = Table(title=title)
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    for key, (label, fmt) in _METRIC_LABELS.items():
        value = result.metrics[key]
        table.add_row(label, "n/a" if math.isnan(value) else fmt.format(value))
    return table


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    result = run(config)
    out = Path(args.out) if args.out else config.out_dir
    write_atomic(out / "metrics.json", _metrics_json(result))
    if not args.quiet:
        console = Console()
        console.print(_table(result))
        console.print(f"wrote {out / 'metrics.json'}")
    return 0


def _data(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.action == "fetch" and config.data.source != "yahoo":
        raise ConfigError(
            f"{args.config}: data.source: 'fetch' fills the yahoo cache, but the source is "
            f"{config.data.source!r}; set data.source: yahoo"
        )
    market = load_market(config, offline=args.action == "show")
    table = Table(
        title=f"{config.name}: {market.source} data"
        + (" [bold yellow](SYNTHETIC DATA)[/]" if market.is_synthetic else "")
    )
    frame = coverage(market)
    for column in frame.columns:
        table.add_column(column, justify="left" if column in ("symbol", "exchange") else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    console = Console()
    console.print(table)
    for symbol, day in market.placeholders:
        console.print(f"placeholder row (not traded): {symbol} {day.date()}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eastwind",
        description="Config-driven portfolio backtesting.",
        epilog="example: eastwind run configs/demo.yaml --out out/demo",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser(
        "run",
        help="run a backtest from a YAML config",
        description="Run the backtest a YAML config describes and write metrics.json.",
        epilog="example: eastwind run configs/demo.yaml --out out/demo",
    )
    run_cmd.add_argument("config", help="path to the YAML config")
    run_cmd.add_argument("--out", help="output folder (default: report.out or out/<name>)")
    run_cmd.add_argument("--quiet", action="store_true", help="print nothing on success")
    run_cmd.set_defaults(handler=_run)
    data_cmd = commands.add_parser(
        "data",
        help="fill the price cache or show coverage",
        description="fetch: download the config's symbols into the yahoo cache. "
        "show: print coverage per symbol (first/last date, rows, gaps, placeholder rows) "
        "without touching the network.",
        epilog="example: eastwind data show configs/demo.yaml",
    )
    data_cmd.add_argument("action", choices=["fetch", "show"])
    data_cmd.add_argument("config", help="path to the YAML config")
    data_cmd.set_defaults(handler=_data)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `eastwind` command line; return the process exit code."""
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except BacktestError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
