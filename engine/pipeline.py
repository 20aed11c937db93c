"""The one pipeline of every backtest: config -> market -> strategy -> targets -> kernel.

`run` (one backtest), `sweep` (K parameter sets) and walk-forward all go through these
functions, so a rule implemented here holds for all of them:

- `load_market`: the data section -> `Market` (and the benchmark's prices).
- `resolve_strategy`: the strategy name -> a `ResolvedStrategy`, once; a registered
  strategy, or ``module:function`` from the folder of the config file that names it. A
  user function declares its parameters with a pydantic model (``def f(market, params:
  MyParams)``) or a typed signature (``def f(market, fast: int = 10)``); its configured
  and swept names are then checked like a registered strategy's. ``def f(market,
  params)`` gets a plain dict.
- `prepare_kernel`: the portfolio section -> the kernel's arrays (`KernelMarket`).
- `build_targets`: K parameter sets -> targets ``[K, T, N]``, with the rebalance
  schedule and the execution lag applied, and a reason for each set the strategy
  rejected.

Importing this module does not import numba (`eastwind validate` checks a strategy's
parameters through it); `prepare_kernel` imports the kernel when a run needs it.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_origin

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from engine.config import DataConfig, RunConfig, Schedule, describe_errors
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
from engine.errors import BacktestError, ConfigError, DataError, StrategyError
from engine.strategy import schedule_targets
from strategies import REGISTRY

if TYPE_CHECKING:
    from engine.inputs import KernelMarket

Loc = tuple[str | int, ...]


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
    data: DataConfig, symbols: list[str], offline: bool, resolve: PathResolver, where: str
) -> Market:
    start, end = pd.Timestamp(data.start), pd.Timestamp(data.end)
    if data.source == "synthetic":
        return synthetic_market(
            symbols,
            start,
            end,
            seed=data.seed,
            base_currency=data.base_currency,
            flow_link=data.flow_link,
        )
    metadata = {s: m.model_dump(exclude_none=True) for s, m in data.metadata.items()}
    if data.source == "yahoo":
        cache = YahooCache(resolve(("data", "cache"), data.cache) if data.cache else None)
        market = load_yahoo_market(
            symbols,
            start=start,
            end=end,
            base_currency=data.base_currency,
            cache=cache,
            metadata=metadata,
            offline=offline,
        )
        if not data.extras:
            return market
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
        return replace(market, extras={**market.extras, **read})
    spec = FileSpec(
        root=_data_folder(data, resolve, where),
        files=data.files,
        pattern=data.pattern,
        wide=data.wide,
        columns=Columns(**data.columns.model_dump()),
        fx={c: SeriesFile(**f.model_dump()) for c, f in data.fx.items()},
        extras={n: SeriesFile(**f.model_dump()) for n, f in data.extras.items()},
    )
    return load_files_market(
        spec, symbols, start=start, end=end, base_currency=data.base_currency, metadata=metadata
    )


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


def load_markets(
    config: RunConfig | DataConfig, offline: bool = False, folder: Path | None = None
) -> tuple[Market, Market | None]:
    """Return the market a config's ``data`` section describes and the benchmark's prices.

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
    try:
        loaded = _load_symbols(data, wanted, offline, resolve, where_path)
    except DataError as exc:
        raise DataError(f"{source}: {exc}" if source else str(exc)) from None
    where = config.where(("data", "calendar")) if isinstance(config, RunConfig) else "data.calendar"
    everything = _restrict_to_calendar(loaded, data.calendar, where)
    market = everything.select(symbols)
    if len(wanted) > len(symbols):  # drop dates only the benchmark traded on
        priced = market.close.notna().any(axis=1)  # flat rows are priced at their close
        market = market.select(dates=market.index[priced.to_numpy()])
    market = replace(market, groups=data.groups)
    return market, (everything.select(bench.symbols) if bench else None)


def load_market(
    config: RunConfig | DataConfig, offline: bool = False, base_dir: Path | None = None
) -> Market:
    """Build the market a config's ``data`` section describes (see `load_markets`)."""
    return load_markets(config, offline, base_dir)[0]


