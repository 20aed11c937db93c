"""Frames in, the kernel's arrays out: validation and conversion, done once per market.

`prepare_market` turns prices, currencies and costs into a `KernelMarket`, the arrays
both kernel drivers take (``engine/kernel/sim_nb.py`` documents them). Each failure
raises `SimulationError` naming the argument, and the symbol and date where there is
one.

Cost settings (``fees``, ``min_fees``, ..., each field of a `Charge`) are each one of:
a scalar; one value per asset (a sequence in column order, a mapping or a Series keyed
by symbol); a ``(K, N)`` array, one row per portfolio; or a *dated schedule*, a
DataFrame indexed by effective date with one column per symbol, each row in force from
its date until the next row's. The kernel receives one cost table row per (portfolio
row, segment), where a segment is a run of bars over which no schedule changes, and a
bar -> row index: a rate that changes on a date costs nothing where it does not change.
Money amounts (``min_fees``, ``fixed_fees``, charge bounds) are in each asset's own
currency; the kernel converts them at each bar's fx.

Dividends (``dividends``) are cash per share on each ex-date, in the asset's currency,
for prices that are not total-return adjusted; ``withholding`` is the rate withheld from
those received on long positions, per asset. Without any dividend the kernel gets one
row of zeros and its dividend step costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.errors import SimulationError
from engine.kernel import sim_nb as nb
from engine.kernel.inputs_nb import bad_prices_nb
from engine.trading_rules import DrawdownRule, Execution, GroupLimit, RuleArrays, rule_arrays
from engine.trading_rules import trailing_liquidity as trailing_liquidity

PerAsset = float | Sequence[float] | Mapping[str, float] | pd.Series | npt.NDArray[np.float64]
Dated = PerAsset | pd.DataFrame
Rate = float | pd.Series


@dataclass(frozen=True)
class Charge:
    """An extra per-fill charge: ``clip(rate * value, minimum, maximum)``.

    ``minimum`` and ``maximum`` are in the asset's currency. Each field takes what
    `prepare_market`'s cost settings take (scalar, per asset, per portfolio, dated).
    """

    rate: Dated = 0.0
    minimum: Dated = 0.0
    maximum: Dated = float("inf")


# simulate's cost arguments -> fields of the kernel's cost table
COST_ARGUMENTS = {
    "fees": "fee_rate",
    "min_fees": "fee_min",
    "fixed_fees": "fee_fixed",
    "buy_tax": "buy_tax",
    "sell_tax": "sell_tax",
    "slippage": "slippage",
    "fx_cost": "fx_cost",
    "half_spread": "half_spread",
}


@dataclass(frozen=True, eq=False)
class KernelMarket:
    """The kernel's market, cost and rate arrays, validated and converted once.

    A sweep prepares one per set of cost settings and reuses it for every chunk of
    portfolios (and ships it once to each Dask worker). ``segment`` has one row, or
    one per portfolio when costs were given per portfolio.
    """

    index: pd.Index
    columns: pd.Index
    close: npt.NDArray[np.float64]
    exec_price: npt.NDArray[np.float64]
    fx: npt.NDArray[np.float64]
    asset_ccy: npt.NDArray[np.int64]
    lot_size: npt.NDArray[np.float64]
    costs: np.ndarray  # (S, N) COST_DTYPE
    charges: npt.NDArray[np.float64]  # (S, N, M, 3)
    segment: npt.NDArray[np.int64]  # (P, T)
    borrow: npt.NDArray[np.float64]  # (B, N)
    rates: npt.NDArray[np.float64]  # (T, N_RATES)
    dividends: npt.NDArray[np.float64]  # (D, N): D = 1 (no dividends) or T
    withholding: npt.NDArray[np.float64]  # (N,)
    rules: RuleArrays  # participation, impact, limits, drawdown rule, stops

    def args(self) -> tuple[Any, ...]:
        """The tuple ``market`` every kernel driver takes first (sim_nb's docstring)."""
        return (
            self.close,
            self.exec_price,
            self.fx,
            self.asset_ccy,
            self.lot_size,
            self.costs,
            self.charges,
            self.segment,
            self.borrow,
            self.rates,
            self.dividends,
            self.withholding,
            *self.rules.args(),
        )

    @property
    def portfolio_rows(self) -> int:
        """1 when every portfolio shares the costs, else the number of portfolios."""
        return int(self.segment.shape[0])

    def window(self, start: int, stop: int) -> KernelMarket:
        """The same market restricted to bars ``[start, stop)``; nothing accrues before it."""
        rates = self.rates[start:stop].copy()
        rates[0, nb.RATE_YEAR_FRAC] = 0.0
        borrow = self.borrow[start:stop] if self.borrow.shape[0] > 1 else self.borrow
        paid = self.dividends[start:stop] if self.dividends.shape[0] > 1 else self.dividends
        return KernelMarket(
            index=self.index[start:stop],
            columns=self.columns,
            close=np.ascontiguousarray(self.close[start:stop]),
            exec_price=np.ascontiguousarray(self.exec_price[start:stop]),
            fx=np.ascontiguousarray(self.fx[start:stop]),
            asset_ccy=self.asset_ccy,
            lot_size=self.lot_size,
            costs=self.costs,
            charges=self.charges,
            segment=np.ascontiguousarray(self.segment[:, start:stop]),
            borrow=np.ascontiguousarray(borrow),
            rates=rates,
            dividends=np.ascontiguousarray(paid),
            withholding=self.withholding,
            rules=self.rules.window(start, stop),
        )


def prepare_market(
    close: pd.DataFrame,
    *,
    portfolios: int = 1,
    exec_price: pd.DataFrame | None = None,
    fx: pd.DataFrame | None = None,
    currency: Mapping[str, str] | Sequence[str] | pd.Series | None = None,
    lot_size: PerAsset | None = None,
    fees: Dated = 0.0,
    fixed_fees: Dated = 0.0,
    min_fees: Dated = 0.0,
    charges: Sequence[Charge] = (),
    buy_tax: Dated = 0.0,
    sell_tax: Dated = 0.0,
    slippage: Dated = 0.0,
    fx_cost: Dated = 0.0,
    borrow_rate: Dated = 0.0,
    cash_rate: Rate = 0.0,
    cash_debit_rate: Rate | None = None,
    risk_free: Rate = 0.0,
    base_currency: str | None = None,
    year_days: float = 365.0,
    dividends: pd.DataFrame | None = None,
    withholding: PerAsset = 0.0,
    volume: pd.DataFrame | None = None,
    participation: float | None = None,
    execution: Execution = "close",
    half_spread: Dated = 0.0,
    impact: PerAsset = 0.0,
    impact_window: int = 20,
    volatility: pd.DataFrame | None = None,
    adv: pd.DataFrame | None = None,
    max_weight: PerAsset = float("inf"),
    net_exposure: tuple[float, float] | None = None,
    group_limits: Mapping[str, GroupLimit] | None = None,
    drawdown: DrawdownRule | None = None,
    stop_loss: PerAsset = float("inf"),
    take_profit: PerAsset = float("inf"),
) -> KernelMarket:
    """Validate market, cost and rate inputs and convert them into the kernel's arrays.

    Arguments are those of `engine.simulate`; `portfolios` is the K that per-portfolio
    ``(K, N)`` cost rows must match; `risk_free` is the annual rate that Sharpe and
    Sortino measure excess returns against (a scalar or a dated Series). The trading
    rules and liquidity arguments are `engine.trading_rules.rule_arrays`'s.
    """
    close_frame = as_frame(close, "close")
    index, columns = close_frame.index, close_frame.columns
    close_arr = prices(close_frame, "close")
    exec_arr = (
        close_arr
        if exec_price is None
        else prices(aligned(exec_price, index, columns, "exec_price"), "exec_price")
    )
    fx_arr, asset_ccy, foreign = currencies(fx, currency, index, columns, base_currency)
    lots = (
        np.zeros(len(columns), dtype=np.float64)
        if lot_size is None
        else per_asset(lot_size, columns, "lot_size", 1)[0]
    )
    settings = {
        "fees": fees,
        "min_fees": min_fees,
        "fixed_fees": fixed_fees,
        "buy_tax": buy_tax,
        "sell_tax": sell_tax,
        "slippage": slippage,
        "fx_cost": fx_cost,
        "half_spread": half_spread,
        **{
            f"charges[{m}].{field}": getattr(c, field)
            for m, c in enumerate(charges)
            for field in ("rate", "minimum", "maximum")
        },
    }
    costs, charge_arr, segment = cost_table(settings, len(charges), index, columns, portfolios)
    costs["fx_cost"] *= foreign[None, :]

    cash_credit = rate_series(cash_rate, index, "cash_rate")
    cash_debit = (
        cash_credit
        if cash_debit_rate is None
        else rate_series(cash_debit_rate, index, "cash_debit_rate")
    )
    borrow = _borrow(borrow_rate, index, columns)
    accrues = bool(borrow.any() or cash_credit.any() or cash_debit.any())
    rates = np.zeros((len(index), nb.N_RATES), dtype=np.float64)
    rates[:, nb.RATE_YEAR_FRAC] = year_fractions(index, year_days, needed=accrues)
    rates[:, nb.RATE_CASH_CREDIT] = cash_credit
    rates[:, nb.RATE_CASH_DEBIT] = cash_debit
    rates[:, nb.RATE_RISK_FREE] = rate_series(risk_free, index, "risk_free")
    return KernelMarket(
        index=index,
        columns=columns,
        close=close_arr,
        exec_price=exec_arr,
        fx=fx_arr,
        asset_ccy=asset_ccy,
        lot_size=lots,
        costs=costs,
        charges=charge_arr,
        segment=segment,
        borrow=borrow,
        rates=rates,
        dividends=dividend_rows(dividends, index, columns),
        withholding=withholding_rates(withholding, columns),
        rules=rule_arrays(
            index,
            columns,
            close=close_frame,
            volume=volume,
            participation=participation,
            execution=execution,
            impact=per_asset(impact, columns, "impact", 1)[0],
            impact_window=impact_window,
            volatility=volatility,
            adv=adv,
            max_weight=per_asset(max_weight, columns, "max_weight", 1, allow_inf=True)[0],
            net_exposure=net_exposure,
            group_limits=group_limits or {},
            drawdown=drawdown,
            stop_loss=per_asset(stop_loss, columns, "stop_loss", 1, allow_inf=True)[0],
            take_profit=per_asset(take_profit, columns, "take_profit", 1, allow_inf=True)[0],
        ),
    )


def dividend_rows(
    dividends: pd.DataFrame | None, index: pd.Index, columns: pd.Index
) -> npt.NDArray[np.float64]:
    """``[T, N]`` cash dividends per share (NaN read as none), or one row of zeros when
    there are none, so that the kernel skips its dividend step.

    Raises
    ------
    SimulationError
        Naming the symbol and date of a negative or infinite dividend.
    """
    none = np.zeros((1, len(columns)), dtype=np.float64)
    if dividends is None:
        return none
    arr = np.nan_to_num(
        aligned(dividends, index, columns, "dividends").to_numpy(dtype=np.float64),
        nan=0.0,
        posinf=np.inf,
        neginf=-np.inf,
    )
    bad = (arr < 0.0) | ~np.isfinite(arr)
    if bad.any():
        t, j = np.argwhere(bad)[0]
        raise SimulationError(
            f"dividends of {columns[j]} on {index[t]} is {arr[t, j]}; a cash dividend per "
            "share must be finite and non-negative (0 or NaN for none)"
        )
    # bar 0: nothing is held entering the first bar, so nothing there is ever paid
    if len(index) < 2 or not arr[1:].any():
        return none
    return np.ascontiguousarray(arr)


def withholding_rates(withholding: PerAsset, columns: pd.Index) -> npt.NDArray[np.float64]:
    """``[N]`` withholding rates in [0, 1] from a scalar or per-asset values."""
    rates = per_asset(withholding, columns, "withholding", 1)[0]
    if np.any(rates > 1.0):
        raise SimulationError(f"withholding must be a rate in [0, 1], was {rates.max()}")
    return np.ascontiguousarray(rates)


def cost_table(
    settings: Mapping[str, Any],
    n_charges: int,
    index: pd.Index,
    columns: pd.Index,
    portfolios: int,
) -> tuple[np.ndarray, npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Build the kernel's cost table, charge table and bar -> row index.

    `settings` maps each `COST_ARGUMENTS` name and ``charges[m].rate|minimum|maximum``
    to its value. Returns ``costs[P * S, N]`` (`COST_DTYPE`),
    ``charges[P * S, N, M, 3]`` and ``segment[P, T]``.
    """
    n_bars, n_assets = len(index), len(columns)
    parsed = {
        name: _cost_setting(value, index, columns, name, portfolios)
        for name, value in settings.items()
    }
    starts = sorted({0, *(b for rows, _ in parsed.values() if rows is not None for b in rows)})
    starts = [b for b in starts if b < n_bars] or [0]
    rows = max((v.shape[0] for bars, v in parsed.values() if bars is None), default=1)
    n_seg = len(starts)

    def at(name: str, s: int) -> npt.NDArray[np.float64]:
        """``[P, N]`` values of one setting in segment s."""
        bars, values = parsed[name]
        if bars is None:
            return np.broadcast_to(values, (rows, n_assets))
        row = int(np.searchsorted(bars, starts[s], side="right")) - 1
        return np.broadcast_to(values[row], (rows, n_assets))

    costs = np.zeros((rows * n_seg, n_assets), dtype=nb.COST_DTYPE)
    charge_arr = np.zeros((rows * n_seg, n_assets, n_charges, 3), dtype=np.float64)
    for s in range(n_seg):
        block = slice(s, rows * n_seg, n_seg)  # row p * S + s
        for name, field in COST_ARGUMENTS.items():
            costs[field][block] = at(name, s)
        for m in range(n_charges):
            for f, part in enumerate(("rate", "minimum", "maximum")):
                charge_arr[block, :, m, f] = at(f"charges[{m}].{part}", s)
            if np.any(
                charge_arr[block, :, m, nb.CHARGE_MAX] < charge_arr[block, :, m, nb.CHARGE_MIN]
            ):
                raise SimulationError(f"charges[{m}]: maximum is below minimum")
    if np.any(costs["slippage"] + costs["half_spread"] >= 1.0):
        raise SimulationError("slippage plus half_spread must be below 1 (a fraction of the price)")
    bar_segment = np.searchsorted(np.asarray(starts), np.arange(n_bars), side="right") - 1
    segment = (np.arange(rows)[:, None] * n_seg + bar_segment[None, :]).astype(np.int64)
    return costs, charge_arr, np.ascontiguousarray(segment)


def _cost_setting(
    value: Any, index: pd.Index, columns: pd.Index, name: str, portfolios: int
) -> tuple[npt.NDArray[np.int64] | None, npt.NDArray[np.float64]]:
    """``(None, [P, N])`` for a static setting; ``(first bar of each row, [D, N])`` dated."""
    allow_inf = name.endswith(".maximum")
    if not isinstance(value, pd.DataFrame):
        return None, per_asset(value, columns, name, portfolios, allow_inf=allow_inf)
    bars = schedule_bars(value.index, index, name)
    missing = columns.difference(value.columns)
    if len(missing):
        raise SimulationError(f"{name} schedule has no column for {list(missing)}")
    values = value[columns].to_numpy(dtype=np.float64)
    check_non_negative(values, name, allow_inf)
    return bars, np.ascontiguousarray(values)


def schedule_bars(dates: pd.Index, index: pd.Index, name: str) -> npt.NDArray[np.int64]:
    """First bar at or after each effective date of a dated schedule (sorted, unique).

    Raises
    ------
    SimulationError
        When the dates are not sorted and unique, or the schedule starts after the
        first bar (nothing says what applied before it).
    """
    if len(dates) == 0 or not dates.is_unique or not dates.is_monotonic_increasing:
        raise SimulationError(f"{name} schedule needs sorted, unique effective dates")
    try:
        bars = np.searchsorted(np.asarray(index), np.asarray(dates), side="left")
        starts_after = dates[0] > index[0]
    except TypeError:
        raise SimulationError(
            f"{name} schedule dates ({dates.dtype}) cannot be compared with the bars "
            f"({index.dtype})"
        ) from None
    if starts_after:
        raise SimulationError(
            f"{name} schedule starts on {dates[0]}, after the first bar {index[0]}; "
            "add a row in force from the first bar"
        )
    return bars.astype(np.int64)


def check_non_negative(arr: npt.NDArray[np.float64], name: str, allow_inf: bool = False) -> None:
    """Raise `SimulationError` unless `arr` is non-negative and finite (inf if allowed)."""
    finite = ~np.isnan(arr) if allow_inf else np.isfinite(arr)
    if not np.all(finite) or np.any(arr < 0.0):
        bad = arr[~finite | (arr < 0.0)].ravel()[0]
        raise SimulationError(f"{name} must be finite and non-negative, was {bad}")


def as_frame(data: Any, name: str) -> pd.DataFrame:
    """Return `data` as a non-empty frame with unique, sorted dates and unique symbols."""
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, np.ndarray) and data.ndim == 2:
        frame = pd.DataFrame(data)
    else:
        raise SimulationError(f"{name} must be a 2-D DataFrame [bars x assets], got {type(data)}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise SimulationError(f"{name} is empty (shape {frame.shape})")
    if not frame.index.is_unique or not frame.columns.is_unique:
        raise SimulationError(f"{name} has duplicate dates or symbols")
    if isinstance(frame.index, pd.DatetimeIndex) and not frame.index.is_monotonic_increasing:
        raise SimulationError(f"{name} dates are not sorted ascending")
    return frame


def aligned(data: Any, index: pd.Index, columns: pd.Index, name: str) -> pd.DataFrame:
    """Return `data` as a frame with exactly `index` x `columns`, or say what differs."""
    if isinstance(data, np.ndarray):
        if data.shape != (len(index), len(columns)):
            raise SimulationError(
                f"{name} has shape {data.shape}, expected {(len(index), len(columns))}"
            )
        return pd.DataFrame(data, index=index, columns=columns)
    if not isinstance(data, pd.DataFrame):
        raise SimulationError(f"{name} must be a DataFrame like close, got {type(data)}")
    if data.columns.equals(columns) and data.index.equals(index):
        return data
    missing = columns.difference(data.columns)
    extra = data.columns.difference(columns)
    if len(missing) or len(extra):
        raise SimulationError(
            f"{name} columns differ from close: missing {list(missing)}, extra {list(extra)}"
        )
    if not data.index.equals(index):
        if len(data.index) != len(index):
            raise SimulationError(f"{name} has {len(data.index)} rows, close has {len(index)}")
        first = int(np.argmax(data.index != index))
        raise SimulationError(
            f"{name} index differs from close at row {first}: {data.index[first]} vs {index[first]}"
        )
    return data if data.columns.equals(columns) else data[columns]


def prices(frame: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    """Return positive prices as a C-contiguous array (NaN where the asset did not trade)."""
    arr = np.require(frame.to_numpy(dtype=np.float64), requirements=["C", "W"])
    if bad_prices_nb(arr):
        t, j = np.argwhere((arr <= 0.0) | np.isinf(arr))[0]
        raise SimulationError(
            f"{name} of {frame.columns[j]} on {frame.index[t]} is {arr[t, j]}; "
            "prices must be positive (use NaN where the asset did not trade)"
        )
    return arr


def currencies(
    fx: pd.DataFrame | None,
    currency: Mapping[str, str] | Sequence[str] | pd.Series | None,
    index: pd.Index,
    columns: pd.Index,
    base_currency: str | None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Return fx ``[T, C]`` (column 0 is the base currency), each asset's fx column, and a
    0/1 flag per asset that is 1 where the asset trades in a foreign currency."""
    n_assets = len(columns)
    if currency is None:
        codes = [base_currency or "BASE"] * n_assets
    elif isinstance(currency, Mapping):
        absent = [s for s in columns if s not in currency]
        if absent:
            raise SimulationError(f"currency has no entry for {absent}")
        codes = [str(currency[s]) for s in columns]
    else:
        codes = [str(c) for c in currency]
        if len(codes) != n_assets:
            raise SimulationError(f"currency has {len(codes)} entries for {n_assets} assets")

    fx_frame = pd.DataFrame(index=index) if fx is None else fx
    if fx is not None:
        if not isinstance(fx, pd.DataFrame):
            raise SimulationError("fx must be a DataFrame with one column per currency code")
        if not fx.index.equals(index):
            raise SimulationError("fx index differs from close; reindex it to the same dates")
    quoted = [c for c in dict.fromkeys(codes) if c not in fx_frame.columns]
    if base_currency is None:
        if len(quoted) > 1:
            raise SimulationError(
                f"no fx series for currencies {quoted}; give fx columns for all but the base "
                "currency, or set base_currency"
            )
        base_currency = quoted[0] if quoted else None
    unpriced = [c for c in quoted if c != base_currency]
    if unpriced:
        raise SimulationError(
            f"no fx series for currency {unpriced[0]} (base {base_currency}); add an fx column"
        )
    ccy_names = [base_currency, *[c for c in dict.fromkeys(codes) if c != base_currency]]
    fx_arr = np.ones((len(index), len(ccy_names)), dtype=np.float64)
    for c, name in enumerate(ccy_names[1:], start=1):
        col = fx_frame[name].to_numpy(dtype=np.float64)
        bad = ~np.isnan(col) & ~(col > 0.0)
        if bad.any():
            t = int(np.argmax(bad))
            raise SimulationError(f"fx of {name} on {index[t]} is {col[t]}; rates must be positive")
        fx_arr[:, c] = col
    position = {name: c for c, name in enumerate(ccy_names)}
    asset_ccy = np.array([position[c] for c in codes], dtype=np.int64)
    return np.ascontiguousarray(fx_arr), asset_ccy, (asset_ccy != 0).astype(np.float64)


def per_asset(
    value: Any, columns: pd.Index, name: str, n_portfolios: int, allow_inf: bool = False
) -> npt.NDArray[np.float64]:
    """Broadcast a scalar, per-asset or per-portfolio-per-asset value to ``[P, N]``."""
    n_assets = len(columns)
    if isinstance(value, pd.DataFrame):
        raise SimulationError(f"{name} takes a scalar or one value per asset, not a frame")
    if isinstance(value, Mapping | pd.Series):
        mapping = dict(value.items()) if isinstance(value, pd.Series) else dict(value)
        absent = [s for s in columns if s not in mapping]
        if absent:
            raise SimulationError(f"{name} has no value for {absent}")
        arr = np.array([[mapping[s] for s in columns]], dtype=np.float64)
    else:
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full((1, n_assets), float(arr))
        elif arr.ndim == 1 and arr.shape[0] == n_assets:
            arr = arr[None, :]
        elif arr.ndim == 2 and arr.shape == (n_portfolios, n_assets):
            pass
        else:
            raise SimulationError(
                f"{name} has shape {arr.shape}; give a scalar, {n_assets} per-asset values, "
                f"or a ({n_portfolios}, {n_assets}) array"
            )
    check_non_negative(arr, name, allow_inf)
    return np.ascontiguousarray(arr)


def per_portfolio(
    value: float | Sequence[float], n_portfolios: int, name: str, allow_inf: bool
) -> npt.NDArray[np.float64]:
    """Broadcast one value, or check one per portfolio, to ``[K]``."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n_portfolios, float(arr))
    if arr.shape != (n_portfolios,):
        raise SimulationError(f"{name} needs one value or {n_portfolios}, got shape {arr.shape}")
    if np.isnan(arr).any() or (not allow_inf and np.isinf(arr).any()):
        raise SimulationError(f"{name} must be finite, was {value}")
    return np.ascontiguousarray(arr)


def _borrow(borrow_rate: Any, index: pd.Index, columns: pd.Index) -> npt.NDArray[np.float64]:
    """``[T, N]`` rates for a dated schedule, else one ``[1, N]`` row the kernel reuses."""
    bars, values = _cost_setting(borrow_rate, index, columns, "borrow_rate", 1)
    if bars is None:
        return values
    return np.ascontiguousarray(values[_row_of_bar(bars, len(index))])


def _row_of_bar(bars: npt.NDArray[np.int64], n_bars: int) -> npt.NDArray[np.int64]:
    return np.searchsorted(bars, np.arange(n_bars), side="right") - 1


def rate_series(rate: Rate, index: pd.Index, name: str) -> npt.NDArray[np.float64]:
    """Return an annual rate per bar from a scalar or a dated Series (carried forward)."""
    if isinstance(rate, pd.Series):
        bars = schedule_bars(rate.index, index, name)
        arr = rate.to_numpy(dtype=np.float64)[_row_of_bar(bars, len(index))]
    else:
        arr = np.full(len(index), float(rate))
    if not np.all(np.isfinite(arr)):
        raise SimulationError(f"{name} must be finite (negative rates are allowed)")
    return np.ascontiguousarray(arr)


def year_fractions(index: pd.Index, year_days: float, needed: bool) -> npt.NDArray[np.float64]:
    """Years from each bar to the next (0 at bar 0), counted in calendar days."""
    if not isinstance(index, pd.DatetimeIndex):
        if needed:
            raise SimulationError(
                "borrow_rate and cash_rate accrue per calendar day: close needs a DatetimeIndex"
            )
        return np.zeros(len(index), dtype=np.float64)
    wall = index.tz_localize(None) if index.tz is not None else index
    days = wall.to_numpy().astype("datetime64[D]").astype(np.int64)  # wall-clock date
    steps = np.diff(days).astype(np.float64)
    return np.concatenate(([0.0], steps / year_days)).astype(np.float64)
