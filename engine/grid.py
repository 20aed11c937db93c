"""Sweep grids: every combination expanded and checked before anything runs.

`expand_grid` turns ``sweep.params`` into rows, one per combination, each with its
strategy parameters and its portfolio settings. Both are validated for every row first,
so a sweep never spends its time on a grid that cannot finish:

- a value that the strategy's model or the config schema rejects whatever the other
  values are (``fast: [5, ten]``, ``fees.rate: [0.001, -1]``) is a `ConfigError` that
  names the grid item, the value and the rule;
- a combination that the strategy rejects as a whole (``fast`` not below ``slow``)
  is a row with the reason, and the other rows run.

The table of swept values holds the validated values (``"1e-4"`` is 0.0001), one type
per column, so that every output format can write it; a column that mixes types, or
holds lists or mappings, holds them as text (``[AAPL, MSFT]``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, ValidationError

from engine.config import RunConfig, describe_errors, merge
from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.resolve import ResolvedStrategy

__all__ = ["Grid", "expand_grid", "short_name"]


@dataclass(frozen=True)
class Grid:
    """The rows of a sweep in grid order, checked.

    ``table`` has a column of swept values per key (named by `short_name`). Row ``r``
    runs the strategy with ``params[r]`` on the portfolio of
    ``variants[variant_of[r]]``, whose swept values are ``overrides[variant_of[r]]``;
    ``rejected[r]`` says why the strategy rejects the combination, or is None.
    """

    keys: list[str]
    table: pd.DataFrame
    params: list[dict[str, Any]]
    rejected: list[str | None]
    variants: list[RunConfig]
    overrides: list[dict[str, Any]]
    variant_of: list[int]


def short_name(key: str) -> str:
    """``strategy.params.fast`` -> ``fast``; ``portfolio.fees.rate`` -> ``fees.rate``."""
    for prefix in ("strategy.params.", "portfolio."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def expand_grid(config: RunConfig, strategy: ResolvedStrategy) -> Grid:
    """Every combination of ``config.sweep.params``, validated; nothing is simulated.

    Raises
    ------
    ConfigError
        For a swept value, or a setting outside the grid, that no combination can
        use; the message names the grid item (``sweep.params.KEY.INDEX``) or setting.
    """
    assert config.sweep is not None
    grids = config.sweep.grids()
    keys = list(grids)
    portfolio_keys = [k for k in keys if k.startswith("portfolio.")]
    strategy_keys = [k for k in keys if k.startswith("strategy.params.")]
    base = dict(config.strategy.params)
    columns: dict[str, list[Any]] = {key: [] for key in keys}
    params: list[dict[str, Any]] = []
    rejected: list[str | None] = []
    variants: list[RunConfig] = []
    overrides: list[dict[str, Any]] = []
    variant_of: list[int] = []
    variant_by_values: dict[tuple[str, ...], int] = {}
    for combo in itertools.product(*grids.values()):
        values = dict(zip(keys, combo, strict=True))
        portfolio = {k: values[k] for k in portfolio_keys}
        found = variant_by_values.setdefault(tuple(map(repr, portfolio.values())), len(variants))
        if found == len(variants):
            variants.append(_variant(config, portfolio))
            overrides.append(portfolio)
        variant_of.append(found)
        for key in portfolio_keys:
            columns[key].append(_validated_at(variants[found], key, values[key]))
        row = {**base, **{k.split(".", 2)[2]: values[k] for k in strategy_keys}}
        checked, reason = _check_params(config, strategy, row, values)
        params.append(row)
        rejected.append(reason)
        for key in strategy_keys:
            name = key.split(".", 2)[2]
            validated = isinstance(checked, BaseModel) and name in type(checked).model_fields
            columns[key].append(getattr(checked, name) if validated else values[key])
    table = pd.DataFrame({short_name(k): _column(v) for k, v in columns.items()})
    return Grid(keys, table, params, rejected, variants, overrides, variant_of)


def _nested(key: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def _bad_value(config: RunConfig, key: str, value: Any, error: Any) -> ConfigError:
    """A grid value that fails a rule of its own, located at its item when listed."""
    assert config.sweep is not None
    loc: tuple[str | int, ...] = ("sweep", "params", key)
    spec = config.sweep.params[key]
    if isinstance(spec, list):
        loc += next(((i,) for i, listed in enumerate(spec) if listed is value), ())
    message = error["msg"].removeprefix("Value error, ")
    return ConfigError(f"{config.where(loc)}: {_shown(value)} is not a valid {key}: {message}")


def _shown(value: Any) -> str:
    """`value` for a message: 1e+299, not its 300 digits; long text cut short."""
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= 1e15:
        return f"{value:.6g}"
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _variant(config: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """The config with one combination of portfolio values, validated."""
    document = config.model_dump(exclude_unset=True)
    for key, value in overrides.items():
        document = merge(document, _nested(key, value))
    document.pop("sweep", None)
    document.pop("check", None)  # check.sweep needs the sweep section just removed
    try:
        return config.derive(document)  # relative rate files resolve as in `config`
    except ValidationError as exc:
        first = exc.errors()[0]
    loc = tuple(str(part) for part in first["loc"])
    for key, value in overrides.items():
        parts = tuple(key.split("."))
        if loc[: len(parts)] == parts:  # the error is in this grid's value, whatever the rest
            raise _bad_value(config, key, value, first)
    with_values = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
    raise ConfigError(
        f"{config.where(('sweep', 'params'))}: {'.'.join(loc)}: "
        f"{first['msg'].removeprefix('Value error, ')} (with {with_values})"
    )


def _validated_at(variant: RunConfig, key: str, given: Any) -> Any:
    """The validated value at `key` (``"1e-4"`` -> 0.0001), or `given` if not a scalar."""
    node: Any = variant
    for part in key.split("."):
        node = node.get(part) if isinstance(node, Mapping) else getattr(node, part, None)
    return given if node is None or isinstance(node, BaseModel) else node


def _check_params(
    config: RunConfig,
    strategy: ResolvedStrategy,
    params: dict[str, Any],
    values: dict[str, Any],
) -> tuple[Any, str | None]:
    """Validated params and None, or None and why the strategy rejects the combination."""
    try:
        return strategy.validate(params), None
    except ValidationError as exc:
        errors = exc.errors()
    for error in errors:
        if not error["loc"]:
            continue
        # a field's own rule: it rejects this value in every combination
        key = f"strategy.params.{error['loc'][0]}"
        if key in values:
            raise _bad_value(config, key, values[key], error)
        raise ConfigError(describe_errors([error], config.where, ("strategy", "params")))
    reason = errors[0]["msg"].removeprefix("Value error, ")
    return None, f"strategy.params: {reason}"


def _kind(value: Any) -> str:
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return "number" if kind in (int, float) else kind.__name__
    return "other"


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(_text, value)) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _column(values: list[Any]) -> Any:
    """One type per column: numbers, booleans or strings as they are, the rest as text."""
    kinds = {_kind(v) for v in values if v is not None}
    if len(kinds) <= 1 and "other" not in kinds:
        return pd.array(values)
    return pd.array([None if v is None else _text(v) for v in values], dtype="string")
