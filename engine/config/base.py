"""What the config modules share: the base model, common types, merging and locations.

Every config model inherits `ConfigModel`: unknown keys are errors, not silent defaults,
a number must be finite (``.inf`` and ``.nan`` are refused where they are read, not
found later in the kernel or the metrics), and a validated config cannot be changed.
`merge` is the one rule by which settings override others, for ``extends``, ``--set``
and the cost layers alike; a dated schedule (`is_dated`) is one value to it, never
merged date by date. `Origin` records where a setting was written, and `locate` writes
the ``file:line: yaml.path`` that every config message starts with.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Rate = Annotated[float, Field(ge=0.0, le=0.2)]
Money = Annotated[float, Field(ge=0.0)]
Schedule = Literal["daily", "weekly", "monthly", "quarterly", "on_change"]
Loc = tuple[str | int, ...]
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ConfigModel(BaseModel):
    """A config section: unknown keys are errors, numbers finite, and the values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def is_dated(value: object) -> bool:
    """Return True for a dated schedule: a non-empty mapping whose keys are all dates.

    Keys are `datetime.date` objects (YAML reads an unquoted ``2021-08-01`` as one) or
    ``YYYY-MM-DD`` strings (a schedule written out as JSON).
    """
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(
            isinstance(key, dt.date) or (isinstance(key, str) and ISO_DATE.fullmatch(key))
            for key in value
        )
    )


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return `base` updated by `override`: mappings merge key by key, the rest replaces.

    An empty mapping replaces too: ``costs: {}`` in a scenario clears the base's costs,
    which merging key by key could never do. A dated schedule replaces as a whole: a
    later ``sell_tax: {2024-01-01: 0.002}`` says what the tax is from its first date on,
    so it must not inherit the earlier schedule's dates.

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
        earlier = merged.get(key)
        if (
            value
            and isinstance(value, Mapping)
            and isinstance(earlier, Mapping)
            and not is_dated(value)
            and not is_dated(earlier)
        ):
            merged[key] = merge(earlier, value)
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