# --- strategy -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ResolvedStrategy:
    """A strategy found once and used for every parameter set of a run or a sweep.

    ``params_model`` validates parameter sets (None: a user function that takes a plain
    dict, whose names nobody can check). ``rebalance`` is the schedule used when
    ``portfolio.rebalance`` names none.
    """

    name: str
    params_model: type[BaseModel] | None
    rebalance: Schedule
    compute_many: Callable[[Market, Sequence[Any]], npt.NDArray[np.float64]]

    @property
    def param_names(self) -> set[str] | None:
        """The parameters the strategy declares, or None if it declares none."""
        return None if self.params_model is None else set(self.params_model.model_fields)

    def validate(self, values: Mapping[str, Any]) -> Any:
        """Return validated parameters (a model instance, or the dict as given).

        Raises
        ------
        pydantic.ValidationError
            When the model rejects `values`.
        """
        if self.params_model is None:
            return dict(values)
        return self.params_model.model_validate(dict(values))


@contextlib.contextmanager
def _importable_from(folder: Path) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))


def _user_function(config: RunConfig) -> Callable[..., Any]:
    """Import the ``module:function`` a config names, from the folder of the config file
    that names it (`RunConfig.source_dir`) or sys.path."""
    module_name, _, function_name = config.strategy.name.partition(":")
    where = config.where(("strategy", "name"))
    folder = config.source_dir(("strategy", "name"))
    try:
        with _importable_from(folder):
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{where}: cannot import {module_name!r} ({exc}); put {module_name}.py in "
            f"{folder}, the folder of the config file that names it, or install it"
        ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ConfigError(f"{where}: {module_name!r} has no function {function_name!r}")
    return function


def _declared_params(
    function: Callable[..., Any], where: str
) -> tuple[type[BaseModel] | None, bool]:
    """The parameter model a user function declares, and whether it takes keywords.

    ``f(market, params: Model)`` declares ``Model``; ``f(market, a: int = 1, ...)`` declares
    a model built from the signature (called with keywords); ``f(market, params)`` with a
    plain or dict annotation declares none.
    """
    try:
        signature = inspect.signature(function)
        hints = inspect.get_annotations(function, eval_str=True)
    except (TypeError, ValueError, NameError) as exc:
        raise ConfigError(f"{where}: cannot read the function's signature ({exc})") from None
    parameters = list(signature.parameters.values())[1:]  # the first is the market
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    if any(p.kind in variadic for p in parameters):
        raise ConfigError(
            f"{where}: a strategy function cannot take *args or **kwargs; declare each "
            "parameter (or one pydantic model)"
        )
    if len(parameters) == 1 and parameters[0].default is inspect.Parameter.empty:
        hint = hints.get(parameters[0].name)
        if isinstance(hint, type) and issubclass(hint, BaseModel):
            return hint, False
        untyped = hint is None or hint is Any or get_origin(hint) in (dict, Mapping)
        if untyped or hint in (dict, Mapping):
            if parameters[0].kind is not inspect.Parameter.KEYWORD_ONLY:
                return None, False  # f(market, params): a plain dict
    fields: dict[str, Any] = {}
    for p in parameters:
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (hints.get(p.name, Any), default)
    model = create_model(
        f"{function.__name__}_params",
        __config__=ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True),
        **fields,
    )
    return model, True


def resolve_strategy(config: RunConfig) -> ResolvedStrategy:
    """Find the strategy a config names: a registered one or ``module:function``.

    Raises
    ------
    ConfigError
        For an unknown strategy (with a close-match suggestion and the known names), a
        module that does not import, or a function whose parameters cannot be read.
    """
    name = config.strategy.name
    if ":" in name:
        function = _user_function(config)
        model, keywords = _declared_params(function, config.where(("strategy", "name")))

        def compute_many(market: Market, params: Sequence[Any]) -> npt.NDArray[np.float64]:
            out = np.empty((len(params), len(market.index), len(market.symbols)))
            for k, p in enumerate(params):
                weights = function(market, **p.model_dump()) if keywords else function(market, p)
                out[k] = weights_array(name, weights, market)
            return out

        return ResolvedStrategy(name, model, "daily", compute_many)
    if name not in REGISTRY:
        known = sorted(REGISTRY)
        guess = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        raise ConfigError(
            f"{config.where(('strategy', 'name'))}: unknown strategy {name!r}{hint} Known: "
            f"{', '.join(known)}, or module:function for your own"
        )
    cls = REGISTRY[name]
    return ResolvedStrategy(name, cls.params_model, cls.rebalance, cls.target_weights_many)


