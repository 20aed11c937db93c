"""The one pipeline of every backtest: config -> market -> strategy -> targets -> kernel.

`run` (one backtest), `sweep` (K parameter sets) and walk-forward all go through these
functions, so a rule implemented here holds for all of them:

- `load_market`: the data section -> `Market` (and the benchmark's prices), with the
  warm-up history the strategy needs before ``data.start`` (`warmup_of`).
- `resolve_strategy` (`engine.resolve`): the strategy name -> a `ResolvedStrategy`,
  once; a registered strategy, or ``module:function`` from the folder of the config
  file that names it.
- `prepare_kernel`: the portfolio section -> the kernel's arrays (`KernelMarket`), with
  costs and rates that change by date put onto the bars (`engine.dated_inputs`).
- `build_targets` (`engine.targets`): K parameter sets -> targets ``[K, T, N]``, with
  the rebalance schedule and the execution lag applied by the kernel's `schedule_nb`,
  and a reason for each set the strategy rejected or whose targets ask for more gross
  exposure than `gross_limit` allows.

Importing this module does not import numba (`eastwind validate` checks a strategy's
parameters through it); `prepare_kernel` imports the kernel when a run needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from engine.config import DataConfig, RunConfig
from engine.config.series import SeriesFileConfig
from engine.data import (
    Columns,
    FileSpec,
    Market,
    SeriesFile,
    YahooCache,
    load_files_market,
    load_yahoo_market,
    read_extras,
    synthetic_market,
)
from engine.data.calendars import sessions
from engine.data.checks import on_series_end
from engine.data.market import asset_info
from engine.data.synthetic import GRID_START
from engine.data.warmup import Warmup, check_history, load_start
from engine.dated_inputs import (
    borrow_on_bars,
    dividend_arguments,
    per_asset,
    rate_on_bars,
    simulated_bars,
)
from engine.errors import ConfigError, DataError
from engine.resolve import (
    Loc,
    ResolvedStrategy,
    check_strategy,
    located,
    resolve_strategy,
    strategy_params,
    warmup_of,
    weights_array,
)
from engine.risk_inputs import liquidity_arguments, risk_arguments
from engine.sources import (
    akshare_extras,
    benchmark_from,
    separate_benchmark,
    southbound_specs,
)
from engine.targets import (
    GrossLimit,
    TargetPlan,
    build_targets,
    gross_limit,
    gross_reason,
    raw_weights,
    schedule_of,
    scheduled,
    target_plan,
)

if TYPE_CHECKING:
    from engine.inputs import KernelMarket

__all__ = [
    "GrossLimit",
    "Loc",
    "ResolvedStrategy",
    "TargetPlan",
    "build_targets",
    "check_strategy",
    "cost_arguments",
    "gross_limit",
    "gross_reason",
    "load_market",
    "load_markets",
    "located",
    "prepare_kernel",
    "rate_arguments",
    "raw_weights",
    "resolve_strategy",
    "schedule_of",
    "scheduled",
    "strategy_params",
    "target_plan",
    "warmup_of",
    "weights_array",
]


# --- market ---------------------------------------------------------------------------


PathResolver = Callable[[Loc, str], Path]


def _path_resolver(config: RunConfig | DataConfig, folder: Path | None = None) -> PathResolver:
    """How the relative paths of `config` resolve: ``(yaml path, value) -> Path``.

    All from `folder` when given; else for a `RunConfig` from the folder of the file that
    wrote each path (`RunConfig.resolve_path`); else from the working directory.
    """
    if folder is not None:
        return lambda _loc, value: folder / value
    if isinstance(config, RunConfig):
        return config.resolve_path
    return lambda _loc, value: Path.cwd() / value


def _data_folder(data: DataConfig, resolve: PathResolver, where: str) -> Path:
    """``data.path`` resolved; the files, wide, fx and extras names are relative to it."""
    root = resolve(("data", "path"), str(data.path))
    if not root.is_dir():
        raise ConfigError(
            f"{where}: folder {str(root)!r} not found; a relative data.path starts from the "
            "folder of the config file that sets it (the working directory for --set)"
        )
    return root


def _load_symbols(
    data: DataConfig,
    symbols: list[str],
    offline: bool,
    resolve: PathResolver,
    where: str,
    start: pd.Timestamp,
) -> tuple[Market, dict[str, pd.Timestamp]]:
    """The source's market from `start` (the warm-up's first day) to ``data.end``, and the
    first date the source covers for each symbol where it knows one."""
    market, covered = _load_prices(data, symbols, offline, resolve, where, start)
    if not southbound_specs(data):
        return market, covered
    cache = resolve(("data", "cache"), data.cache) if data.cache else None
    found = akshare_extras(data, symbols, market.index, cache=cache, offline=offline)
    return replace(market, extras={**market.extras, **found}), covered


def _load_prices(
    data: DataConfig,
    symbols: list[str],
    offline: bool,
    resolve: PathResolver,
    where: str,
    start: pd.Timestamp,
) -> tuple[Market, dict[str, pd.Timestamp]]:
    end = pd.Timestamp(data.end)
    if data.source == "synthetic":
        market = synthetic_market(
            symbols,
            max(start, GRID_START),
            end,
            seed=data.seed,
            base_currency=data.base_currency,
            flow_link=data.flow_link,
        )
        return market, dict.fromkeys(symbols, GRID_START)
    file_extras = {n: e for n, e in data.extras.items() if isinstance(e, SeriesFileConfig)}
    metadata = {s: m.model_dump(exclude_none=True) for s, m in data.metadata.items()}
    if data.source == "yahoo":
        cache = YahooCache(
            resolve(("data", "cache"), data.cache) if data.cache else None, adjust=data.adjust
        )
        market = load_yahoo_market(
            symbols,
            start=start,
            end=end,
            base_currency=data.base_currency,
            cache=cache,
            metadata=metadata,
            offline=offline,
            allow_partial=data.allow_partial,
        )
        covered = {s: cache.first_covered(s) or start for s in symbols}
        if not file_extras:
            return market, covered
        if data.path is not None:
            root = _data_folder(data, resolve, where)
            extras = {n: SeriesFile(**f.model_dump()) for n, f in file_extras.items()}
        else:  # no data folder: each file from the folder of the config that names it
            root = Path()
            files_of = {
                n: resolve(("data", "extras", n, "file"), f.file) for n, f in file_extras.items()
            }
            extras = {
                n: SeriesFile(**{**f.model_dump(), "file": str(files_of[n])})
                for n, f in file_extras.items()
            }
        files = FileSpec(root=root, extras=extras)
        read = {
            n: e.reindex(market.index)
            for n, e in read_extras(files, symbols, bars=market.index).items()
        }
        return replace(market, extras={**market.extras, **read}), covered
    spec = FileSpec(
        root=_data_folder(data, resolve, where),
        files=data.files,
        pattern=data.pattern,
        wide=data.wide,
        columns=Columns(**data.columns.model_dump()),
        fx={c: SeriesFile(**f.model_dump()) for c, f in data.fx.items()},
        extras={n: SeriesFile(**f.model_dump()) for n, f in file_extras.items()},
    )
    market = load_files_market(
        spec,
        symbols,
        start=start,
        end=end,
        base_currency=data.base_currency,
        metadata=metadata,
        adjust=data.adjust,
    )
    return market, {}


def _restrict_to_calendar(market: Market, calendar: str, where: str) -> Market:
    if calendar == "union":
        return market
    try:
        days = sessions(calendar, market.index[0], market.index[-1])
    except Exception as exc:  # exchange-calendars raises its own errors for unknown names
        raise ConfigError(
            f"{where}: unknown calendar {calendar!r}; use union or an exchange code "
            f"such as XHKG, XNYS, XNAS ({exc.__class__.__name__})"
        ) from None
    restricted = market.select(dates=days)
    if restricted.close.empty:
        raise DataError(f"{where}: no {calendar} session between the data's dates")
    return restricted


def _first_priced(market: Market, start: pd.Timestamp, end: pd.Timestamp) -> None:
    """Every symbol needs a price in the simulated window, not only in the warm-up."""
    window = market.close.loc[start:end]
    for symbol in market.symbols:
        if window[symbol].isna().all():
            raise DataError(
                f"{symbol}: no price between {start.date()} and {end.date()}; check the "
                "symbol, the window or the file"
            )


def load_markets(
    config: RunConfig | DataConfig,
    offline: bool = False,
    folder: Path | None = None,
    warmup: Warmup | None = None,
) -> tuple[Market, Market | None]:
    """Return the market a config's ``data`` section describes and the benchmark's prices.

    The market holds `warmup` history before ``data.start`` (default: what the config's
    strategy needs, `warmup_of`), and ``Market.start`` marks where the simulation starts.

    Relative paths are taken from `folder` when given; else each from the folder of the
    config file that wrote it (see `_path_resolver`). ``data.files``, ``data.wide`` and
    the fx and extras files are relative to ``data.path`` (without it: yahoo extras, to
    the folder of the config file that names them). With `offline`, the yahoo source
    reads its cache only. Symbol groups are attached; ``data.calendar`` selects the bars.

    Raises
    ------
    ConfigError
        When ``data.path`` is not a folder, naming the file and line that set it.
    """
    data = config.data if isinstance(config, RunConfig) else config
    resolve = _path_resolver(config, folder)
    symbols = data.symbol_list
    bench = config.benchmark if isinstance(config, RunConfig) else None
    apart = separate_benchmark(data, bench)
    wanted = symbols + [
        s for s in (bench.symbols if bench and not apart else []) if s not in symbols
    ]
    source = str(config.path) if isinstance(config, RunConfig) and config.path else None
    where_path = config.where(("data", "path")) if isinstance(config, RunConfig) else "data.path"
    if warmup is None:
        warmup = (
            warmup_of(config, resolve_strategy(config))
            if isinstance(config, RunConfig)
            else Warmup.of(data.warmup, 1, 0)
        )
    start, end = pd.Timestamp(data.start), pd.Timestamp(data.end)
    metadata = {s: m.model_dump(exclude_none=True) for s, m in data.metadata.items()}
    try:
        exchanges = [asset_info(s, metadata).exchange for s in symbols]
        first = load_start(start, warmup, exchanges)
        loaded, covered = _load_symbols(data, wanted, offline, resolve, where_path, first)
        loaded = replace(loaded, start=start)
        _first_priced(loaded.select(symbols), start, end)
        check_history(loaded.select(symbols), start, warmup, covered)
    except DataError as exc:
        raise DataError(f"{source}: {exc}" if source else str(exc)) from None
    where = config.where(("data", "calendar")) if isinstance(config, RunConfig) else "data.calendar"
    everything = _restrict_to_calendar(loaded, data.calendar, where)
    market = everything.select(symbols)
    if len(wanted) > len(symbols):  # drop dates only the benchmark traded on
        priced = market.close.notna().any(axis=1)  # flat rows are priced at their close
        market = market.select(dates=market.index[priced.to_numpy()])
    market = replace(market, groups=data.groups)
    try:
        market = on_series_end(market, data.on_series_end)
        if bench is not None and apart:
            cache = resolve(("data", "cache"), data.cache) if data.cache else None
            prices = benchmark_from(
                str(bench.source),
                bench.symbols,
                everything,
                cache=cache,
                offline=offline,
                allow_partial=data.allow_partial,
            )
            return market, prices
    except DataError as exc:
        raise DataError(f"{source}: {exc}" if source else str(exc)) from None
    return market, (everything.select(bench.symbols) if bench else None)


def load_market(
    config: RunConfig | DataConfig,
    offline: bool = False,
    base_dir: Path | None = None,
    warmup: Warmup | None = None,
) -> Market:
    """Build the market a config's ``data`` section describes (see `load_markets`)."""
    return load_markets(config, offline, base_dir, warmup)[0]


