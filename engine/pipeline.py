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
- `build_targets`: K parameter sets -> targets ``[K, T, N]``, with the rebalance
  schedule and the execution lag applied, and a reason for each set the strategy
  rejected or whose targets ask for more gross exposure than `gross_limit` allows.

Importing this module does not import numba (`eastwind validate` checks a strategy's
parameters through it); `prepare_kernel` imports the kernel when a run needs it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.config import DataConfig, PortfolioConfig, RunConfig, Schedule
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
from engine.data.checks import series_ends
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
from engine.errors import BacktestError, ConfigError, DataError, DataWarning
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
from engine.strategy import carry_last, schedule_targets

if TYPE_CHECKING:
    from engine.inputs import KernelMarket

__all__ = [
    "GrossLimit",
    "Loc",
    "ResolvedStrategy",
    "build_targets",
    "check_strategy",
    "cost_arguments",
    "gross_limit",
    "load_market",
    "load_markets",
    "located",
    "prepare_kernel",
    "rate_arguments",
    "raw_weights",
    "resolve_strategy",
    "schedule_of",
    "strategy_params",
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
        if not data.extras:
            return market, covered
        if data.path is not None:
            root = _data_folder(data, resolve, where)
            extras = {n: SeriesFile(**f.model_dump()) for n, f in data.extras.items()}
        else:  # no data folder: each file from the folder of the config that names it
            root = Path()
            files_of = {
                n: resolve(("data", "extras", n, "file"), f.file) for n, f in data.extras.items()
            }
            extras = {
                n: SeriesFile(**{**f.model_dump(), "file": str(files_of[n])})
                for n, f in data.extras.items()
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
        extras={n: SeriesFile(**f.model_dump()) for n, f in data.extras.items()},
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


def _series_ends(market: Market, policy: str) -> Market:
    """Report the series of `market` that end before its last bar while their exchange
    trades, and act on ``data.on_series_end``: the market marked to close them
    (``close``), as is (``hold``), or an error.

    Raises
    ------
    DataError
        With ``error``, naming the first such series.
    """
    ends = series_ends(market)
    if not ends:
        return market
    if policy == "error":
        e = ends[0]
        raise DataError(
            f"{e.symbol}: prices end on {e.last.date()}, {e.missing} sessions of its exchange "
            "before the last bar, and data.on_series_end is error; extend its data, drop "
            "the symbol, or set data.on_series_end to close or hold"
        )
    fate = "closed at its last price" if policy == "close" else "held at its last price"
    for e in ends:
        warnings.warn(
            f"{e.symbol}: prices end on {e.last.date()} with {e.missing} sessions of its "
            f"exchange to go; a position is {fate} (data.on_series_end: {policy})",
            DataWarning,
            stacklevel=3,
        )
    if policy == "hold":
        return market
    return replace(market, closing={e.symbol: e.last for e in ends})


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
    wanted = symbols + [s for s in (bench.symbols if bench else []) if s not in symbols]
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
        market = _series_ends(market, data.on_series_end)
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


# --- targets --------------------------------------------------------------------------


def schedule_of(config: RunConfig, strategy: ResolvedStrategy) -> Schedule:
    """The rebalance schedule: ``portfolio.rebalance``, else the strategy's own."""
    return config.portfolio.rebalance or strategy.rebalance


def raw_weights(
    strategy: ResolvedStrategy,
    market: Market,
    params: Sequence[Any],
    where: Callable[[Loc], str],
) -> tuple[npt.NDArray[np.float64], list[str | None]]:
    """The strategy's weights ``[K, T, N]`` for validated parameter sets, before schedule
    and lag, and for each set None or the reason it failed (its weights stay NaN).

    A registered strategy computes the batch at once; if that fails, each set is retried
    alone so one bad set does not sink the others.
    """
    n_bars, n_assets = len(market.index), len(market.symbols)
    out = np.full((len(params), n_bars, n_assets), np.nan)
    reasons: list[str | None] = [None] * len(params)

    def attempt(rows: list[int]) -> str | None:
        try:
            out[rows] = strategy.compute_many(market, [params[i] for i in rows])
        except BacktestError as exc:
            return located(where, exc)
        except Exception as exc:  # user code: report it as the strategy's failure
            return f"strategy {strategy.name!r} failed: {type(exc).__name__}: {exc}"
        return None

    if params and (reason := attempt(list(range(len(params))))) is not None:
        reasons = [reason] if len(params) == 1 else [attempt([i]) for i in range(len(params))]
    if np.isinf(out).any():  # one pass over the batch; name the first bad bar per set
        for k in range(len(params)):
            bad = np.isinf(out[k])
            if reasons[k] is None and bad.any():
                t, j = np.argwhere(bad)[0]
                reasons[k] = (
                    f"strategy {strategy.name!r} gave an infinite weight for "
                    f"{market.symbols[j]} on {market.index[t].date()}"
                )
                out[k] = np.nan
    return out, reasons


class GrossLimit(NamedTuple):
    """The largest gross exposure targets may ask for, the setting that sets it, and the
    largest value that setting accepts (its bound in `PortfolioConfig`)."""

    value: float
    setting: Loc
    ceiling: float


def gross_limit(portfolio: PortfolioConfig) -> GrossLimit:
    """``max_leverage`` when there is a leverage cap, else ``max_gross``."""
    if portfolio.max_leverage is not None:
        return GrossLimit(portfolio.max_leverage, ("portfolio", "max_leverage"), 20.0)
    return GrossLimit(portfolio.max_gross, ("portfolio", "max_gross"), 1000.0)


def _gross_reasons(
    targets: npt.NDArray[np.float64],
    reasons: list[str | None],
    limit: GrossLimit,
    dates: pd.DatetimeIndex,
    offset: int,
    name: str,
    where: Callable[[Loc], str],
) -> None:
    """Reject each set whose targets ask for a gross exposure (sum of |weights| given at
    one bar) above the limit: its reason names the setting and the first such bar by the
    date it was decided, ``dates[t + offset]`` for targets row t."""
    from engine.kernel.sim_nb import gross_over_nb  # numba: only when a run builds targets

    first = np.empty(len(targets), dtype=np.int64)
    gross = np.empty(len(targets), dtype=np.float64)
    # a book normalised to the limit is not over it
    gross_over_nb(targets, limit.value * (1.0 + 1e-9), first, gross)
    for k in np.flatnonzero(first >= 0):
        if reasons[k] is not None:
            continue
        t = int(first[k])
        asked, path = gross[k], ".".join(map(str, limit.setting))
        needed = np.ceil(asked * 100.0) / 100.0
        fix = (
            f"set {path} to {needed:g} or more to allow it"
            if needed <= limit.ceiling
            else f"no {path} allows it: scale the strategy's weights down"
        )
        reasons[k] = (
            f"{where(limit.setting)}: strategy {name!r} asks for gross exposure {asked:.4g} on "
            f"{dates[t + offset].date()} (the sum of |weights|), above {path} = "
            f"{limit.value:g}; {fix}"
        )
        targets[k] = np.nan


def build_targets(
    strategy: ResolvedStrategy,
    market: Market,
    params: Sequence[Any],
    *,
    schedule: Schedule,
    lag: int,
    where: Callable[[Loc], str],
    max_gross: GrossLimit,
    keep_decided: bool = False,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None, list[str | None]]:
    """Targets ``[K, T, N]`` for the kernel over the bars from ``market.start`` on:
    weights on the schedule's bars, lagged.

    The strategy sees the whole market, warm-up included. The schedule starts `lag` bars
    before ``market.start`` (or at the first bar), from each asset's last instruction
    (`carry_last`), so the first decision fills on the first simulated bar. Returns the
    targets, with `keep_decided` the scheduled weights before the lag on the simulated
    bars (what the strategy decided, on the bars it decided it; else None), and for
    each set None or the reason it failed. `where` locates a strategy's error in the
    config (`RunConfig.where`). A position in a series that ends early
    (``Market.closing``) is closed on its last bar and gets no target after it. A set
    whose targets ask for more gross exposure than `max_gross` (`gross_limit` of the
    portfolio) fails; its reason names the bar the strategy decided it.
    """
    raw, reasons = raw_weights(strategy, market, params, where)
    first = market.warmup_bars
    decide = max(first - lag, 0)
    raw = carry_last(raw, decide)
    index = market.index[decide:]
    targets = schedule_targets(raw, index, schedule, lag)[:, first - decide :]
    decided = None
    if keep_decided:
        decided = schedule_targets(raw, index, schedule, 0)[:, first - decide :]
    simulated = index[first - decide :]
    for symbol, last in market.closing.items():  # data.on_series_end: close
        t, j = simulated.get_loc(last), market.symbols.index(symbol)
        targets[:, t, j] = 0.0
        targets[:, t + 1 :, j] = np.nan
    _gross_reasons(targets, reasons, max_gross, market.index, first - lag, strategy.name, where)
    if decided is not None:
        decided[[r is not None for r in reasons]] = np.nan
    return targets, decided, reasons


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
            for name in ("buy_tax", "sell_tax", "slippage")
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
    `rate_arguments`).

    A series that ends early (``Market.closing``) trades at its close on its last bar
    whatever ``portfolio.execution`` says: the position is closed at its last price.
    """
    from engine.inputs import prepare_market  # imports numba: `validate` never gets here

    p = config.portfolio
    costs = cost_arguments(config, market)
    rates = rate_arguments(config, market)
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
    )
