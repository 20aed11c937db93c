"""The YAML run configuration: pydantic models, and a loader with precise errors.

A config file may ``extends: base.yaml`` (a path relative to it, or a list of them): the
base is read first and the file's keys override it, mappings merged key by key, anything
else (an empty mapping included) replaced; ``name`` is never inherited, and a file that
names another strategy does not inherit the base's strategy parameters. ``--set
a.b.c=value`` overrides apply last. Every model forbids unknown keys, so a misspelt
setting is an error, not a silent default. Errors name the file and line where the
offending key was written, the YAML path (``portfolio.fees.rate``), what was given and
what is allowed. Strategy parameters are checked in a second step against the chosen
strategy's own model (`validate_strategy_params`); this module never imports strategies.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from engine.config.base import ConfigModel, Loc, Rate, Schedule, locate, merge
from engine.config.costs import (
    AssetCosts,
    ChargeConfig,
    CostConfig,
    FeeConfig,
    fee_shorthand,
    resolve_costs,
)
from engine.errors import ConfigError
from engine.kernel.sweep_nb import SWEEP_METRICS


class ColumnsConfig(ConfigModel):
    """Column names in per-symbol price files; null for a column the files lack."""

    date: str = "date"
    open: str | None = "open"
    high: str | None = "high"
    low: str | None = "low"
    close: str = "close"
    volume: str | None = "volume"


class SeriesFileConfig(ConfigModel):
    """One dated column of one file: an fx rate or an extra series."""

    file: str
    column: str = "close"
    date: str = "date"
    quote: Literal["base_per_unit", "units_per_base"] = Field(
        default="base_per_unit",
        description="fx only: units_per_base for quotes like HKD=X (HKD per USD)",
    )
    per_symbol: bool = Field(
        default=False,
        description="extras only: the file has one column per symbol (e.g. per-stock flows)",
    )


class AssetMetadataConfig(ConfigModel):
    """Overrides of an asset's built-in metadata."""

    currency: str | None = None
    exchange: str | None = None
    lot_size: Annotated[float, Field(ge=0.0)] | None = None


class DataConfig(ConfigModel):
    """Where prices come from and for which symbols and dates.

    ``symbols`` is a list, or a mapping of group name -> list (the groups can be named
    in strategy parameters, e.g. ``long: hk_ai``). ``calendar`` keeps the bars of one
    exchange's sessions (``XHKG``, ``XNYS``, ...); ``union`` keeps every date any asset
    traded.
    """

    source: Literal["synthetic", "csv", "yahoo"] = "synthetic"
    symbols: list[str] | dict[str, list[str]]
    start: dt.date
    end: dt.date
    calendar: str = "union"
    seed: int = 7
    flow_link: Annotated[float, Field(ge=0.0, le=2.0)] = Field(
        default=0.1, description="synthetic: strength of the flow -> next-week return link"
    )
    base_currency: Literal["USD", "HKD"] = "USD"
    path: str | None = Field(
        default=None,
        description="csv: folder of the files (yahoo: of extras), relative to the config",
    )
    cache: str | None = Field(default=None, description="yahoo: cache folder (default: user cache)")
    files: dict[str, str] = Field(default_factory=dict)
    pattern: str = "{symbol}.csv"
    wide: str | None = None
    columns: ColumnsConfig = Field(default_factory=ColumnsConfig)
    fx: dict[str, SeriesFileConfig] = Field(default_factory=dict)
    extras: dict[str, SeriesFileConfig] = Field(default_factory=dict)
    metadata: dict[str, AssetMetadataConfig] = Field(default_factory=dict)

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, value: list[str] | dict[str, list[str]]) -> list[str] | dict[str, list[str]]:
        lists = value.values() if isinstance(value, dict) else [value]
        if not value or any(not group for group in lists):
            raise ValueError("list at least one symbol (in every group)")
        for group in lists:
            for symbol in group:
                if not re.fullmatch(r"\^?[A-Za-z0-9.=\-]+", symbol):
                    raise ValueError(f"{symbol!r} is not a ticker symbol")
            if len(set(group)) < len(group):
                twice = sorted({s for s in group if group.count(s) > 1})
                raise ValueError(f"{twice} listed twice")
        return value

    @model_validator(mode="after")
    def _window(self) -> DataConfig:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if self.source == "csv" and self.path is None:
            raise ValueError("source csv needs data.path, the folder that holds the files")
        return self

    @property
    def symbol_list(self) -> list[str]:
        """Every symbol once, in the order written."""
        if isinstance(self.symbols, dict):
            return list(dict.fromkeys(s for group in self.symbols.values() for s in group))
        return list(self.symbols)

    @property
    def groups(self) -> dict[str, list[str]]:
        """Group name -> symbols (empty when symbols is a plain list)."""
        return dict(self.symbols) if isinstance(self.symbols, dict) else {}