# --- kernel inputs --------------------------------------------------------------------


def cost_arguments(config: RunConfig, market: Market) -> dict[str, Any]:
    """Per-asset cost settings for `prepare_market`; money in each asset's currency.

    `market` is the whole market, warm-up included. Each setting is a mapping symbol ->
    number, as before dated costs existed, unless it changes within the simulated bars:
    then it is a frame of effective dates x symbols (`engine.dated_inputs.per_asset`).
    """
    from engine.inputs import Charge  # the kernel's module: only when a run simulates

    p = config.portfolio
    bars = simulated_bars(market)
    keys = {s: (s, market.exchange.get(s, ""), market.currency[s]) for s in market.symbols}
    costs = {symbol: p.asset_costs(*key) for symbol, key in keys.items()}

    def setting(name: str, path: Loc, values: dict[str, Any]) -> Any:
        return per_asset(values, bars, config, lambda s: p.cost_origin(*keys[s], path), name)

    names = sorted({name for c in costs.values() for name in c.charges})
    none = (0.0, 0.0, float("inf"))
    charges = []
    for n in names:
        fields = {}
        for i, part in enumerate(("rate", "minimum", "maximum")):
            values = {s: c.charges.get(n, none)[i] for s, c in costs.items()}
            fields[part] = setting(f"charges.{n}.{part}", ("charges", n, part), values)
        charges.append(Charge(**fields))
    return {
        "fees": setting("fees.rate", ("fees", "rate"), {s: c.fee_rate for s, c in costs.items()}),
        "min_fees": setting(
            "fees.minimum", ("fees", "minimum"), {s: c.fee_minimum for s, c in costs.items()}
        ),
        "fixed_fees": setting(
            "fees.fixed", ("fees", "fixed"), {s: c.fee_fixed for s, c in costs.items()}
        ),
        "charges": charges,
        **{
            name: setting(name, (name,), {s: getattr(c, name) for s, c in costs.items()})
            for name in ("buy_tax", "sell_tax", "slippage", "half_spread")
        },
        "borrow_rate": borrow_on_bars(
            costs, config, market, lambda s, name: p.cost_origin(*keys[s], (name,))
        ),
    }


