"""The `eastwind` command: a thin shell over the Python API.

Exit codes, the same for every command:

- 0: done (``check``: every config holds its baseline)
- 1: ``check`` only: a config drifted from its baseline, or has none
- 2: a user error (`BacktestError`): one line, ``TypeName: message``, on stderr
- 3: an internal error, a bug in eastwind: its traceback, then one closing line
- 130: interrupted (Ctrl-C): one line; anything written is a whole set of files
- 141: the reader of the output went away (``eastwind ... | head``)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli_args import build_parser
from engine.errors import BacktestError, BankruptcyWarning, ConfigError, DataWarning

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from engine.backtest import BacktestResult
    from engine.config import RunConfig

# Only the standard library and engine.errors are imported here, so that Ctrl-C during
# any other import reaches `main`. The config layer, the simulation (numba), the reports
# (plotly), dask and rich are imported by the commands that use them, so `validate`,
# `show` and `--help` start without the heavy ones.

EXIT_DRIFT = 1
EXIT_USER_ERROR = 2
EXIT_LOOKAHEAD = 1  # the strategy read data after its bar: a failed check, like drift
EXIT_INTERNAL_ERROR = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # as a shell reports a process ended by SIGPIPE
LOG_WIDTH = 1000  # columns of a console that is not a terminal (a CI log, a file)


def _console(*, stderr: bool = False, quiet: bool = False) -> Console:
    """A rich console; when it is not a terminal, wide enough that no table is cut.

    A log has no width, and rich's fallback of 80 columns would shorten names, dates
    and paths to an ellipsis; every table's columns also fold rather than cut.
    """
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, quiet=quiet, width=None if stream.isatty() else LOG_WIDTH)


def _table(title: str) -> Table:
    """A rich table at least as wide as its title, so that the title does not wrap."""
    from rich.table import Table
    from rich.text import Text

    return Table(title=title, min_width=Text.from_markup(title).cell_len)


def _metric_table(title: str, columns: dict[str, dict[str, float] | None], key_only: bool) -> Table:
    """A rich table of metrics, one column per named metrics dict (blank where absent)."""

    from engine.report import METRICS

    table = _table(title)
    table.add_column("Metric", overflow="fold")
    for name in columns:
        table.add_column(name, justify="right", overflow="fold")
    for spec in METRICS:
        if key_only and not spec.key_metric:
            continue
        if not spec.shown(columns.values()):
            continue
        cells = [spec.format(d[spec.key]) if d and spec.key in d else "" for d in columns.values()]
        table.add_row(spec.label, *cells)
    return table


def _title(result: BacktestResult) -> str:
    market = result.market
    title = f"{result.config.name}: {market.index[0].date()} .. {market.index[-1].date()}"
    return title + (" [bold yellow](SYNTHETIC DATA)[/]" if market.is_synthetic else "")


def _run_table(result: BacktestResult) -> Table:
    columns: dict[str, dict[str, float] | None] = {"Strategy": result.metrics}
    if result.benchmark_metrics is not None and result.config.benchmark is not None:
        names = ", ".join(result.config.benchmark.symbols)
        columns[f"Benchmark ({names})"] = result.benchmark_metrics
    return _metric_table(_title(result), columns, key_only=True)


def _config(args: argparse.Namespace) -> RunConfig:
    """Load the config with ``--set`` overrides and the ``--data`` source switch."""
    from engine.config import load_config

    overrides = list(args.set or [])
    if getattr(args, "data", None):
        overrides.insert(0, f"data.source={args.data}")
    return load_config(args.config, overrides)


def _run(args: argparse.Namespace) -> int:
    from engine.outputs import require_writable_folder

    config = _config(args)
    out = Path(args.out) if args.out else config.out_dir
    require_writable_folder(out, "--out" if args.out else config.where(("report", "out")))
    if args.lookahead and _lookahead(config, args.config):
        return EXIT_LOOKAHEAD
    from engine.backtest import run
    from engine.report import bankruptcy_banner, write_run

    result = run(config)
    written = write_run(result, out, html=not args.no_html)
    if not args.quiet:
        console = _console()
        banner = bankruptcy_banner(result)
        if banner is not None:
            console.print(banner, style="bold red", markup=False, highlight=False)
        console.print(_run_table(result))
        console.print(f"wrote {len(written)} files to {out}/: {', '.join(p.name for p in written)}")
    if args.verify == "vectorbt":
        _verify_vectorbt(result)
    return 0


def _verify_vectorbt(result: BacktestResult) -> None:
    from engine.results import day_label
    from engine.vectorbt_bridge import compare_with_vectorbt

    agreement = compare_with_vectorbt(result.simulation)
    console = _console()
    console.print(
        f"vectorbt: largest relative difference of the value curves "
        f"{agreement.max_relative:.3g} on {day_label(agreement.date)}",
        markup=False,
        highlight=False,
    )
    for rule in agreement.differences or ("none: vectorbt replays every rule this run used",):
        console.print(f"  engines differ on: {rule}", markup=False, highlight=False)


def _configs(args: argparse.Namespace) -> dict[str, RunConfig]:
    """Load the configs named (folders: the YAML files directly inside), by unique name."""
    from engine.config import load_config

    paths: list[Path] = []
    for item in args.configs:
        path = Path(item)
        if path.is_dir():
            found = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
            if not found:
                raise ConfigError(f"{path}: no *.yaml configs in this folder")
            paths.extend(found)
        else:
            paths.append(path)
    overrides = list(args.set or [])
    if args.data:
        overrides.insert(0, f"data.source={args.data}")
    configs: dict[str, RunConfig] = {}
    for path in paths:
        config = load_config(path, overrides)
        if config.name in configs:
            raise ConfigError(
                f"{path}: name {config.name!r} is also the name of "
                f"{configs[config.name].path}; give each config its own 'name:'"
            )
        configs[config.name] = config
    return configs


def _compare(args: argparse.Namespace) -> int:
    from engine.outputs import require_writable_folder

    configs = _configs(args)
    if len(configs) < 2:
        raise ConfigError(f"compare needs at least two configs, got {len(configs)}")
    require_writable_folder(Path(args.out), "--out")
    from engine.backtest import run
    from engine.report import write_comparison

    console = _console(stderr=True, quiet=args.quiet)
    results = []
    for i, config in enumerate(configs.values(), 1):
        with console.status(f"[{i}/{len(configs)}] running {config.name} ({config.path})"):
            results.append(run(config))
    out = Path(args.out)
    written = write_comparison(results, out)
    if not args.quiet:
        from engine.report import bankruptcy_banner

        columns = {r.config.name: r.metrics for r in results}
        synthetic = any(r.market.is_synthetic for r in results)
        title = "Scenario comparison" + (" [bold yellow](SYNTHETIC DATA)[/]" if synthetic else "")
        stdout = _console()
        for r in results:
            if (banner := bankruptcy_banner(r)) is not None:
                stdout.print(f"{r.config.name}: {banner}", style="bold red", markup=False)
        stdout.print(_metric_table(title, columns, key_only=not args.all))
        stdout.print(f"wrote {len(written)} files to {out}/: {', '.join(p.name for p in written)}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from engine.outputs import read_manifest, require_writable_folder

    config = _config(args)
    if config.sweep is None:
        raise ConfigError(f"{config.path}: no 'sweep:' section; add sweep.params grids to sweep")
    out = Path(args.out) if args.out else config.out_dir / "sweep"
    require_writable_folder(out, "--out" if args.out else config.where(("report", "out")))
    finished = read_manifest(out) or {}
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from engine.report import ranked_rows, walk_forward_summary, write_sweep
    from engine.sweep import ROW_INVALID, ROW_NOT_RUN, run_sweep

    total = math.prod(len(v) for v in config.sweep.grids().values())
    console = _console(stderr=True, quiet=args.quiet)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=args.quiet) as bar:
        task = bar.add_task(config.name, total=total, rate="")

        def advance(n: int) -> None:
            bar.advance(task, n)
            speed = bar.tasks[task].speed
            bar.update(task, rate=f"{speed:,.1f}/s" if speed else "")

        result = run_sweep(config, dask=args.dask, workers=args.workers, progress=advance)
    written = write_sweep(result, out)
    folder = written[0].parent
    if not args.quiet:
        stdout = _console()
        header, cells = ranked_rows(result, args.top or config.sweep.top)
        invalid = result.table[result.table["status"] == ROW_INVALID]
        if len(invalid):
            print(
                f"{len(invalid)} of {total} combinations were rejected by the strategy "
                f"(e.g. {invalid['reason'].iloc[0]}); their rows in results.csv say why",
                file=sys.stderr,
            )
        table = _table(f"{config.name}: top {len(cells)} of {total} by {result.metric}")
        for name in header:
            table.add_column(name, justify="right", overflow="fold")
        for row in cells:
            table.add_row(*row)
        stdout.print(table)
        summary = walk_forward_summary(result)
        if summary is not None:
            folds = 0 if result.walk_forward is None else len(result.walk_forward)
            stdout.print(f"walk-forward over {folds} folds (growth of 1 over the test windows):")
            stdout.print(summary.to_string(float_format=lambda v: f"{v:.4f}"))
        names = ", ".join(p.name for p in written)
        stdout.print(f"wrote {len(written)} files to {folder}/: {names}")
    if result.interrupted:
        done = int((result.table["status"] != ROW_NOT_RUN).sum())
        kept = f"interrupted: kept the {done} of {total} combinations that finished in {folder}/"
        if finished.get("command") == "sweep" and finished.get("complete"):
            kept += f"; the finished sweep in {out} is unchanged"
        print(kept, file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _capacity(args: argparse.Namespace) -> int:
    from engine.outputs import require_writable_folder

    config = _config(args)
    out = Path(args.out) if args.out else config.out_dir / "capacity"
    require_writable_folder(out, "--out" if args.out else config.where(("report", "out")))
    from engine.capacity import capacity, check_multipliers, parse_multipliers
    from engine.report import write_capacity
    from engine.report.capacity_table import formatted

    multipliers = check_multipliers(parse_multipliers(args.multipliers), config)
    console = _console(stderr=True, quiet=args.quiet)
    with console.status(f"{config.name}: loading data, building targets") as status:

        def progress(i: int, multiple: float) -> None:
            cash = multiple * config.portfolio.init_cash
            status.update(
                f"[{i}/{len(multipliers)}] simulating {config.name} at {multiple:g}x "
                f"(init_cash {cash:,.0f})"
            )

        result = capacity(config, multipliers, progress=progress)
    written = write_capacity(result, out)
    if not args.quiet:
        labels, rows = formatted(result, terminal=True)
        market = result.results[0].market
        title = f"{config.name}: capacity, {market.index[0].date()} .. {market.index[-1].date()}"
        title += " [bold yellow](SYNTHETIC DATA)[/]" if market.is_synthetic else ""
        table = _table(title)
        table.add_column(labels[0], overflow="fold")
        for cells in rows:
            table.add_column(cells[0], justify="right", overflow="fold")
        for i, label in enumerate(labels[1:], 1):
            table.add_row(label, *(cells[i] for cells in rows))
        stdout = _console()
        stdout.print(table)
        stdout.print(f"wrote {len(written)} files to {out}/: {', '.join(p.name for p in written)}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from engine.outputs import require_writable_file, require_writable_folder

    configs = list(_configs(args).values())
    baselines = Path(args.baselines)
    if args.update:
        require_writable_folder(baselines, "--baselines")
    elif args.junit:
        require_writable_file(Path(args.junit), "--junit")
    from engine.check import check_configs, junit_xml, new_baselines, parse_tolerances
    from engine.check.terminal import check_table
    from engine.outputs import interrupts_deferred, write_atomic
    from engine.report import METRICS

    overrides = parse_tolerances(args.tolerance or [])
    console = _console(stderr=True, quiet=args.quiet)
    stdout = _console(quiet=args.quiet)
    with console.status("running") as status:

        def started(i: int, config: RunConfig) -> None:
            status.update(f"[{i}/{len(configs)}] running {config.name}")

        if args.update:
            updates = new_baselines(configs, baselines, started)
        else:
            reports = check_configs(configs, baselines, overrides, not args.no_hash, started)
    if args.update:
        with interrupts_deferred():  # Ctrl-C waits: a mix of old and new baselines drifts
            for update in updates:
                write_atomic(update.path, update.text)
        for update in updates:
            lines = update.changes
            stdout.print(f"{update.path}: " + ("unchanged" if not lines else "; ".join(lines)))
        return 0
    if args.junit:
        write_atomic(Path(args.junit), junit_xml(reports))
    keys = {spec.key for spec in METRICS if spec.key_metric}
    for report in reports:
        stdout.print(check_table(report, args.all, keys))
    drifted = [r for r in reports if not r.ok]
    if drifted:
        for report in drifted:  # --quiet too: a CI log must say what moved
            print(report.summary(), file=sys.stderr)
        names = ", ".join(r.name for r in drifted)
        print(f"drift in {len(drifted)} of {len(reports)} configs: {names}", file=sys.stderr)
        return EXIT_DRIFT
    stdout.print(f"all {len(reports)} configs hold their baselines")
    return 0


def _lookahead(config: RunConfig, path: str) -> bool:
    """Run the look-ahead guard; print what it found. True when the strategy peeks."""
    from engine.lookahead import check_config

    found = check_config(config)
    if found is not None:
        print(f"{path}: {found}", file=sys.stderr)
    return found is not None


def _validate(args: argparse.Namespace) -> int:
    from engine.config import load_config
    from engine.pipeline import check_strategy

    peeked = False
    overrides = [*([f"data.source={args.data}"] if args.data else []), *(args.set or [])]
    for path in args.configs:
        config = load_config(path, overrides)
        check_strategy(config)
        if args.lookahead and _lookahead(config, path):
            peeked = True
            continue
        if not args.quiet:
            guard = ", no look-ahead found" if args.lookahead else ""
            print(
                f"{path}: ok ({config.name}: {config.strategy.name} on {config.data.source}{guard})"
            )
    return EXIT_LOOKAHEAD if peeked else 0


def _show(args: argparse.Namespace) -> int:
    from engine.pipeline import check_strategy

    config = _config(args)
    sys.stdout.write(config.to_yaml(check_strategy(config)))
    return 0


def _strategies(args: argparse.Namespace) -> int:

    from strategies import REGISTRY, describe_params, summary

    console = _console()
    for name, cls in sorted(REGISTRY.items()):
        if args.name and name != args.name:
            continue
        table = _table(f"[bold]{name}[/] (rebalance: {cls.rebalance}) - {summary(cls)}")
        for column in ("param", "type", "default", "description"):
            table.add_column(column, overflow="fold")
        for row in describe_params(cls):
            table.add_row(*row)
        console.print(table)
    if args.name and args.name not in REGISTRY:
        raise ConfigError(f"unknown strategy {args.name!r}; known: {', '.join(sorted(REGISTRY))}")
    return 0


def _data(args: argparse.Namespace) -> int:
    from engine.config import load_config
    from engine.data.checks import bad_prints, series_ends
    from engine.data.coverage import coverage, series_coverage
    from engine.pipeline import load_market  # not engine.backtest: no numba to show data

    overrides = list(args.set or [])
    if args.action == "fetch":  # filling the cache is the point: a short one is a failure
        overrides.append("data.allow_partial=false")
    config = load_config(args.config, overrides)
    if args.action == "export":
        from engine.export import export_data

        if not args.out:
            raise ConfigError("data export: give the folder to write with --out DIR")
        written = export_data(config, Path(args.out))
        _console().print(f"wrote {len(written)} files to {args.out}/", highlight=False)
        return 0
    downloads = config.data.source == "yahoo" or _uses_akshare(config)
    if args.action == "fetch" and not downloads:
        raise ConfigError(
            f"{config.where(('data', 'source'))}: 'fetch' fills the yahoo and akshare "
            f"caches, but the source is {config.data.source!r} and nothing comes from "
            "akshare; set data.source: yahoo"
        )
    market = load_market(config, offline=args.action == "show")
    table = _table(
        f"{config.name}: {market.source} data"
        + (" [bold yellow](SYNTHETIC DATA)[/]" if market.is_synthetic else "")
    )
    frame = coverage(market)
    for column in frame.columns:
        table.add_column(
            column, justify="left" if column in ("symbol", "exchange") else "right", overflow="fold"
        )
    for row in frame.itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    console = _console()
    console.print(table)
    series = series_coverage(market)
    if len(series):
        table = _table("fx and extra series, on the market's bars")
        for column in series.columns:
            table.add_column(
                column, justify="left" if column == "series" else "right", overflow="fold"
            )
        for row in series.itertuples(index=False):
            table.add_row(*(str(v) for v in row))
        console.print(table)
    ends = series_ends(market)
    if ends:
        table = _table("series that end before the last bar")
        for column in ("symbol", "last", "sessions missing"):
            table.add_column(
                column, justify="left" if column == "symbol" else "right", overflow="fold"
            )
        for end in ends:
            table.add_row(end.symbol, str(end.last.date()), str(end.missing))
        console.print(table)
    for found in bad_prints(market):
        console.print(f"suspect {found.kind}: {found.message}", highlight=False, soft_wrap=True)
    console.print(
        "volume: rows with a known traded volume (- : the source has none); a row without "
        "one is not volume-capped",
        highlight=False,
    )
    console.print(
        "flat: zero-volume rows with open = high = low = close on a session (a half day): "
        "priced at the close, no open, volume unknown",
        highlight=False,
    )
    console.print("dropped: rows on days the exchange was closed", highlight=False)
    if market.warmup_bars:
        console.print(
            f"warm-up: {market.warmup_bars} bars from {market.index[0].date()}, before "
            f"data.start {config.data.start}, for the strategy's history",
            highlight=False,
        )
    return 0


def _uses_akshare(config: RunConfig) -> bool:
    bench = config.benchmark
    extras = any(getattr(e, "source", None) == "akshare" for e in config.data.extras.values())
    return extras or (bench is not None and bench.source == "akshare")


def _one_line_warnings(show: object) -> object:
    """Wrap `warnings.showwarning` so a `DataWarning` or `BankruptcyWarning` prints as one
    line, ``DataWarning: message``."""

    def shown(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        if issubclass(category, DataWarning | BankruptcyWarning):
            print(f"{category.__name__}: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)  # type: ignore[operator]

    return shown


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _run,
    "compare": _compare,
    "sweep": _sweep,
    "capacity": _capacity,
    "check": _check,
    "validate": _validate,
    "show": _show,
    "strategies": _strategies,
    "data": _data,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `eastwind` command line; return the process exit code (module docstring).

    A `DataWarning` (data that loads but may mislead) or a `BankruptcyWarning` prints one
    line to stderr, once.
    """
    try:
        args = build_parser().parse_args(argv)
        with warnings.catch_warnings():
            warnings.simplefilter("default", DataWarning)
            warnings.simplefilter("default", BankruptcyWarning)
            warnings.showwarning = _one_line_warnings(warnings.showwarning)  # type: ignore[assignment]
            return int(HANDLERS[args.command](args))
    except BacktestError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`eastwind ... | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception:
        traceback.print_exc()
        print(
            "internal error: this is a bug in eastwind, not in your input; "
            "please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
