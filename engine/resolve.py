"""Which strategy a config names, its parameters, and the history it needs.

`resolve_strategy` finds a registered strategy or a user's ``module:function`` once,
for every parameter set of a run or a sweep. A user function declares its parameters
with a pydantic model (``def f(market, params: MyParams)``) or a typed signature
(``def f(market, fast: int = 10)``); ``def f(market, params)`` gets a plain dict. It
states the history its signal needs in a ``history`` attribute (bars, or a function of
its parameters). `warmup_of` turns that history into the warm-up the data layer loads.

A user module found in the folder of the config that names it is imported under a name
of its own, made from its file's path and content, so two configs whose ``sig.py``
files differ never share one module, and an edited file is imported anew. It is pickled
by value (cloudpickle), so the strategy travels to Dask workers without the file. An
exception in the user's code, on import or in a call, becomes a `StrategyError` that
shows the user's last few frames (file, line, code) and none of eastwind's.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import itertools
import pickle
import sys
import sysconfig
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any, get_origin

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from engine.config import RunConfig, Schedule, describe_errors
from engine.data import Market
from engine.data.warmup import Warmup
from engine.errors import BacktestError, ConfigError, StrategyError
from engine.strategy import DecisionRule
from strategies import REGISTRY

Loc = tuple[str | int, ...]


@dataclass(frozen=True, eq=False)
class ResolvedStrategy:
    """A strategy found once and used for every parameter set of a run or a sweep.

    ``params_model`` validates parameter sets (None: a user function that takes a plain
    dict, whose names nobody can check). ``rebalance`` is the schedule used when
    ``portfolio.rebalance`` names none. ``history`` gives, for validated parameters, the
    bars the first full signal needs (`engine.strategy.Strategy.history`).
    """

    name: str
    params_model: type[BaseModel] | None
    rebalance: Schedule
    compute_many: Callable[[Market, Sequence[Any]], npt.NDArray[np.float64]]
    history: Callable[[Any], int]
    module: str | None = None  # the user module, in sys.modules, to pickle by value
    decision_rule: Callable[[Market, Sequence[Any]], DecisionRule | None] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        if self.module is None:
            return (ResolvedStrategy, (*self._fields(), None, self.decision_rule))
        fields = self._fields()
        import cloudpickle  # a dependency of dask; only needed to ship a user strategy

        if self.module in sys.modules:  # not on a worker, which got it by value already
            cloudpickle.register_pickle_by_value(sys.modules[self.module])
        return (_by_value, (cloudpickle.dumps((*fields, self.module)),))

    def _fields(self) -> tuple[Any, ...]:
        return (self.name, self.params_model, self.rebalance, self.compute_many, self.history)

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


def _by_value(blob: bytes) -> ResolvedStrategy:
    return ResolvedStrategy(*pickle.loads(blob))


@contextlib.contextmanager
def _importable_from(folder: Path) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))


USER_MODULE_PREFIX = "eastwind_user_"


def _user_module(module_name: str, folder: Path) -> tuple[ModuleType, str | None]:
    """Import `module_name` from `folder` under a name of its own (the module docstring
    says why); if `folder` does not hold it as source, by its name from sys.path.

    Returns the module and the name it is registered under when it came from `folder`.
    The folder is on sys.path while the module runs, so it can import files next to it.
    """
    top, _, rest = module_name.partition(".")
    found = importlib.machinery.PathFinder.find_spec(top, [str(folder)])
    if found is None or not isinstance(found.loader, importlib.machinery.SourceFileLoader):
        with _importable_from(folder):
            return importlib.import_module(module_name), None
    source = Path(str(found.origin))
    identity = str(source.resolve()).encode() + b"\0" + source.read_bytes()
    unique = f"{USER_MODULE_PREFIX}{hashlib.sha256(identity).hexdigest()[:16]}_{top}"
    with _importable_from(folder):
        if unique not in sys.modules:
            spec = importlib.util.spec_from_file_location(
                unique, source, submodule_search_locations=found.submodule_search_locations
            )
            assert spec is not None and spec.loader is not None  # a source file, found above
            module = importlib.util.module_from_spec(spec)
            sys.modules[unique] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[unique]
                raise
        try:
            return importlib.import_module(f"{unique}.{rest}" if rest else unique), unique
        except ModuleNotFoundError as exc:
            if exc.name is None or not exc.name.startswith(unique):
                raise
            raise ModuleNotFoundError(
                f"No module named {module_name!r}", name=module_name
            ) from None


def _user_function(config: RunConfig) -> tuple[Callable[..., Any], str | None]:
    """Import the ``module:function`` a config names, from the folder of the config file
    that names it (`RunConfig.source_dir`) or sys.path; return it and its module's name
    when the module is pickled by value (`_user_module`).

    Raises
    ------
    ConfigError
        When the module or the function is not there.
    StrategyError
        When the module fails on import (a syntax error, an exception), with its frames.
    """
    module_name, _, function_name = config.strategy.name.partition(":")
    where = config.where(("strategy", "name"))
    folder = config.source_dir(("strategy", "name"))
    try:
        module, unique = _user_module(module_name, folder)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module_name + ".").startswith(exc.name + "."):
            raise StrategyError(
                f"{where}: importing {module_name!r} failed: {user_failure(exc)}"
            ) from None
        raise ConfigError(
            f"{where}: cannot import {module_name!r} ({exc}); put {module_name}.py in "
            f"{folder}, the folder of the config file that names it, or install it"
        ) from None
    except Exception as exc:  # the user's module raised while it ran
        raise StrategyError(
            f"{where}: importing {module_name!r} failed: {user_failure(exc)}"
        ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ConfigError(f"{where}: {module_name!r} has no function {function_name!r}")
    return function, unique


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
        function, module = _user_function(config)
        model, keywords = _declared_params(function, config.where(("strategy", "name")))
        compute_many = _UserWeights(name, function, keywords)
        history = _UserHistory(name, getattr(function, "history", 1))
        return ResolvedStrategy(name, model, "daily", compute_many, history, module)
    if name not in REGISTRY:
        known = sorted(REGISTRY)
        guess = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        raise ConfigError(
            f"{config.where(('strategy', 'name'))}: unknown strategy {name!r}{hint} Known: "
            f"{', '.join(known)}, or module:function for your own"
        )
    return registered(name)


def registered(name: str) -> ResolvedStrategy:
    """The registered strategy `name` as a `ResolvedStrategy` (a KeyError if unknown)."""
    cls = REGISTRY[name]
    return ResolvedStrategy(
        name,
        cls.params_model,
        cls.rebalance,
        cls.target_weights_many,
        cls.history,
        decision_rule=cls.decision_rule,
    )


@dataclass(frozen=True)
class _UserWeights:
    """The batched form of a user function: one call per parameter set.

    The function sees ``market.extras`` as a mapping whose missing names list the names
    there are (`_Extras`); its exceptions become `StrategyError` (`user_failure`).
    """

    name: str
    function: Callable[..., Any]
    keywords: bool

    def __call__(self, market: Market, params: Sequence[Any]) -> npt.NDArray[np.float64]:
        shown = replace(market, extras=_Extras(market.extras))
        out = np.empty((len(params), len(market.index), len(market.symbols)))
        for k, p in enumerate(params):
            if self.keywords:
                weights = self._call(shown, **p.model_dump())
            else:
                weights = self._call(shown, p)
            out[k] = weights_array(self.name, weights, market)
        return out

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.function(*args, **kwargs)
        except BacktestError:
            raise
        except Exception as exc:
            raise StrategyError(f"strategy {self.name!r} failed: {user_failure(exc)}") from None


@dataclass(frozen=True)
class _UserHistory:
    """The history a user function states in its ``history`` attribute: bars, or a
    function of its parameters (model or dict) returning bars; 1 when it states none."""

    name: str
    stated: Any

    def __call__(self, params: Any) -> int:
        bars = self.stated
        if callable(bars):
            try:
                bars = bars(params)
            except Exception as exc:
                raise StrategyError(
                    f"strategy {self.name!r}: its history attribute failed: {user_failure(exc)}"
                ) from None
        if isinstance(bars, bool) or not isinstance(bars, (int, np.integer)) or bars < 1:
            raise ConfigError(
                f"strategy {self.name!r}: its history attribute gave {bars!r}; it must be a "
                "whole number of bars >= 1, or a function of the parameters returning one"
            )
        return int(bars)


class _Extras(dict[str, Any]):
    """``market.extras`` as a user function sees it: a missing name lists those there are."""

    def __missing__(self, key: str) -> Any:
        raise _MissingExtra(key, sorted(self))


class _MissingExtra(KeyError):
    def __str__(self) -> str:
        key, names = self.args
        there = f"it has {', '.join(names)}" if names else "it is empty"
        return f"{key!r} is not in market.extras ({there}); name extra series under data.extras"


USER_FRAMES = 3  # the last frames in the user's files that a failure shows
USER_TEXT = 300  # characters of an exception's message, or of a line of code, shown


def _clip(text: str, limit: int = USER_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


@functools.cache
def _not_user_folders() -> tuple[str, ...]:
    """eastwind's own folders, the standard library's and the installed packages'."""
    here = Path(__file__).resolve().parent
    paths = sysconfig.get_paths()
    folders = {here, here.parent / "strategies"}
    folders |= {Path(paths[k]).resolve() for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(str(f) + "/" for f in folders)


def _is_user_file(filename: str) -> bool:
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>
        return False
    return not str(Path(filename).resolve()).startswith(_not_user_folders())


def user_failure(exc: BaseException) -> str:
    """``Type: message`` of an exception raised in the user's code, then its last
    `USER_FRAMES` frames in the user's files, outermost first (file, line, code).

    Frames of eastwind, the standard library and installed packages are left out, and
    the message and each line of code are cut to `USER_TEXT` characters.
    """
    frames = [
        (f.filename, f.lineno, f.name, f.line)
        for f in traceback.extract_tb(exc.__traceback__)
        if _is_user_file(f.filename)
    ]
    if isinstance(exc, SyntaxError) and exc.filename:  # raised compiling it: not a frame
        frames.append((exc.filename, exc.lineno, None, exc.text))
    kind = "KeyError" if isinstance(exc, _MissingExtra) else type(exc).__name__
    lines = [f"{kind}: {_clip(str(exc))}"]
    for filename, lineno, function, code in frames[-USER_FRAMES:]:
        lines.append(f"  {filename}, line {lineno}" + (f", in {function}" if function else ""))
        if code and code.strip():
            lines.append(f"    {_clip(code.strip())}")
    return "\n".join(lines)


def warmup_of(config: RunConfig, strategy: ResolvedStrategy) -> Warmup:
    """The history to load before ``data.start``: ``data.warmup``, or what the strategy
    needs for its configured parameters (with a sweep, for the longest of its grid) plus
    the execution lag.

    Parameter sets the strategy rejects are skipped here; the run reports them.
    """
    setting = config.data.warmup
    lags = [config.portfolio.lag]
    sets: list[Mapping[str, Any]] = [config.strategy.params]
    if config.sweep is not None:
        grids = config.sweep.grids()
        lags += [v for v in grids.get("portfolio.lag", []) if isinstance(v, int)]
        keys = [k for k in grids if k.startswith("strategy.params.")]
        names = [k.split(".", 2)[2] for k in keys]
        sets = [
            {**config.strategy.params, **dict(zip(names, combo, strict=True))}
            for combo in itertools.product(*(grids[k] for k in keys))
        ]
    history = 1
    if setting is None:
        for values in sets:
            try:
                params = strategy.validate(values)
            except ValidationError:
                continue
            history = max(history, strategy.history(params))
    warmup = Warmup.of(setting, history, max(lags))
    window = _impact_window(config)
    if setting is None and window and isinstance(warmup.load, int) and warmup.load < window:
        # sigma and ADV of the first simulated bars from the bars before them; loaded when
        # the source has them, never required (they are NaN, and impact 0, without)
        warmup = Warmup(load=window, required=warmup.required)
    return warmup


def _impact_window(config: RunConfig) -> int:
    """``portfolio.impact_window`` (the longest swept) when any asset may pay impact, else 0."""
    p = config.portfolio
    grids = config.sweep.grids() if config.sweep is not None else {}
    swept = any(key.split(".")[-1] == "impact" for key in grids)
    if not swept and p.impact == 0.0 and all(c.impact == 0.0 for c in p.costs.values()):
        return 0
    windows = [v for v in grids.get("portfolio.impact_window", []) if isinstance(v, int)]
    return max([p.impact_window, *windows])


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


def _first_difference(given: pd.Index, expected: pd.Index, what: str) -> str | None:
    """Why `given` labels cannot be aligned to `expected`, or None when they can be."""
    if given.has_duplicates:
        return f"{what} {given[given.duplicated()][0]!s} appears twice"
    missing, extra = expected.difference(given, sort=False), given.difference(expected, sort=False)
    if len(missing):
        return f"{len(missing)} of the market's {what}s are missing, first {missing[0]!s}"
    if len(extra):
        return f"{len(extra)} {what}s are not the market's, first {extra[0]!s}"
    return None


def weights_array(name: str, weights: object, market: Market) -> npt.NDArray[np.float64]:
    """Return a strategy's weights as a float64 array on the market's dates and symbols.

    Weights with the market's dates and symbols in another order are aligned by label
    (that is unambiguous); any other difference is an error naming the first label.

    Raises
    ------
    StrategyError
        When `weights` is not a DataFrame, or its dates or symbols differ from
        ``market.close``'s.
    """
    shape = f"market.close ({len(market.index)} bars x {len(market.symbols)} symbols)"
    if not isinstance(weights, pd.DataFrame):
        raise StrategyError(
            f"strategy {name!r} returned a {type(weights).__name__}, not a DataFrame shaped "
            f"like {shape}"
        )
    for given, expected, what in (
        (weights.index, market.index, "date"),
        (weights.columns, market.close.columns, "symbol"),
    ):
        if given.equals(expected):
            continue
        why = _first_difference(pd.Index(given), pd.Index(expected), what)
        if why is not None:
            raise StrategyError(
                f"strategy {name!r} must return a DataFrame shaped like {shape}: {why}"
            )
    if not (weights.index.equals(market.index) and weights.columns.equals(market.close.columns)):
        weights = weights.reindex(index=market.index, columns=market.close.columns)
    return weights.to_numpy(dtype=np.float64)


def located(where: Callable[[Loc], str], exc: BacktestError) -> str:
    """The message of `exc`, prefixed with ``file:line: path`` when it carries a location.

    `where` is `RunConfig.where` of the config the strategy came from.
    """
    return f"{where(exc.loc)}: {exc.message}" if exc.loc else str(exc)