def rate_arguments(config: RunConfig, market: Market) -> dict[str, Any]:
    """``fx_cost``, ``cash_rate``, ``cash_debit_rate`` and ``risk_free`` for
    `prepare_market`: numbers as written, or the rate of each simulated bar.

    ``report.risk_free: cash`` is the very series the cash balance earns.
    """
    p = config.portfolio
    fx_cost: Any = p.fx_cost
    if isinstance(fx_cost, dict):
        fx_cost = per_asset(
            dict.fromkeys(market.symbols, fx_cost),
            simulated_bars(market),
            config,
            lambda _s: ("portfolio", "fx_cost"),
            "fx_cost",
        )
    cash = rate_on_bars(p.cash_rate, config, market, ("portfolio", "cash_rate"))
    debit = (
        None
        if p.cash_debit_rate is None
        else rate_on_bars(p.cash_debit_rate, config, market, ("portfolio", "cash_debit_rate"))
    )
    risk_free = config.report.risk_free
    return {
        "fx_cost": fx_cost,
        "cash_rate": cash,
        "cash_debit_rate": debit,
        "risk_free": (
            cash
            if risk_free == "cash"
            else rate_on_bars(risk_free, config, market, ("report", "risk_free"))
        ),
    }


def prepare_kernel(config: RunConfig, market: Market) -> KernelMarket:
    """The kernel's arrays for `market` from ``market.start`` on, under the config's
    portfolio and report settings (costs and rates by date, `cost_arguments` and
    `rate_arguments`; limits, stops, participation and impact, `engine.risk_inputs`).

    A series that ends early (``Market.closing``) trades at its close on its last bar
    whatever ``portfolio.execution`` says: the position is closed at its last price.
    """
    from engine.inputs import prepare_market  # imports numba: `validate` never gets here

    p = config.portfolio
    costs = cost_arguments(config, market)
    rates = rate_arguments(config, market)
    risk = risk_arguments(config) | liquidity_arguments(config, market)
    market = market.after_warmup()
    exec_price = market.open if p.execution == "open" else None
    if exec_price is not None and market.closing:  # closed out at the last close
        exec_price = exec_price.copy()
        for symbol, last in market.closing.items():
            exec_price.loc[last, symbol] = market.close.loc[last, symbol]
    return prepare_market(
        market.close,
        exec_price=exec_price,
        fx=market.fx,
        currency=market.currency,
        lot_size=market.lot_size if p.lots else None,
        base_currency=market.base_currency,
        **rates,
        **costs,
        **dividend_arguments(config, market),
        **risk,
    )
