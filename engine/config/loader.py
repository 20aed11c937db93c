"""Reading a run config: YAML files, ``extends``, ``--set`` overrides and located errors.

A config file may ``extends: base.yaml`` (a path relative to it, or a list of them): the
base is read first and the file's keys override it, mappings merged key by key, anything
else (an empty mapping included) replaced; ``name`` and ``report.out`` are never
inherited, and a file that names another strategy does not inherit the base's strategy
parameters. A chain of bases is at most `MAX_EXTENDS` files deep, and a base that many
files extend is read once. ``--set a.b.c=value`` overrides apply last.

The loader records where each setting was written (an `Origin`). Errors name the file
and line of the offending key, the YAML path (``portfolio.fees.rate``), what was given
and what is allowed. A relative path (``data.path``, ``data.cache``, the folder of a
``module:function``) starts from the folder of the file that wrote it, and from the
working directory when given with ``--set`` (`RunConfig.resolve_path`). Strategy
parameters are checked in a second step against the chosen strategy's own model
(`engine.pipeline.strategy_params`, with `describe_errors`); the config never imports
strategies.
"""

from __future__ import annotations

import copy
import errno
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from engine.config.base import Loc, Origin, locate, merge
from engine.config.reader import read_yaml
from engine.config.schema import RunConfig
from engine.errors import ConfigError

MAX_EXTENDS = 32  # files in one chain of extends
SYMLINK_LOOP = "symbolic link loop (too many levels of links); point the link at a real file"


def describe_errors(errors: Sequence[Any], where: Callable[[Loc], str], prefix: Loc = ()) -> str:
    """One line per pydantic error: ``file:line: yaml.path: message (was value)``.

    `where` turns a YAML path into its ``file:line: path`` origin; `prefix` is prepended
    to each error's location (``("strategy", "params")`` for a strategy's model).
    """
    parts = []
    for error in errors:
        loc = prefix + tuple(part for part in error["loc"] if not str(part).startswith("function-"))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] != "missing" and "input" in error:
            given = error["input"]
            if not isinstance(given, dict | list):
                message += f" (was {given!r})"
        parts.append(f"{where(loc)}: {message}")
    return "; ".join(parts)


def _line_map(node: yaml.Node, origin: str, loc: Loc = ()) -> dict[Loc, Origin]:
    """Map each YAML path in `node` to the file and line where its key (or item) starts."""
    lines: dict[Loc, Origin] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*loc, key.value)
            lines[here] = Origin(origin, key.start_mark.line + 1)
            lines.update(_line_map(value, origin, here))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            here = (*loc, i)
            lines[here] = Origin(origin, item.start_mark.line + 1)
            lines.update(_line_map(item, origin, here))
    return lines


