"""The YAML run configuration: pydantic models and a loader with precise errors.

Every model forbids unknown keys, so a misspelt setting is an error, not a silent
default. Errors name the file and the YAML path (``portfolio.fees``) and show the value
that was given. Strategy parameters are validated in a second step against the chosen
strategy's own model (`validate_strategy_params`); this module never imports strategies.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from engine.errors import ConfigError

Rate = Annotated[float, Field(ge=0.0, le=0.2)]
Money = Annotated[float, Field(ge=0.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnsConfig(_Model):
    """Column names in per-symbol price files; null for a column the files lack."""

    date: str = "date"
    open: str | None = "open"
    high: str | None = "high"
    low: str | None = "low"
    close: str = "close"
    volume: str | None = "volume"


class SeriesFileConfig(_Model):
    """One dated column of one file: an fx rate or an extra series."""

    file: str
    column: str = "close"
    date: str = "date"
    quote: Literal["base_per_unit", "units_per_base"] = Field(
        default="base_per_unit",
        description="fx only: units_per_base for quotes like HKD=X (HKD per USD)",
    )


class AssetMetadataConfig(_Model):
    """Overrides of an asset's built-in metadata."""

    currency: str | None = None
    exchange: str | None = None
    lot_size: Annotated[float, Field(ge=0.0)] | None = None


class DataConfig(_Model):
    """Where prices come from and for which symbols and dates."""

    source: Literal["synthetic", "csv", "yahoo"] = "synthetic"
    symbols: Annotated[list[str], Field(min_length=1)]
    start: dt.date
    end: dt.date
    seed: int = 7
    flow_link: Annotated[float, Field(ge=0.0, le=2.0)] = Field(
        default=0.1, description="synthetic: strength of the flow -> next-week return link"
    )
    base_currency: Literal["USD", "HKD"] = "USD"
    path: str | None = Field(default=None, description="csv: folder, relative to the config")
    cache: str | None = Field(default=None, description="yahoo: cache folder (default: user cache)")
    files: dict[str, str] = Field(default_factory=dict)
    pattern: str = "{symbol}.csv"
    wide: str | None = None
    columns: ColumnsConfig = Field(default_factory=ColumnsConfig)
    fx: dict[str, SeriesFileConfig] = Field(default_factory=dict)
    extras: dict[str, SeriesFileConfig] = Field(default_factory=dict)
    metadata: dict[str, AssetMetadataConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _window(self) -> DataConfig:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if self.source == "csv" and self.path is None:
            raise ValueError("source csv needs data.path, the folder that holds the files")
        return self


class StrategyConfig(_Model):
    """Which strategy to run and its parameters (validated by the strategy's own model)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class PortfolioConfig(_Model):
    """Trading rules and costs of the simulated portfolio."""

    init_cash: Annotated[float, Field(gt=0.0)] = 1_000_000.0
    lag: Annotated[int, Field(ge=0, le=10, description="bars between decision and fill")] = 1
    execution: Literal["close", "open"] = "close"
    fees: Rate = 0.0
    fixed_fees: Money = 0.0
    min_fees: Money = 0.0
    buy_tax: Rate = 0.0
    sell_tax: Rate = 0.0
    slippage: Rate = 0.0
    fx_cost: Rate = 0.0
    borrow_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    cash_rate: Annotated[float, Field(ge=-0.2, le=1.0)] = 0.0
    max_leverage: Annotated[float, Field(gt=0.0, le=20.0)] | None = None
    lots: bool = True


class ReportConfig(_Model):
    """Where and what to write."""

    out: str | None = None


class RunConfig(_Model):
    """A complete backtest: data, strategy, portfolio rules and report settings."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")]
    description: str = ""
    data: DataConfig
    strategy: StrategyConfig
    portfolio: PortfolioConfig = Field(default_factory=PortfolioConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    _path: Path | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        """The file this config was loaded from, if any."""
        return self._path

    @property
    def out_dir(self) -> Path:
        """Output folder: ``report.out``, or ``out/<name>``."""
        return Path(self.report.out) if self.report.out else Path("out") / self.name


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _describe(errors: list[dict[str, Any]], prefix: tuple[Any, ...] = ()) -> str:
    parts = []
    for error in errors:
        loc = _location(prefix + tuple(error["loc"]))
        message = error["msg"]
        if error["type"] != "missing" and "input" in error:
            given = error["input"]
            message += f" (was {given!r})" if not isinstance(given, dict) else ""
        parts.append(f"{loc}: {message}")
    return "; ".join(parts)


def parse_config(raw: Mapping[str, Any], source: str = "<config>") -> RunConfig:
    """Validate a config mapping; `source` names it in error messages."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: the file must hold a mapping of settings, not {type(raw)}")
    try:
        return RunConfig.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc.errors())}") from None


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run config.

    A missing ``name`` defaults to the file's stem.

    Raises
    ------
    ConfigError
        If the file is missing, is not valid YAML, or holds invalid settings; the
        message names the file and the YAML path of each problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read as a YAML file ({exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: {problem}{where}") from None
    if raw is None:
        raise ConfigError(f"{path}: the file is empty")
    if isinstance(raw, Mapping) and "name" not in raw:
        raw = {"name": path.stem, **raw}
    config = parse_config(raw, source=str(path))
    config._path = path
    return config


def validate_strategy_params(config: RunConfig, models: Mapping[str, type[BaseModel]]) -> BaseModel:
    """Validate ``strategy.params`` against the model of the named strategy.

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
    source = str(config.path) if config.path else "<config>"
    name = config.strategy.name
    if name not in models:
        known = sorted(models)
        guess = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        raise ConfigError(
            f"{source}: strategy.name: unknown strategy {name!r}{hint} Known: {known}"
        )
    try:
        return models[name].model_validate(config.strategy.params)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc.errors(), ('strategy', 'params'))}") from None
