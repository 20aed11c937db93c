"""Settings that change over time: dated schedules and rate series.

A cost setting (a commission, a charge's rate or bounds, a tax, slippage, the fx cost,
a borrow rate or spread) is a number or a *dated schedule*, a mapping of effective date
-> value: ``sell_tax: {2021-08-01: 0.0013, 2023-11-17: 0.001}``. Each value is in force
from its date (on the first bar on or after it, by trade date) until the next date. The
first date must be on or before the first simulated bar: what applied before it is not
guessed, and a run that starts earlier stops with an error that says so. A schedule is
one value (`engine.config.base.merge`): a later layer's schedule replaces an earlier one
whole, so it says everything from its first date on.

A rate (``cash_rate``, ``cash_debit_rate``, ``borrow_rate``, ``report.risk_free``) may
also be a *series* (`RateSeriesConfig`): one column of a file, or a named extra series
of the market, times ``scale``, carried forward onto the bars. The rate of bar t applies
to the interval (t-1, t].

The annotated types below (`DatedRate`, `CashRate`, ...) accept these forms and check
them in one step, so a bad value gives one message naming the setting, not one per form
it might have been.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from engine.config.base import ConfigModel, is_dated

ByDate = dict[dt.date, float]
"""A dated schedule: effective date -> value, sorted by date."""
Dated = float | ByDate
"""A number, or a dated schedule of numbers."""


class RateSeriesConfig(ConfigModel):
    """An annual rate that changes every bar: a column of a file, or an extra series.

    ``{file: rates/IRX.csv, column: rate_pct, scale: 0.01}`` reads a dated column (in
    percent, hence the scale); ``{extra: irx, scale: 0.01}`` takes the market's extra
    series ``irx`` (``data.extras``). The last value on or before each bar is that
    bar's rate.
    """

    file: str | None = Field(
        default=None,
        description="a CSV or parquet file, relative to data.path if set, else to the "
        "config file that names it",
    )
    extra: str | None = Field(default=None, description="the name of a data.extras series")
    column: str = "close"
    date: str = "date"
    scale: float = Field(default=1.0, description="multiplies the values: 0.01 for percent")

    @model_validator(mode="after")
    def _one_source(self) -> RateSeriesConfig:
        if (self.file is None) == (self.extra is None):
            raise ValueError("give either 'file' or 'extra'")
        if self.extra is not None and self.model_fields_set & {"column", "date"}:
            raise ValueError("'column' and 'date' describe a file; an extra is one series")
        if not math.isfinite(self.scale) or self.scale == 0.0:
            raise ValueError(f"scale must be a finite non-zero number, was {self.scale}")
        return self

    def __str__(self) -> str:
        source = f"{self.file} ({self.column})" if self.file else f"extra {self.extra}"
        return source if self.scale == 1.0 else f"{source} x {self.scale:g}"


def _number(value: Any, low: float, high: float | None, none: bool) -> float | None:
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("Input should be a valid number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError("Input should be a valid number") from None
    if not math.isfinite(number):
        raise ValueError("Input should be a finite number")
    if number < low:
        raise ValueError(f"Input should be greater than or equal to {low:g}")
    if high is not None and number > high:
        raise ValueError(f"Input should be less than or equal to {high:g}")
    return number


def _date(key: Any) -> dt.date:
    if isinstance(key, dt.datetime):
        return key.date()
    if isinstance(key, dt.date):
        return key
    try:
        return dt.date.fromisoformat(str(key))
    except ValueError:
        raise ValueError(
            f"{key!r} is not a date; a dated schedule maps dates to values, "
            "{YYYY-MM-DD: value, ...}"
        ) from None


def _check(
    value: Any,
    *,
    low: float,
    high: float | None,
    none: bool,
    series: bool,
    cash: bool,
    optional: bool,
) -> Any:
    """Validate a number, a dated schedule, a series (`series`) or ``cash`` (`cash`);
    None where `optional`, and within a schedule where `none`."""
    if (cash and value == "cash") or (optional and value is None):
        return value
    if series and isinstance(value, RateSeriesConfig):
        return value
    if isinstance(value, Mapping) and series and not is_dated(value):
        try:
            return RateSeriesConfig.model_validate(dict(value))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            raise ValueError(f"rate series: {where + ': ' if where else ''}{message}") from None
    if isinstance(value, Mapping):
        if not value:
            raise ValueError("a dated schedule needs at least one date: {YYYY-MM-DD: value}")
        schedule: dict[dt.date, float | None] = {}
        for key, item in value.items():
            day = _date(key)
            if day in schedule:
                raise ValueError(f"{day} is given twice")
            try:
                schedule[day] = _number(item, low, high, none)
            except ValueError as exc:
                raise ValueError(f"on {day}: {exc} (was {item!r})") from None
        return dict(sorted(schedule.items()))
    forms = ["a number", "a dated schedule {YYYY-MM-DD: value, ...}"]
    if series:
        forms.append("a series {file: ..., column: ...} or {extra: ...}")
    if cash:
        forms.append("'cash'")
    try:
        return _number(value, low, high, none)
    except ValueError as exc:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise  # a number out of range: say which bound
        raise ValueError(f"{exc}; give {', '.join(forms[:-1])} or {forms[-1]}") from None


def _dated(
    low: float,
    high: float | None,
    *,
    none: bool = False,
    series: bool = False,
    cash: bool = False,
    optional: bool = False,
) -> BeforeValidator:
    check = functools.partial(
        _check, low=low, high=high, none=none, series=series, cash=cash, optional=optional
    )
    return BeforeValidator(check)


DatedRate = Annotated[float | ByDate, _dated(0.0, 0.2)]
"""A cost rate in [0, 0.2], or a dated schedule of them."""
DatedMoney = Annotated[float | ByDate, _dated(0.0, None)]
"""A non-negative amount of money, or a dated schedule of them."""
DatedCap = Annotated[
    float | dict[dt.date, float | None] | None, _dated(0.0, None, none=True, optional=True)
]
"""A maximum charge, None for none, or a dated schedule of them."""
DatedAnnual = Annotated[float | ByDate, _dated(0.0, 1.0)]
"""An annual rate in [0, 1] (a spread), or a dated schedule of them."""
BorrowRate = Annotated[float | ByDate | RateSeriesConfig, _dated(0.0, 1.0, series=True)]
"""An annual borrow fee in [0, 1], a dated schedule or a series."""
CashRate = Annotated[float | ByDate | RateSeriesConfig, _dated(-0.2, 1.0, series=True)]
"""An annual interest rate in [-0.2, 1], a dated schedule or a series."""
OptionalCashRate = Annotated[
    float | ByDate | RateSeriesConfig | None, _dated(-0.2, 1.0, series=True, optional=True)
]
"""A `CashRate`, or None for "the same as another rate"."""
RiskFree = Annotated[
    float | ByDate | RateSeriesConfig | Literal["cash"], _dated(-0.05, 0.5, series=True, cash=True)
]
"""An annual risk-free rate in [-0.05, 0.5], a dated schedule, a series, or ``cash``."""
RATE_BOUNDS = {
    "borrow_rate": (0.0, 1.0),
    "cash_rate": (-0.2, 1.0),
    "cash_debit_rate": (-0.2, 1.0),
    "risk_free": (-0.05, 0.5),
}
"""The range each rate's values must fall in, for series that are read at run time."""