def strategy_params(config: RunConfig, strategy: ResolvedStrategy) -> Any:
    """Validate ``strategy.params`` of `config` for `strategy`.

    Raises
    ------
    ConfigError
        Naming the file, line and YAML path of each invalid parameter.
    """
    try:
        return strategy.validate(config.strategy.params)
    except ValidationError as exc:
        raise ConfigError(
            describe_errors(exc.errors(), config.where, ("strategy", "params"))
        ) from None


def check_strategy(config: RunConfig) -> Any:
    """Check the strategy a config names and return its parameters (defaults filled in)."""
    return strategy_params(config, resolve_strategy(config))


def weights_array(name: str, weights: object, market: Market) -> npt.NDArray[np.float64]:
    """Return a strategy's weights as a float64 array after checking their shape.

    Raises
    ------
    StrategyError
        When `weights` is not a DataFrame on the market's dates and symbols.
    """
    if not isinstance(weights, pd.DataFrame) or not (
        weights.index.equals(market.index) and weights.columns.equals(market.close.columns)
    ):
        raise StrategyError(
            f"strategy {name!r} must return a DataFrame shaped like market.close "
            f"({len(market.index)} bars x {len(market.symbols)} symbols)"
        )
    return weights.to_numpy(dtype=np.float64)


def located(where: Callable[[Loc], str], exc: BacktestError) -> str:
    """The message of `exc`, prefixed with ``file:line: path`` when it carries a location.

    `where` is `RunConfig.where` of the config the strategy came from.
    """
    return f"{where(exc.loc)}: {exc.message}" if exc.loc else str(exc)


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


def build_targets(
    strategy: ResolvedStrategy,
    market: Market,
    params: Sequence[Any],
    *,
    schedule: Schedule,
    lag: int,
    where: Callable[[Loc], str],
    keep_decided: bool = False,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None, list[str | None]]:
    """Targets ``[K, T, N]`` for the kernel: weights on the schedule's bars, lagged.

    Returns the targets, with `keep_decided` the scheduled weights before the lag (what
    the strategy decided, on the bars it decided it; else None), and for each set None
    or the reason it failed. `where` locates a strategy's error in the config
    (`RunConfig.where`).
    """
    raw, reasons = raw_weights(strategy, market, params, where)
    targets = schedule_targets(raw, market.index, schedule, lag)
    decided = schedule_targets(raw, market.index, schedule, 0) if keep_decided else None
    return targets, decided, reasons


# --- kernel inputs --------------------------------------------------------------------


def cost_arguments(config: RunConfig, market: Market) -> dict[str, Any]:
    """Per-asset cost settings for `prepare_market`; money in each asset's currency."""
    from engine.inputs import Charge  # the kernel's module: only when a run simulates

    costs = {
        symbol: config.portfolio.asset_costs(
            symbol, market.exchange.get(symbol, ""), market.currency[symbol]
        )
        for symbol in market.symbols
    }
    names = sorted({name for c in costs.values() for name in c.charges})
    none = (0.0, 0.0, float("inf"))
    return {
        "fees": {s: c.fee_rate for s, c in costs.items()},
        "min_fees": {s: c.fee_minimum for s, c in costs.items()},
        "fixed_fees": {s: c.fee_fixed for s, c in costs.items()},
        "charges": [
            Charge(
                rate={s: c.charges.get(n, none)[0] for s, c in costs.items()},
                minimum={s: c.charges.get(n, none)[1] for s, c in costs.items()},
                maximum={s: c.charges.get(n, none)[2] for s, c in costs.items()},
            )
            for n in names
        ],
        "buy_tax": {s: c.buy_tax for s, c in costs.items()},
        "sell_tax": {s: c.sell_tax for s, c in costs.items()},
        "slippage": {s: c.slippage for s, c in costs.items()},
        "borrow_rate": {s: c.borrow_rate for s, c in costs.items()},
    }


def prepare_kernel(config: RunConfig, market: Market) -> KernelMarket:
    """The kernel's arrays for `market` under the config's portfolio and report settings."""
    from engine.inputs import prepare_market  # imports numba: `validate` never gets here

    p = config.portfolio
    return prepare_market(
        market.close,
        exec_price=market.open if p.execution == "open" else None,
        fx=market.fx,
        currency=market.currency,
        lot_size=market.lot_size if p.lots else None,
        base_currency=market.base_currency,
        fx_cost=p.fx_cost,
        cash_rate=p.cash_rate,
        risk_free=config.report.risk_free,
        **cost_arguments(config, market),
    )
