"""The run config's schema: a pydantic model per section, and `RunConfig` over them.

Every model forbids unknown keys (`ConfigModel`), so a misspelt setting is an error, not
a silent default. Constraints live in the types (ranges, `Literal` choices, dates) and
rules across fields in validators. The models know nothing of files: the loader records
where each setting was written, `RunConfig.where` reports it and
`RunConfig.resolve_path` takes a relative path from the folder of the file that wrote
it. The cost models are in `engine.config.costs`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from engine.config.base import ConfigModel, Loc, Origin, Schedule, locate
from engine.config.confidence import BootstrapConfig, Bound
from engine.config.costs import (
    AssetCosts,
    CostConfig,
    CostSettings,
    cost_origin,
    resolve_costs,
)
from engine.config.dated import CashRate, DatedRate, OptionalCashRate, RiskFree
from engine.config.risk import DrawdownConfig, LimitsConfig, StopsConfig, check_risk_names
from engine.config.series import (
    AkshareSeriesConfig,
    AssetMetadataConfig,
    ColumnsConfig,
    SeriesFileConfig,
)
from engine.metric_names import KERNEL_METRICS as SWEEP_METRICS
from engine.periods import calendar_span

# The largest starting cash; `engine.simulation.MAX_INIT_CASH` is the same number for
# the Python API (a test holds the two equal; the config does not import the kernel).
MAX_INIT_CASH = 1e15


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
    adjust: Literal["total_return", "price"] = Field(
        default="total_return",
        description="total_return: closes with dividends folded in (no cash dividends); "
        "price: split-adjusted, dividend-unadjusted closes plus cash dividends on ex-dates, "
        "credited to longs less portfolio withholding and charged to shorts",
    )
    path: str | None = Field(
        default=None,
        description=(
            "csv: folder of the files (yahoo: of extras), relative to the config file "
            "that sets it; files, wide, fx and extras files are relative to it"
        ),
    )
    cache: str | None = Field(
        default=None,
        description="yahoo: cache folder, relative to the config file that sets it "
        "(default: user cache)",
    )
    allow_partial: bool = Field(
        default=False,
        description="yahoo: when the cache covers less than the run needs and cannot be "
        "topped up (offline, or the download failed), end the run where every symbol is "
        "covered (with a warning) instead of stopping with an error",
    )
    files: dict[str, str] = Field(default_factory=dict)
    pattern: str = "{symbol}.csv"
    wide: str | None = None
    columns: ColumnsConfig = Field(default_factory=ColumnsConfig)
    fx: dict[str, SeriesFileConfig] = Field(default_factory=dict)
    extras: dict[str, SeriesFileConfig | AkshareSeriesConfig] = Field(default_factory=dict)
    metadata: dict[str, AssetMetadataConfig] = Field(default_factory=dict)
    warmup: Annotated[int, Field(ge=0, le=5000)] | str | None = Field(
        default=None,
        description="history loaded before start for the signals: bars of each asset's "
        "own sessions (250) or a span (18M, 2Y, 400D); default: what the strategy needs",
    )
    on_series_end: Literal["close", "hold", "error"] = Field(
        default="close",
        description="a series that ends before `end` while its exchange trades: close the "
        "position at its last price (warning), hold it at that price, or stop with an error",
    )

    @field_validator("warmup")
    @classmethod
    def _warmup(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, str) and calendar_span(value) is None:
            raise ValueError(
                f"{value!r} is neither a number of bars nor a span such as 400D, 52W, 18M, 2Y"
            )
        return value

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


class PortfolioConfig(CostConfig):
    """Trading rules and costs of the simulated portfolio.

    The cost settings it inherits from `CostConfig` (``preset``, ``fees``, ``charges``,
    taxes, ``slippage``, ``borrow_rate``, ``rebate_spread``) apply to every asset;
    ``costs`` overrides them per market, keyed by currency (``HKD``), exchange
    (``XHKG``) or symbol (``0700.HK``), the more specific key winning. ``rebalance``
    overrides the strategy's own schedule. Cash earns ``cash_rate`` while positive and
    pays ``cash_debit_rate`` (default: ``cash_rate``) while negative; each may be a
    number, a dated schedule or a rate series (`engine.config.dated`). Targets whose
    gross exposure (sum of |weights| at a bar) exceeds ``max_leverage``, or
    ``max_gross`` without a leverage cap, are an error; within it, ``max_leverage``
    still scales orders so that costs and drift keep the book under the cap.
    ``participation``, ``limits``, ``drawdown`` and ``stops`` are the kernel's risk
    rules (`engine.config.risk`; README "Risk limits, stops, participation and impact").
    """

    init_cash: Annotated[
        float, Field(gt=0.0, description="starting cash in the base currency, at most 1e15")
    ] = 1_000_000.0
    lag: Annotated[int, Field(ge=0, le=10, description="bars between decision and fill")] = 1
    execution: Literal["close", "open"] = "close"
    rebalance: Schedule | None = None
    costs: dict[str, CostConfig] = Field(default_factory=dict)
    fx_cost: DatedRate = 0.0
    cash_rate: CashRate = 0.0
    cash_debit_rate: OptionalCashRate = None
    max_leverage: Annotated[float, Field(gt=0.0, le=20.0)] | None = None
    max_gross: Annotated[
        float,
        Field(
            gt=0.0,
            le=1000.0,
            description="without max_leverage: the largest gross exposure (sum of |weights|) "
            "the strategy may ask for at any bar; more is an error, not scaled silently",
        ),
    ] = 10.0
    lots: bool = True
    impact_window: Annotated[int, Field(ge=2, le=1000)] = Field(
        default=20, description="bars before each bar (not itself) for impact's sigma and ADV"
    )
    participation: Annotated[float, Field(gt=0.0, le=1.0)] | None = Field(
        default=None, description="largest fraction of a bar's volume one asset may trade"
    )
    limits: LimitsConfig | None = None
    drawdown: DrawdownConfig | None = None
    stops: StopsConfig | None = None

    @field_validator("init_cash")
    @classmethod
    def _init_cash(cls, value: float) -> float:
        if value > MAX_INIT_CASH:
            raise ValueError(
                "must be at most 1e+15 (a quadrillion): more is not money, and past 9e15 a "
                "float no longer holds each unit of it"
            )
        return value

    def asset_costs(self, symbol: str, exchange: str, currency: str) -> AssetCosts:
        """Resolve the costs of one asset: presets and settings, general to specific."""
        return resolve_costs([layer for _, layer in self._layers(symbol, exchange, currency)])

    def cost_origin(self, symbol: str, exchange: str, currency: str, path: Loc) -> Loc:
        """The YAML path that gave one asset its cost setting `path`, e.g.
        ``("portfolio", "costs", "XHKG", "preset")`` for ``("sell_tax",)`` under ``hk``."""
        return cost_origin(self._layers(symbol, exchange, currency), [str(p) for p in path])

    def _layers(self, symbol: str, exchange: str, currency: str) -> list[tuple[Loc, CostSettings]]:
        keys = [k for k in (currency, exchange, symbol) if k in self.costs]
        return [(("portfolio",), self), *((("portfolio", "costs", k), self.costs[k]) for k in keys)]


class BenchmarkConfig(ConfigModel):
    """What to measure the strategy against: a symbol or a basket (daily rebalanced),
    from the prices' source or from ``source`` (``{symbol: HSTECH, source: akshare}``)."""

    symbols: Annotated[list[str], Field(min_length=1)]
    weights: dict[str, float] | None = Field(
        default=None, description="symbol -> weight; default equal weights"
    )
    source: Literal["yahoo", "akshare"] | None = Field(
        default=None,
        description="load the benchmark from this source instead of data.source (ignored "
        "on synthetic data, which makes up every series)",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"symbols": [value]}
        if isinstance(value, list):
            return {"symbols": value}
        if isinstance(value, dict) and "symbol" in value:  # one symbol replaces a basket
            rest = {k: v for k, v in value.items() if k not in ("symbol", "symbols", "weights")}
            return {**rest, "symbols": [value["symbol"]]}
        if isinstance(value, dict) and value.get("weights") == {}:  # emptied by extends
            return {k: v for k, v in value.items() if k != "weights"}
        return value

    @model_validator(mode="after")
    def _weights(self) -> BenchmarkConfig:
        if self.weights is not None and set(self.weights) != set(self.symbols):
            raise ValueError("weights must name exactly the benchmark's symbols")
        return self