def value_on(setting: float | Mapping[dt.date, Any], day: dt.date) -> Any:
    """Return the value of a number or dated schedule in force on `day`.

    Raises
    ------
    ValueError
        When `day` is before the schedule's first date.
    """
    if not isinstance(setting, Mapping):
        return setting
    found, missing = None, True
    for start, value in setting.items():
        if start > day:
            break
        found, missing = value, False
    if missing:
        raise ValueError(f"the schedule starts on {min(setting)}, after {day}")
    return found


def in_window(
    setting: float | Mapping[dt.date, Any], start: dt.date, end: dt.date
) -> float | dict[dt.date, Any]:
    """Return a schedule cut to ``[start, end]``: the value in force at `start` (dated
    `start`), then the changes up to `end`; a number, or a schedule that does not
    change in the window, becomes its one value. A schedule that starts after `start`
    keeps its dates from its first one."""
    if not isinstance(setting, Mapping):
        return setting
    first = max(start, min(setting))
    cut = {first: value_on(setting, first)}
    cut.update({day: v for day, v in setting.items() if first < day <= end})
    return next(iter(cut.values())) if len(cut) == 1 else cut


def describe(setting: Any, spec: str, start: dt.date, end: dt.date) -> str:
    """Format a number, a schedule (its changes within ``[start, end]``) or a series."""
    if isinstance(setting, RateSeriesConfig | str):
        return str(setting)
    cut = in_window(setting, start, end)
    if not isinstance(cut, Mapping):
        return "-" if cut is None else format(cut, spec)
    first, *changes = cut.items()
    parts = [format(first[1], spec) if first[1] is not None else "none"]
    parts += [f"{'none' if v is None else format(v, spec)} from {day}" for day, v in changes]
    return ", ".join(parts)
