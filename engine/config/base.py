"""What the config modules share: the base model, common types, merging and locations.

Every config model inherits `ConfigModel`: unknown keys are errors, not silent defaults,
a number must be finite (``.inf`` and ``.nan`` are refused where they are read, not
found later in the kernel or the metrics), and a validated config cannot be changed.
`merge` is the one rule by which settings override others, for ``extends``, ``--set``
and the cost layers alike. `Origin` records where a setting was written, and `locate`
writes the ``file:line: yaml.path`` that every config message starts with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Rate = Annotated[float, Field(ge=0.0, le=0.2)]
Money = Annotated[float, Field(ge=0.0)]
Schedule = Literal["daily", "weekly", "monthly", "quarterly", "on_change"]
Loc = tuple[str | int, ...]


class ConfigModel(BaseModel):
    """A config section: unknown keys are errors, numbers finite, and the values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return `base` updated by `override`: mappings merge key by key, the rest replaces.

    An empty mapping replaces too: ``costs: {}`` in a scenario clears the base's costs,
    which merging key by key could never do.

    Parameters
    ----------
    base
        The settings to start from; not modified.
    override
        The settings that win.

    Returns
    -------
    dict
        A new mapping; nested mappings that were merged are new too.
    """
    merged = dict(base)
    for key, value in override.items():
        if value and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True)
class Origin:
    """Where a setting was written: a line of a YAML file, or ``--set`` (`line` None).

    `folder` is what relative paths in the setting start from.
    """

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file} --set" if self.line is None else f"{self.file}:{self.line}"

    @property
    def folder(self) -> Path:
        """The folder of the file, or the working directory for a ``--set`` value."""
        return Path.cwd() if self.line is None else Path(self.file).parent


def locate(loc: Loc, lines: Mapping[Loc, Origin], source: str) -> str:
    """Return ``file:line: a.b.c``: the most specific known origin of the setting `loc`.

    Parameters
    ----------
    loc
        The YAML path of the setting, e.g. ``("portfolio", "fees", "rate")``.
    lines
        YAML path -> where that key was written (``file:line`` or ``file --set``).
    source
        What to name instead when neither `loc` nor any key above it is in `lines`.

    Returns
    -------
    str
        The origin and the dotted path; ``(top level)`` for an empty `loc`.
    """
    path = ".".join(str(part) for part in loc) or "(top level)"
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return f"{lines[loc[:end]]}: {path}"
    return f"{source}: {path}"