def _read_yaml(path: Path) -> tuple[Any, dict[Loc, Origin]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(f"{path}: {SYMLINK_LOOP}") from None
        raise ConfigError(f"{path}: cannot read as a YAML file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read as a YAML file ({exc})") from None
    try:
        raw, node = read_yaml(text)
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


def _drop_not_inherited(raw: dict[str, Any], lines: dict[Loc, Origin]) -> None:
    """Remove from a base what a file that extends it does not inherit, with its origins.

    A scenario is named after its own file and writes its own output folder (by default
    ``out/<name>``): ``name`` and ``report.out`` stay with the file that wrote them.
    """
    raw.pop("name", None)
    report = raw.get("report")
    if isinstance(report, Mapping) and "out" in report:
        rest = {k: v for k, v in report.items() if k != "out"}
        if rest:
            raw["report"] = rest
        else:  # an empty mapping would clear the report settings of an earlier base
            del raw["report"]
    for loc in [k for k in lines if k[:1] == ("name",) or k[:2] == ("report", "out")]:
        del lines[loc]


def _real(path: Path, where: str) -> Path:
    """`path` with every symbolic link followed; a loop is a `ConfigError` at `where`."""
    try:
        return path.resolve(strict=False)
    except (OSError, RuntimeError):  # RuntimeError before Python 3.13
        raise ConfigError(f"{where}: {path}: {SYMLINK_LOOP}") from None


Resolved = tuple[dict[str, Any], dict[Loc, Origin]]


def _resolve(
    path: Path, chain: tuple[Path, ...] = (), done: dict[Path, Resolved] | None = None
) -> Resolved:
    """Read `path` and everything it extends; return the merged mapping and its origins.

    `chain` holds the files that extend `path`, to find cycles; `done` the files already
    resolved in this load, so a base that many files extend is read once.
    """
    done = {} if done is None else done
    raw, lines = _read_yaml(path)
    parents = raw.pop("extends", None)
    if parents is None:
        return dict(raw), lines
    where = lines.get(("extends",), str(path))
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise ConfigError(f"{where}: extends: give a file name or a list of them")
    if len(chain) >= MAX_EXTENDS:
        raise ConfigError(
            f"{where}: extends: more than {MAX_EXTENDS} files deep; shorten the chain of bases"
        )
    here = _real(path, f"{where}: extends")
    merged: dict[str, Any] = {}
    origins: dict[Loc, Origin] = {}
    for parent in parents:
        base = _real(path.parent / parent, f"{where}: extends")
        if base in chain or base == here:
            cycle = " -> ".join(p.name for p in (*chain, here, base))
            raise ConfigError(f"{where}: extends: cycle {cycle}; a file cannot extend itself")
        if not base.is_file():
            raise ConfigError(
                f"{where}: extends: {parent!r} not found (looked for {base}); paths are "
                "relative to the file that extends"
            )
        if base not in done:
            done[base] = _resolve(base, (*chain, here), done)
        base_raw, base_lines = copy.deepcopy(done[base])
        _drop_not_inherited(base_raw, base_lines)
        merged = _extend(merged, base_raw, origins)
        origins.update(base_lines)
    return _extend(merged, dict(raw), origins, lines), origins


def _extend(
    base: dict[str, Any],
    override: dict[str, Any],
    origins: dict[Loc, Origin],
    lines: Mapping[Loc, Origin] | None = None,
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


def _parse_override(item: str) -> tuple[Loc, Any]:
    """``"a.b.c=value"`` -> (``("a", "b", "c")``, the value read as YAML)."""
    key, sep, text = item.partition("=")
    loc = tuple(part for part in key.strip().split(".") if part)
    if not sep or not loc:
        raise ConfigError(
            f"--set {item!r}: write KEY=VALUE with a dotted path, e.g. "
            "--set portfolio.fees.rate=0.002"
        )
    try:
        value, _ = read_yaml(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"--set {item!r}: the value is not valid here: {problem}") from None
    return loc, value


def _patch(raw: Mapping[str, Any], loc: Loc, value: Any) -> dict[str, Any]:
    patch: Any = value
    for part in reversed(loc):
        patch = {part: patch}
    return merge(raw, patch)


def _apply_overrides(
    raw: dict[str, Any], lines: dict[Loc, Origin], overrides: Sequence[str], source: str
) -> dict[str, Any]:
    for item in overrides:
        loc, value = _parse_override(item)
        raw = _patch(raw, loc, value)
        for known in [k for k in lines if k[: len(loc)] == loc]:
            del lines[known]
        lines[loc] = Origin(source)
    return raw


def update_config(config: RunConfig, updates: Mapping[str, Any]) -> RunConfig:
    """Return `config` with `updates` (dotted path -> value) applied and validated again.

    Values are Python objects, as after YAML parsing (``{"portfolio.fees.rate": 0.002}``);
    the rest of the config keeps its settings and where they were written.

    Raises
    ------
    ConfigError
        For an empty path or a value the config does not accept, naming the setting.
    """
    raw = config.model_dump(exclude_unset=True)
    for key, value in updates.items():
        loc = tuple(part for part in str(key).split(".") if part)
        if not loc:
            raise ConfigError(f"{key!r}: give a dotted path, e.g. 'portfolio.fees.rate'")
        raw = _patch(raw, loc, value)
    try:
        return config.derive(raw)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc.errors(), config.where)) from None


def override_config(config: RunConfig, overrides: Sequence[str]) -> RunConfig:
    """Return `config` with ``"a.b.c=value"`` overrides (as ``--set`` gives them) applied."""
    parsed = (_parse_override(item) for item in overrides)
    return update_config(config, {".".join(loc): value for loc, value in parsed})


def _validate(
    raw: Mapping[str, Any], source: str, lines: Mapping[Loc, Origin] | None, path: Path | None
) -> RunConfig:
    try:
        return RunConfig.from_mapping(raw, path=path, lines=lines)
    except ValidationError as exc:
        located = lines or {}
        raise ConfigError(
            describe_errors(exc.errors(), lambda loc: locate(loc, located, source))
        ) from None


def parse_config(
    raw: Mapping[str, Any], source: str = "<config>", lines: Mapping[Loc, Origin] | None = None
) -> RunConfig:
    """Validate a config mapping; `source` names it in error messages.

    Relative paths in it start from the working directory, except for settings whose
    `lines` origin names a file.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: the config must be a mapping of settings, not {type(raw)}")
    return _validate(raw, source, lines, None)


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """Read and validate a YAML run config, with its ``extends`` chain and `overrides`.

    `overrides` are ``"a.b.c=value"`` strings (``--set`` on the command line); values
    are parsed as YAML. A missing ``name`` defaults to the file's stem. Relative paths
    start from the folder of the file that wrote them, or for an override from the
    working directory (`RunConfig.resolve_path`).

    Raises
    ------
    ConfigError
        If a file is missing or a symbolic link loop, is not valid YAML (or uses what
        `engine.config.reader` refuses), extends a missing file or itself, or holds
        invalid settings; the message names the file, line and YAML path.
    """
    path = Path(path)
    raw, lines = _resolve(path)
    raw = _apply_overrides(raw, lines, overrides, str(path))
    raw.setdefault("name", path.stem)
    return _validate(raw, str(path), lines, path)