class ReportConfig(ConfigModel):
    """Where and what to write, and the risk-free rate the ratios are measured against."""

    out: str | None = None
    risk_free: RiskFree = 0.0
    """Annual risk-free rate for Sharpe, Sortino and alpha (e.g. 0.04 for 4%): a number,
    a dated schedule, a rate series, or ``cash`` for the portfolio's ``cash_rate``."""
    bootstrap: BootstrapConfig = Field(default_factory=BootstrapConfig)


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
        if not math.isfinite(self.stop - self.start):
            raise ValueError("stop - start is not a finite number; give bounds closer together")
        return self

    def count(self) -> int:
        """How many values the range holds, without making them."""
        if self.num is not None:
            return self.num
        assert self.step is not None
        steps = (self.stop - self.start) / self.step + 1e-9
        return math.floor(steps) + 1 if math.isfinite(steps) else sys.maxsize

    def values(self) -> list[Any]:
        """The grid's values; integers when start, stop and step are integers."""
        if self.num is not None:
            return [float(v) for v in np.linspace(self.start, self.stop, self.num)]
        assert self.step is not None
        grid = self.start + self.step * np.arange(self.count())
        whole = all(float(v).is_integer() for v in (self.start, self.stop, self.step))
        return [round(v) for v in grid] if whole else [float(v) for v in grid]


