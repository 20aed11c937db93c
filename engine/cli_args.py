"""The `eastwind` command line's arguments: one sub-command per public API call.

Kept apart from `engine.cli`, which runs the commands, so that each stays short; this
module imports only argparse.
"""

from __future__ import annotations

import argparse

SET_HELP = "override a setting, e.g. --set portfolio.fees.rate=0.002 (repeatable)"


def add_common(cmd: argparse.ArgumentParser, data: bool = True) -> None:
    cmd.add_argument("--set", action="append", metavar="KEY=VALUE", help=SET_HELP)
    if data:
        cmd.add_argument(
            "--data",
            choices=["synthetic", "csv", "yahoo"],
            help="switch the data source (e.g. synthetic to run offline)",
        )


def build_parser() -> argparse.ArgumentParser:
    """The `eastwind` argument parser; ``args.command`` names the command to run."""
    parser = argparse.ArgumentParser(
        prog="eastwind",
        description="Config-driven portfolio backtesting.",
        epilog="examples:\n  eastwind run configs/demo.yaml\n  eastwind strategies\n"
        "  eastwind run configs/hk_ai_vs_nasdaq.yaml --data synthetic --set portfolio.lag=2\n"
        "  eastwind capacity configs/demo.yaml --data synthetic --multipliers 1,10,100",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text[0].upper() + help_text[1:] + ".",
            epilog=f"example: {example}",
        )

    run_cmd = command(
        "run",
        "run a backtest from a YAML config and write its report (metrics, CSVs, HTML)",
        "eastwind run configs/hk_ai_vs_nasdaq.yaml --data synthetic --out out/hk",
    )
    run_cmd.add_argument("config", help="path to the YAML config")
    run_cmd.add_argument("--out", help="output folder (default: report.out or out/<name>)")
    run_cmd.add_argument("--quiet", action="store_true", help="print nothing on success")
    run_cmd.add_argument("--no-html", action="store_true", help="skip report.html")
    run_cmd.add_argument(
        "--lookahead",
        action="store_true",
        help="first check that no weight changes with data after its bar (exit 1 when one does)",
    )
    run_cmd.add_argument(
        "--verify",
        choices=["vectorbt"],
        help="replay the fills in vectorbt and print how far its value curve is from ours",
    )
    add_common(run_cmd)

    compare_cmd = command(
        "compare",
        "run several configs and put their metrics, equity curves and correlations side by side",
        "eastwind compare configs/scenarios --data synthetic --out out/scenarios",
    )
    compare_cmd.add_argument(
        "configs", nargs="+", metavar="config", help="YAML configs, or folders of them"
    )
    compare_cmd.add_argument("--out", default="out/compare", help="output folder")
    compare_cmd.add_argument("--all", action="store_true", help="print every metric")
    compare_cmd.add_argument("--quiet", action="store_true", help="print nothing on success")
    add_common(compare_cmd)

    sweep_cmd = command(
        "sweep",
        "run every combination of the config's sweep grids; rank, heat maps, walk-forward",
        "eastwind sweep configs/sweeps/trend_grid.yaml --dask local",
    )
    sweep_cmd.add_argument("config", help="path to the YAML config with a sweep: section")
    sweep_cmd.add_argument("--out", help="output folder (default: <report.out>/sweep)")
    sweep_cmd.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run chunks on a Dask cluster: a scheduler address (tcp://host:8786) or 'local'",
    )
    sweep_cmd.add_argument(
        "--workers", type=int, default=2, help="worker processes for --dask local (default 2)"
    )
    sweep_cmd.add_argument("--top", type=int, help="rows of the ranking to print")
    sweep_cmd.add_argument("--quiet", action="store_true", help="print nothing on success")
    add_common(sweep_cmd)

    capacity_cmd = command(
        "capacity",
        "run a config at multiples of its initial cash; return, costs, impact and unfilled "
        "orders side by side (capacity.csv, capacity.json, capacity.html)",
        "eastwind capacity configs/demo.yaml --data synthetic --multipliers 1,10,100,1000",
    )
    capacity_cmd.add_argument("config", help="path to the YAML config")
    capacity_cmd.add_argument(
        "--multipliers",
        default="1,10,100,1000",
        metavar="M1,M2,...",
        help="multiples of portfolio.init_cash, comma-separated (default 1,10,100,1000); "
        "each times init_cash at most 1e15",
    )
    capacity_cmd.add_argument("--out", help="output folder (default: <report.out>/capacity)")
    capacity_cmd.add_argument("--quiet", action="store_true", help="print nothing on success")
    add_common(capacity_cmd)

    check_cmd = command(
        "check",
        "run configs and compare their metrics and equity hash with stored baselines",
        "eastwind check configs --data synthetic --baselines baselines --junit check.xml",
    )
    check_cmd.add_argument(
        "configs", nargs="+", metavar="config", help="YAML configs, or folders of them"
    )
    check_cmd.add_argument(
        "--baselines", required=True, metavar="DIR", help="folder of <config name>.json"
    )
    check_cmd.add_argument(
        "--update", action="store_true", help="write the baselines anew and say what changed"
    )
    check_cmd.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    check_cmd.add_argument(
        "--tolerance",
        action="append",
        metavar="METRIC=abs:X|rel:X",
        help="override a metric's tolerance (repeatable), e.g. sharpe=abs:0.01",
    )
    check_cmd.add_argument(
        "--no-hash", action="store_true", help="compare metrics only, not the equity hash"
    )
    check_cmd.add_argument("--all", action="store_true", help="print every metric")
    check_cmd.add_argument("--quiet", action="store_true", help="print only drift")
    add_common(check_cmd)

    validate_cmd = command(
        "validate",
        "check configs and their strategy parameters without running them",
        "eastwind validate configs/*.yaml",
    )
    validate_cmd.add_argument("configs", nargs="+", metavar="config", help="YAML configs")
    validate_cmd.add_argument("--quiet", action="store_true", help="print nothing on success")
    validate_cmd.add_argument(
        "--lookahead",
        action="store_true",
        help="also load the data and check that no weight changes with data after its bar "
        "(exit 1 when one does)",
    )
    add_common(validate_cmd)

    show_cmd = command(
        "show",
        "print the fully resolved config (extends and --set applied, defaults filled in)",
        "eastwind show configs/scenarios/hk_ls_no_borrow.yaml",
    )
    show_cmd.add_argument("config", help="path to the YAML config")
    add_common(show_cmd)

    strategies_cmd = command(
        "strategies",
        "list the registered strategies with their parameters and defaults",
        "eastwind strategies long_short",
    )
    strategies_cmd.add_argument("name", nargs="?", help="show only this strategy")

    data_cmd = command(
        "data",
        "fill the download caches (fetch), show coverage per symbol (show, offline), or "
        "write what a config loads as CSV files the csv source reads (export)",
        "eastwind data export configs/southbound_per_stock.yaml --out shared/southbound",
    )
    data_cmd.add_argument("action", choices=["fetch", "show", "export"])
    data_cmd.add_argument("config", help="path to the YAML config")
    data_cmd.add_argument("--out", help="export: the folder to write")
    add_common(data_cmd, data=False)
    return parser