class StrategyConfig(ConfigModel):
    """Which strategy to run: a registered name or ``module:function``, and its parameters."""

    name: Annotated[str, Field(min_length=1)]
    params: dict[str, Any] = Field(default_factory=dict)


class PortfolioConfig(ConfigModel):
    """Trading rules and costs of the simulated portfolio.

    Costs given here (``preset``, ``fees``, ``charges``, taxes, ``slippage``,
    ``borrow_rate``) apply to every asset; ``costs`` overrides them per market, keyed
    by currency (``HKD``), exchange (``XHKG``) or symbol (``0700.HK``), the more
    specific key winning. ``rebalance`` overrides the strategy's own schedule.
    """

    init_cash: Annotated[float, Field(gt=0.0)] = 1_000_000.0
    lag: Annotated[int, Field(ge=0, le=10, description="bars between decision and fill")] = 1
    execution: Literal["close", "open"] = "close"
    rebalance: Schedule | None = None
    preset: Literal["hk", "us"] | None = None
    fees: FeeConfig = Field(default_factory=FeeConfig)
    charges: dict[str, ChargeConfig] = Field(default_factory=dict)
    buy_tax: Rate = 0.0
    sell_tax: Rate = 0.0
    slippage: Rate = 0.0
    borrow_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    costs: dict[str, CostConfig] = Field(default_factory=dict)
    fx_cost: Rate = 0.0
    cash_rate: Annotated[float, Field(ge=-0.2, le=1.0)] = 0.0
    max_leverage: Annotated[float, Field(gt=0.0, le=20.0)] | None = None
    lots: bool = True

    fees_shorthand = field_validator("fees", mode="before")(fee_shorthand)

    def asset_costs(self, symbol: str, exchange: str, currency: str) -> AssetCosts:
        """Resolve the costs of one asset: presets and settings, general to specific."""
        specific = [self.costs[k] for k in (currency, exchange, symbol) if k in self.costs]
        return resolve_costs([self, *specific])


class BenchmarkConfig(ConfigModel):
    """What to measure the strategy against: a symbol or a basket (daily rebalanced)."""

    symbols: Annotated[list[str], Field(min_length=1)]
    weights: dict[str, float] | None = Field(
        default=None, description="symbol -> weight; default equal weights"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"symbols": [value]}
        if isinstance(value, list):
            return {"symbols": value}
        return value

    @model_validator(mode="after")
    def _weights(self) -> BenchmarkConfig:
        if self.weights is not None and set(self.weights) != set(self.symbols):
            raise ValueError("weights must name exactly the benchmark's symbols")
        return self


class ReportConfig(ConfigModel):
    """Where and what to write, and the risk-free rate the ratios are measured against."""

    out: str | None = None
    risk_free: Annotated[float, Field(ge=-0.05, le=0.5)] = 0.0
    """Annual risk-free rate for Sharpe, Sortino and alpha (e.g. 0.04 for 4%)."""