class LogRange(ConfigModel):
    """``{log: [low, high], num: n}``: n values evenly spaced on a log scale."""

    log: tuple[Annotated[float, Field(gt=0.0)], Annotated[float, Field(gt=0.0)]]
    num: Annotated[int, Field(ge=2, le=100_000)]

    def count(self) -> int:
        """How many values the range holds."""
        return self.num

    def values(self) -> list[Any]:
        """The grid's values."""
        return [float(v) for v in np.geomspace(self.log[0], self.log[1], self.num)]


class WalkForwardConfig(ConfigModel):
    """Train/test windows in bars: rolling (fixed train length) or expanding."""

    train: Annotated[int, Field(ge=20)]
    test: Annotated[int, Field(ge=1)]
    mode: Literal["rolling", "expanding"] = "rolling"


def _count(spec: list[Any] | LinearRange | LogRange) -> int:
    return len(spec) if isinstance(spec, list) else spec.count()


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
    max_combinations: Annotated[int, Field(ge=1)] = Field(
        default=100_000,
        description="refuse a grid with more combinations than this (memory and time "
        "grow with the count); raise it deliberately for a bigger sweep",
    )

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

    @model_validator(mode="after")
    def _size(self) -> SweepConfig:
        if self.count() > self.max_combinations:
            sizes = " x ".join(f"{_count(spec):,}" for spec in self.params.values())
            raise ValueError(
                f"{self.count():,} combinations ({sizes}) is more than "
                f"sweep.max_combinations ({self.max_combinations:,}); shrink the grids, or "
                "raise sweep.max_combinations if the machine has the memory and time"
            )
        return self

    def count(self) -> int:
        """The number of combinations, counted without making them."""
        return math.prod(_count(spec) for spec in self.params.values())

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


class SweepCheckConfig(ConfigModel):
    """What of a sweep ``eastwind check`` holds: its best rows, and its walk-forward folds."""

    top: Annotated[int, Field(ge=1, le=100, description="best rows held, in rank order")] = 5
    walk_forward: bool = Field(
        default=False, description="hold each fold's chosen parameters and train/test metric"
    )