class LinearRange(ConfigModel):
    """``{start, stop, step}`` (stop included) or ``{start, stop, num}`` evenly spaced."""

    start: float
    stop: float
    step: Annotated[float, Field(gt=0.0)] | None = None
    num: Annotated[int, Field(ge=1, le=100_000)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> LinearRange:
        if (self.step is None) == (self.num is None):
            raise ValueError("give exactly one of 'step' or 'num'")
        if self.stop < self.start:
            raise ValueError(f"stop ({self.stop:g}) is below start ({self.start:g})")
        return self

    def values(self) -> list[Any]:
        """The grid's values; integers when start, stop and step are integers."""
        if self.num is not None:
            return [float(v) for v in np.linspace(self.start, self.stop, self.num)]
        assert self.step is not None
        count = int(np.floor((self.stop - self.start) / self.step + 1e-9)) + 1
        grid = self.start + self.step * np.arange(count)
        whole = all(float(v).is_integer() for v in (self.start, self.stop, self.step))
        return [round(v) for v in grid] if whole else [float(v) for v in grid]


class LogRange(ConfigModel):
    """``{log: [low, high], num: n}``: n values evenly spaced on a log scale."""

    log: tuple[Annotated[float, Field(gt=0.0)], Annotated[float, Field(gt=0.0)]]
    num: Annotated[int, Field(ge=2, le=100_000)]

    def values(self) -> list[Any]:
        """The grid's values."""
        return [float(v) for v in np.geomspace(self.log[0], self.log[1], self.num)]


class WalkForwardConfig(ConfigModel):
    """Train/test windows in bars: rolling (fixed train length) or expanding."""

    train: Annotated[int, Field(ge=20)]
    test: Annotated[int, Field(ge=1)]
    mode: Literal["rolling", "expanding"] = "rolling"


class SweepConfig(ConfigModel):
    """Parameter grids for ``eastwind sweep``: every combination is one backtest.

    Keys are YAML paths under ``strategy.params`` or ``portfolio``; values are a list,
    a `LinearRange` or a `LogRange`.
    """

    params: Annotated[
        dict[str, Annotated[list[Any], Field(min_length=1)] | LinearRange | LogRange],
        Field(min_length=1),
    ]
    metric: Literal[SWEEP_METRICS] = "sharpe"  # type: ignore[valid-type]
    top: Annotated[int, Field(ge=1, le=1000)] = 10
    chunk: Annotated[int, Field(ge=1, le=100_000)] = 256
    curves: Annotated[int, Field(ge=0, le=50)] = 5
    walk_forward: WalkForwardConfig | None = None

    @field_validator("params")
    @classmethod
    def _paths(cls, params: dict[str, Any]) -> dict[str, Any]:
        for key in params:
            parts = key.split(".")
            ok = (parts[:2] == ["strategy", "params"] and len(parts) == 3) or (
                parts[0] == "portfolio" and len(parts) >= 2
            )
            if not ok or not all(re.fullmatch(r"[A-Za-z_]\w*", p) for p in parts):
                raise ValueError(f"{key!r}: sweep keys are strategy.params.NAME or portfolio.PATH")
        return params

    def grids(self) -> dict[str, list[Any]]:
        """Each swept key with its list of values, in the config's order."""
        return {
            key: spec if isinstance(spec, list) else spec.values()
            for key, spec in self.params.items()
        }


class Tolerance(ConfigModel):
    """How far a metric may move from its baseline: ``max(abs, rel * |baseline|)``."""

    abs: Annotated[float, Field(ge=0.0)] | None = None
    rel: Annotated[float, Field(ge=0.0)] | None = None

    @model_validator(mode="after")
    def _some(self) -> Tolerance:
        if self.abs is None and self.rel is None:
            raise ValueError("give 'abs', 'rel' or both")
        return self


class CheckConfig(ConfigModel):
    """``eastwind check`` settings: tolerances per metric; whether to compare the hash."""

    tolerances: dict[str, Tolerance] = Field(default_factory=dict)
    hash: bool = True


class RunConfig(ConfigModel):
    """A complete backtest: data, strategy, portfolio rules, benchmark and report settings."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")]
    description: str = ""
    data: DataConfig
    strategy: StrategyConfig
    portfolio: PortfolioConfig = Field(default_factory=PortfolioConfig)
    benchmark: BenchmarkConfig | None = None
    report: ReportConfig = Field(default_factory=ReportConfig)
    sweep: SweepConfig | None = None
    check: CheckConfig | None = None
    _path: Path | None = PrivateAttr(default=None)
    _lines: dict[Loc, str] = PrivateAttr(default_factory=dict)

    @property
    def path(self) -> Path | None:
        """The file this config was loaded from, if any."""
        return self._path

    @property
    def out_dir(self) -> Path:
        """Output folder: ``report.out``, or ``out/<name>``."""
        return Path(self.report.out) if self.report.out else Path("out") / self.name

    def where(self, loc: Iterable[str | int]) -> str:
        """Return ``file:line: yaml.path`` for a setting, as precisely as known."""
        return locate(tuple(loc), self._lines, str(self._path) if self._path else "<config>")

    def to_yaml(self, params: BaseModel | Mapping[str, Any] | None = None) -> str:
        """The fully resolved config as YAML (extends applied, defaults filled in).

        `params`, the validated strategy parameters, replace ``strategy.params`` so their
        defaults show too.
        """
        document = self.model_dump(mode="json")
        if isinstance(params, BaseModel):
            document["strategy"]["params"] = params.model_dump(mode="json")
        elif params is not None:
            document["strategy"]["params"] = dict(params)
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def _describe(
    errors: Sequence[Any], lines: Mapping[Loc, str], source: str, prefix: Loc = ()
) -> str:
    parts = []
    for error in errors:
        loc = prefix + tuple(part for part in error["loc"] if not str(part).startswith("function-"))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] != "missing" and "input" in error:
            given = error["input"]
            if not isinstance(given, dict | list):
                message += f" (was {given!r})"
        parts.append(f"{locate(loc, lines, source)}: {message}")
    return "; ".join(parts)


def _line_map(node: yaml.Node, origin: str, loc: Loc = ()) -> dict[Loc, str]:
    """Map each YAML path in `node` to ``file:line`` where its key (or item) starts."""
    lines: dict[Loc, str] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*loc, key.value)
            lines[here] = f"{origin}:{key.start_mark.line + 1}"
            lines.update(_line_map(value, origin, here))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            here = (*loc, i)
            lines[here] = f"{origin}:{item.start_mark.line + 1}"
            lines.update(_line_map(item, origin, here))
    return lines


def _read_yaml(path: Path) -> tuple[Any, dict[Loc, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read as a YAML file ({exc})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        column = f" (column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{where}: {problem}{column}") from None
    if raw is None:
        raise ConfigError(f"{path}: the file is empty")
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{path}: the file must hold a mapping of settings (name, data, strategy, ...), "
            f"not a {type(raw).__name__}"
        )
    return raw, _line_map(node, str(path)) if node is not None else {}


def _resolve(path: Path, chain: tuple[Path, ...] = ()) -> tuple[dict[str, Any], dict[Loc, str]]:
    """Read `path` and everything it extends; return the merged mapping and its origins."""
    raw, lines = _read_yaml(path)
    parents = raw.pop("extends", None)
    if parents is None:
        return dict(raw), lines
    where = lines.get(("extends",), str(path))
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise ConfigError(f"{where}: extends: give a file name or a list of them")
    merged: dict[str, Any] = {}
    origins: dict[Loc, str] = {}
    for parent in parents:
        base = (path.parent / parent).resolve()
        if base in chain or base == path.resolve():
            cycle = " -> ".join(p.name for p in (*chain, path.resolve(), base))
            raise ConfigError(f"{where}: extends: cycle {cycle}; a file cannot extend itself")
        if not base.is_file():
            raise ConfigError(
                f"{where}: extends: {parent!r} not found (looked for {base}); paths are "
                "relative to the file that extends"
            )
        base_raw, base_lines = _resolve(base, (*chain, path.resolve()))
        base_raw.pop("name", None)  # a scenario is named after its own file
        merged = _extend(merged, base_raw, origins)
        origins.update({k: v for k, v in base_lines.items() if k[:1] != ("name",)})
    return _extend(merged, dict(raw), origins, lines), origins


def _extend(
    base: dict[str, Any],
    override: dict[str, Any],
    origins: dict[Loc, str],
    lines: Mapping[Loc, str] | None = None,
) -> dict[str, Any]:
    """`merge`, except that naming another strategy drops the base's strategy params."""
    new, old = override.get("strategy"), base.get("strategy")
    if isinstance(new, Mapping) and isinstance(old, Mapping):
        if "name" in new and new.get("name") != old.get("name"):
            base = {**base, "strategy": {k: v for k, v in old.items() if k != "params"}}
            for loc in [k for k in origins if k[:2] == ("strategy", "params")]:
                del origins[loc]
    origins.update(lines or {})
    return merge(base, override)


def _apply_overrides(
    raw: dict[str, Any], lines: dict[Loc, str], overrides: Sequence[str], source: str
) -> dict[str, Any]:
    for item in overrides:
        key, sep, text = item.partition("=")
        loc = tuple(part for part in key.strip().split(".") if part)
        if not sep or not loc:
            raise ConfigError(
                f"--set {item!r}: write KEY=VALUE with a dotted path, e.g. "
                "--set portfolio.fees.rate=0.002"
            )
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML") from None
        patch: Any = value
        for part in reversed(loc):
            patch = {part: patch}
        raw = merge(raw, patch)
        for known in [k for k in lines if k[: len(loc)] == loc]:
            del lines[known]
        lines[loc] = f"{source} --set"
    return raw


def parse_config(
    raw: Mapping[str, Any], source: str = "<config>", lines: Mapping[Loc, str] | None = None
) -> RunConfig:
    """Validate a config mapping; `source` names it in error messages."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: the config must be a mapping of settings, not {type(raw)}")
    try:
        config = RunConfig.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors(), lines or {}, source)) from None
    config._lines = dict(lines or {})
    return config


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """Read and validate a YAML run config, with its ``extends`` chain and `overrides`.

    `overrides` are ``"a.b.c=value"`` strings (``--set`` on the command line); values
    are parsed as YAML. A missing ``name`` defaults to the file's stem.

    Raises
    ------
    ConfigError
        If a file is missing, is not valid YAML, extends a missing file or itself, or
        holds invalid settings; the message names the file, line and YAML path.
    """
    path = Path(path)
    raw, lines = _resolve(path)
    raw = _apply_overrides(raw, lines, overrides, str(path))
    raw.setdefault("name", path.stem)
    config = parse_config(raw, source=str(path), lines=lines)
    config._path = path
    return config


def validate_strategy_params(
    config: RunConfig, models: Mapping[str, type[BaseModel]]
) -> BaseModel | dict[str, Any]:
    """Validate ``strategy.params`` against the model of the named strategy.

    A ``module:function`` strategy is not checked here; its params pass through.

    Parameters
    ----------
    config
        The run config.
    models
        Strategy name -> its params model (from the strategy registry).

    Raises
    ------
    ConfigError
        For an unknown strategy (with a close-match suggestion and the known names)
        or invalid parameters (located under ``strategy.params``).
    """
    name = config.strategy.name
    if ":" in name:
        return dict(config.strategy.params)
    if name not in models:
        known = sorted(models)
        guess = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        raise ConfigError(
            f"{config.where(('strategy', 'name'))}: unknown strategy {name!r}{hint} Known: "
            f"{', '.join(known)}, or module:function for your own"
        )
    try:
        return models[name].model_validate(config.strategy.params)
    except ValidationError as exc:
        source = str(config.path) if config.path else "<config>"
        raise ConfigError(
            _describe(exc.errors(), config._lines, source, ("strategy", "params"))
        ) from None