class CheckConfig(ConfigModel):
    """``eastwind check`` settings: which metrics to hold, how tightly, and what else.

    ``metrics`` lists the metrics held (default: all); ``tolerance`` is the default for
    metrics without their own entry in ``tolerances``; ``bounds`` keeps a metric within
    limits (``sharpe_p05: {min: 0}``) on every run; ``hash`` compares the equity
    curve's bytes; ``sweep`` holds a sweep config's best rows and walk-forward too.
    """

    metrics: Annotated[list[str], Field(min_length=1)] | None = None
    tolerance: Tolerance | None = None
    tolerances: dict[str, Tolerance] = Field(default_factory=dict)
    bounds: dict[str, Bound] = Field(default_factory=dict)  # held whatever the baseline
    hash: bool = True
    sweep: SweepCheckConfig | None = None


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
    _lines: dict[Loc, Origin] = PrivateAttr(default_factory=dict)

    @field_validator("check")
    @classmethod
    def _check_sweep(cls, check: CheckConfig | None, info: ValidationInfo) -> CheckConfig | None:
        held = check.sweep if check is not None else None
        sweep = info.data.get("sweep")
        if held is not None and sweep is None:
            raise ValueError("holding a sweep (check.sweep) needs a 'sweep:' section")
        if held is not None and held.walk_forward and sweep.walk_forward is None:
            raise ValueError("check.sweep.walk_forward needs sweep.walk_forward")
        return check

    @model_validator(mode="after")
    def _risk_names(self) -> RunConfig:
        p = self.portfolio
        check_risk_names(p.limits, p.stops, self.data.symbol_list, self.data.groups)
        return self

    @classmethod
    def from_mapping(
        cls,
        raw: Mapping[str, Any],
        *,
        path: Path | None = None,
        lines: Mapping[Loc, Origin] | None = None,
    ) -> RunConfig:
        """Validate a mapping of settings and record where they were written.

        Parameters
        ----------
        raw
            The settings, e.g. as read from YAML.
        path
            The file they were loaded from, if any; see `path`.
        lines
            YAML path -> where each setting was written; `where` and `resolve_path`
            use it.

        Returns
        -------
        RunConfig
            The validated config.

        Raises
        ------
        pydantic.ValidationError
            For invalid settings; `engine.config.parse_config` locates each error.
        """
        config = cls.model_validate(dict(raw))
        config._lines = dict(lines or {})
        config._path = path
        return config

    @property
    def path(self) -> Path | None:
        """The file this config was loaded from, if any."""
        return self._path

    def derive(self, raw: Mapping[str, Any]) -> RunConfig:
        """Validate `raw`, a variant of this config's settings, as if read from the same
        files: `where` and `resolve_path` still name and find what those files wrote.

        Raises
        ------
        pydantic.ValidationError
            For invalid settings.
        """
        return RunConfig.from_mapping(raw, path=self._path, lines=self._lines)

    def with_updates(self, updates: Mapping[str, Any]) -> RunConfig:
        """Return a copy with ``{"dotted.path": value}`` settings changed, validated again.

        Use it instead of ``model_copy(update=...)``, which skips validation.

        Raises
        ------
        ConfigError
            For a value the config does not accept, naming the setting.
        """
        from engine.config.loader import update_config  # the loader imports this module

        return update_config(self, updates)

    @property
    def out_dir(self) -> Path:
        """Output folder: ``report.out``, or ``out/<name>``; relative to the working directory.

        ``report.out`` is not inherited through ``extends``: a scenario writes to its own
        folder unless it names one.
        """
        return Path(self.report.out) if self.report.out else Path("out") / self.name

    def where(self, loc: Iterable[str | int]) -> str:
        """Return ``file:line: yaml.path`` for a setting, as precisely as known."""
        return locate(tuple(loc), self._lines, str(self._path) if self._path else "<config>")

    def source_dir(self, loc: Iterable[str | int]) -> Path:
        """The folder a relative path in the setting `loc` starts from.

        That is the folder of the file that wrote the setting (or the closest mapping
        above it), through any chain of ``extends``; the working directory for a
        ``--set`` value. A setting no file wrote starts from the config file's folder,
        or the working directory for a config not read from a file.
        """
        loc = tuple(loc)
        for end in range(len(loc), 0, -1):
            if loc[:end] in self._lines:
                return self._lines[loc[:end]].folder
        return self._path.parent if self._path else Path.cwd()

    def resolve_path(self, loc: Iterable[str | int], value: str | Path) -> Path:
        """Return the path `value`, written at `loc`, as `source_dir` of `loc` sees it.

        An absolute `value` is returned as it is. For example, ``data.path: prices``
        written in ``a/base.yaml`` and inherited by ``b/run.yaml`` is ``a/prices``.
        """
        return self.source_dir(loc) / value

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
