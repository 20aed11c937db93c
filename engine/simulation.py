"""`simulate`: pandas in, the numba kernel in the middle, `SimulationResult` out.

This is the only place where frames become arrays for the kernel and where the kernel's
status codes become exceptions or warnings that name dates and symbols.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.errors import SimulationError
from engine.kernel import sim_nb as nb
from engine.kernel import sweep_nb
from engine.results import BatchResult, SimulationResult

SizeType = Literal["target_weight", "target_quantity", "target_value"]
_SIZE_TYPES: dict[str, int] = {
    "target_weight": nb.SIZE_TARGET_WEIGHT,
    "target_quantity": nb.SIZE_TARGET_QUANTITY,
    "target_value": nb.SIZE_TARGET_VALUE,
}

PerAsset = float | Sequence[float] | Mapping[str, float] | pd.Series | npt.NDArray[np.float64]


@dataclass(frozen=True)
class Charge:
    """An extra per-fill charge: ``clip(rate * value, minimum, maximum)``, in base currency.

    Each field is a scalar or per asset, like `simulate`'s `fees`.
    """

    rate: PerAsset = 0.0
    minimum: PerAsset = 0.0
    maximum: PerAsset = float("inf")


@dataclass(frozen=True, eq=False)
class KernelMarket:
    """The kernel's market and cost arrays, validated and converted once.

    A sweep prepares one per set of cost settings and reuses it for every chunk of
    portfolios (and ships it once to each Dask worker). Cost arrays have one row, or
    one per portfolio when `simulate` was given per-portfolio costs.
    """

    index: pd.Index
    columns: pd.Index
    close: npt.NDArray[np.float64]
    exec_price: npt.NDArray[np.float64]
    fx: npt.NDArray[np.float64]
    asset_ccy: npt.NDArray[np.int64]
    lot_size: npt.NDArray[np.float64]
    fees: npt.NDArray[np.float64]
    fixed_fees: npt.NDArray[np.float64]
    min_fees: npt.NDArray[np.float64]
    charges: npt.NDArray[np.float64]
    buy_tax: npt.NDArray[np.float64]
    sell_tax: npt.NDArray[np.float64]
    slippage: npt.NDArray[np.float64]
    fx_cost: npt.NDArray[np.float64]
    borrow_rate: npt.NDArray[np.float64]
    cash_rate: npt.NDArray[np.float64]
    year_frac: npt.NDArray[np.float64]

    def head(self, targets: npt.NDArray[np.float64], size_type: int) -> tuple[Any, ...]:
        """The kernels' leading arguments, in their order, up to the per-portfolio ones."""
        return (
            self.close,
            self.exec_price,
            self.fx,
            self.asset_ccy,
            targets,
            size_type,
            self.lot_size,
            self.fees,
            self.fixed_fees,
            self.min_fees,
            self.charges,
            self.buy_tax,
            self.sell_tax,
            self.slippage,
            self.fx_cost,
            self.borrow_rate,
            self.cash_rate,
            self.year_frac,
        )

    def window(self, start: int, stop: int) -> KernelMarket:
        """The same market restricted to bars ``[start, stop)``."""
        by_bar = {"close", "exec_price", "fx", "cash_rate", "year_frac"}
        fields = {
            name: (
                getattr(self, name)[start:stop].copy()
                if name in by_bar or (name == "borrow_rate" and self.borrow_rate.shape[0] > 1)
                else getattr(self, name)
            )
            for name in self.__dataclass_fields__
            if name not in ("index", "columns")
        }
        fields["year_frac"][0] = 0.0  # nothing accrues before the window's first bar
        return KernelMarket(index=self.index[start:stop], columns=self.columns, **fields)


def prepare_market(
    close: pd.DataFrame,
    *,
    exec_price: pd.DataFrame | None = None,
    fx: pd.DataFrame | None = None,
    currency: Mapping[str, str] | Sequence[str] | pd.Series | None = None,
    lot_size: PerAsset | None = None,
    fees: PerAsset = 0.0,
    fixed_fees: PerAsset = 0.0,
    min_fees: PerAsset = 0.0,
    charges: Sequence[Charge] = (),
    buy_tax: PerAsset = 0.0,
    sell_tax: PerAsset = 0.0,
    slippage: PerAsset = 0.0,
    fx_cost: PerAsset = 0.0,
    borrow_rate: PerAsset | pd.DataFrame = 0.0,
    cash_rate: float | pd.Series = 0.0,
    base_currency: str | None = None,
    year_days: float = 365.0,
) -> KernelMarket:
    """Prepare market and cost arrays once for `sweep_metrics`; arguments as in `simulate`."""
    return _prepare(
        _as_frame(close, "close"),
        1,
        exec_price=exec_price,
        fx=fx,
        currency=currency,
        lot_size=lot_size,
        fees=fees,
        fixed_fees=fixed_fees,
        min_fees=min_fees,
        charges=charges,
        buy_tax=buy_tax,
        sell_tax=sell_tax,
        slippage=slippage,
        fx_cost=fx_cost,
        borrow_rate=borrow_rate,
        cash_rate=cash_rate,
        base_currency=base_currency,
        year_days=year_days,
    )


@dataclass(frozen=True, eq=False)
class SweepChunk:
    """Metrics ``[K, len(SWEEP_METRICS)]`` of K portfolios, values ``[K, T]`` if kept."""

    metrics: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64] | None
    status: npt.NDArray[np.int64]


def sweep_metrics(
    market: KernelMarket,
    targets: npt.NDArray[np.float64],
    *,
    init_cash: float = 1_000_000.0,
    max_leverage: float | None = None,
    size_type: SizeType = "target_weight",
    ppy: float = 252.0,
    risk_free: float = 0.0,
    keep_values: bool = False,
) -> SweepChunk:
    """Simulate the K portfolios of `targets` ``[K, T, N]`` and keep only their metrics.

    Metrics are those of `engine.kernel.sweep_nb.SWEEP_METRICS`, defined as in
    `engine.metrics`; memory is ``K x metrics`` (plus ``K x T`` with `keep_values`).
    """
    targets = np.ascontiguousarray(targets, dtype=np.float64)
    n_bars, n_assets = market.close.shape
    if targets.ndim != 3 or targets.shape[1:] != (n_bars, n_assets):
        raise SimulationError(
            f"targets must be [K, {n_bars}, {n_assets}] for this market, was {targets.shape}"
        )
    if np.isinf(targets).any():
        raise SimulationError("targets hold an infinite value")
    if size_type not in _SIZE_TYPES:
        raise SimulationError(f"size_type must be one of {sorted(_SIZE_TYPES)}, was {size_type!r}")
    if market.fees.shape[0] != 1:
        raise SimulationError("sweep_metrics needs one row of costs shared by the chunk")
    k = targets.shape[0]
    metrics = np.empty((k, sweep_nb.N_METRICS), dtype=np.float64)
    values = np.empty((k, n_bars) if keep_values else (0, 0), dtype=np.float64)
    status = np.zeros(k, dtype=np.int64)
    sweep_nb.sweep_nb(
        *market.head(targets, _SIZE_TYPES[size_type]),
        float(init_cash),
        np.inf if max_leverage is None else float(max_leverage),
        float(ppy),
        (1.0 + risk_free) ** (1.0 / ppy) - 1.0,
        metrics,
        values,
        status,
        keep_values,
    )
    return SweepChunk(metrics, values if keep_values else None, status)


class BankruptcyWarning(UserWarning):
    """A simulated portfolio's value fell to zero or below; it stopped trading."""


def simulate(
    close: pd.DataFrame,
    weights: pd.DataFrame | Sequence[pd.DataFrame] | npt.NDArray[np.float64],
    *,
    exec_price: pd.DataFrame | None = None,
    fx: pd.DataFrame | None = None,
    currency: Mapping[str, str] | Sequence[str] | pd.Series | None = None,
    lot_size: PerAsset | None = None,
    init_cash: float | Sequence[float] = 1_000_000.0,
    fees: PerAsset = 0.0,
    fixed_fees: PerAsset = 0.0,
    min_fees: PerAsset = 0.0,
    charges: Sequence[Charge] = (),
    buy_tax: PerAsset = 0.0,
    sell_tax: PerAsset = 0.0,
    slippage: PerAsset = 0.0,
    fx_cost: PerAsset = 0.0,
    borrow_rate: PerAsset | pd.DataFrame = 0.0,
    cash_rate: float | pd.Series = 0.0,
    max_leverage: float | Sequence[float] | None = None,
    size_type: SizeType = "target_weight",
    base_currency: str | None = None,
    year_days: float = 365.0,
) -> SimulationResult | BatchResult:
    """Simulate a portfolio that trades to the given targets.

    Row t of `weights` executes at row t of the execution price: no lag is applied here.

    Parameters
    ----------
    close
        Adjusted close prices ``[T, N]`` (one column per asset), NaN where the asset
        did not trade. Used for valuation, and for execution unless `exec_price` is given.
    weights
        Targets ``[T, N]`` in the units of `size_type`; NaN means no instruction for that
        asset at that bar, a row of NaN means no rebalance. A list of frames or a 3-D
        array ``[K, T, N]`` simulates K portfolios in one call.
    exec_price
        Execution prices ``[T, N]`` (e.g. the open); NaN means the asset cannot trade
        then and its order waits for its next tradable bar.
    fx
        Price of one unit of each currency in the base currency, ``[T, C]``, one column
        per currency code. Missing values carry the last known rate.
    currency
        Currency code of each asset (mapping symbol -> code, or a sequence in column
        order). Assets whose currency is the base currency need no fx column.
    lot_size
        Board lot per asset; target quantities round toward zero to whole lots.
        None trades fractional quantities.
    init_cash
        Starting cash in the base currency (one value, or one per portfolio).
    fees, fixed_fees, min_fees
        Per fill: ``max(fees * value, min_fees) + fixed_fees``, in base currency.
    charges
        Extra charges per fill, each ``clip(rate * value, minimum, maximum)`` in base
        currency and each field per asset like `fees` (e.g. exchange levies, or a
        settlement fee with a minimum and a maximum).
    buy_tax, sell_tax
        Taxes on the traded value of buys and of sells (e.g. stamp duty).
    slippage
        Adverse fractional move of the fill price; the target quantity is computed
        from the quoted price.
    fx_cost
        Conversion cost on the traded value of assets quoted in a foreign currency.
    borrow_rate
        Annual borrow fee on short market value, accrued per calendar day; a scalar,
        per-asset values, or a ``[T, N]`` frame whose row t applies to (t-1, t].
    cash_rate
        Annual interest on cash, paid when cash is negative; a scalar or a ``[T]`` series.
    max_leverage
        Cap on gross exposure over value. Orders that would breach it are scaled down,
        and cash may then go negative (margin). None: no cap, and buys are limited
        to the cash available (short proceeds included).
    size_type
        ``"target_weight"`` (fraction of portfolio value), ``"target_quantity"``
        (units), or ``"target_value"`` (base currency).
    base_currency
        Code of the base currency; needed only when it cannot be inferred.
    year_days
        Calendar days per year for borrow and cash interest (ACT/365 by default).

    Returns
    -------
    SimulationResult or BatchResult
        One result for a 2-D `weights`, a `BatchResult` of K results otherwise.

    Raises
    ------
    SimulationError
        When inputs do not line up or hold invalid values; the message names the
        argument, and the symbol and date where there is one.
    """
    close_frame = _as_frame(close, "close")
    targets, batched = _targets_array(weights, close_frame.index, close_frame.columns)
    n_portfolios = targets.shape[0]
    km = _prepare(
        close_frame,
        n_portfolios,
        exec_price=exec_price,
        fx=fx,
        currency=currency,
        lot_size=lot_size,
        fees=fees,
        fixed_fees=fixed_fees,
        min_fees=min_fees,
        charges=charges,
        buy_tax=buy_tax,
        sell_tax=sell_tax,
        slippage=slippage,
        fx_cost=fx_cost,
        borrow_rate=borrow_rate,
        cash_rate=cash_rate,
        base_currency=base_currency,
        year_days=year_days,
    )
    if size_type not in _SIZE_TYPES:
        raise SimulationError(f"size_type must be one of {sorted(_SIZE_TYPES)}, was {size_type!r}")
    index = km.index
    cash0 = _per_portfolio(init_cash, n_portfolios, "init_cash", allow_inf=False)
    if np.any(cash0 <= 0.0):
        raise SimulationError(f"init_cash must be positive, was {init_cash}")
    leverage = (
        np.full(n_portfolios, np.inf)
        if max_leverage is None
        else _per_portfolio(max_leverage, n_portfolios, "max_leverage", allow_inf=True)
    )
    if np.any(leverage <= 0.0):
        raise SimulationError(f"max_leverage must be positive or None, was {max_leverage}")

    n_bars, n_assets = km.close.shape
    counts = (~np.isnan(targets)).reshape(n_portfolios, -1).sum(axis=1)
    rec_start = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    records = np.zeros(int(rec_start[-1]), dtype=nb.TRADE_DTYPE)
    qty = np.zeros((n_portfolios, n_bars, n_assets), dtype=np.float64)
    stats = np.zeros((n_portfolios, n_bars, nb.N_STATS), dtype=np.float64)
    rec_count = np.zeros(n_portfolios, dtype=np.int64)
    status = np.zeros(n_portfolios, dtype=np.int64)
    fail_bar = np.full(n_portfolios, -1, dtype=np.int64)

    arrays = (
        *km.head(targets, _SIZE_TYPES[size_type]),
        cash0,
        leverage,
        qty,
        stats,
        records,
        rec_start,
        rec_count,
        status,
        fail_bar,
    )
    if n_portfolios == 1:
        # one portfolio: skip the parallel wrapper, whose thread start-up costs more
        # than a typical single simulation
        nb.simulate_one_nb(0, *arrays)
    else:
        nb.simulate_nb(*arrays)

    results = []
    for k in range(n_portfolios):
        if status[k] == nb.STATUS_BANKRUPT:
            warnings.warn(
                f"portfolio {k} lost all its value on {index[fail_bar[k]]} and stopped trading",
                BankruptcyWarning,
                stacklevel=2,
            )
        start = rec_start[k]
        results.append(
            SimulationResult(
                index=index,
                columns=km.columns,
                init_cash=float(cash0[k]),
                stats=stats[k],
                quantities=qty[k],
                records=records[start : start + rec_count[k]],
                close=km.close,
                fx=km.fx,
                asset_ccy=km.asset_ccy,
                status=int(status[k]),
                fail_bar=int(fail_bar[k]),
            )
        )
    return BatchResult(results) if batched else results[0]


def _prepare(
    close_frame: pd.DataFrame,
    n_portfolios: int,
    *,
    exec_price: pd.DataFrame | None,
    fx: pd.DataFrame | None,
    currency: Mapping[str, str] | Sequence[str] | pd.Series | None,
    lot_size: PerAsset | None,
    fees: PerAsset,
    fixed_fees: PerAsset,
    min_fees: PerAsset,
    charges: Sequence[Charge],
    buy_tax: PerAsset,
    sell_tax: PerAsset,
    slippage: PerAsset,
    fx_cost: PerAsset,
    borrow_rate: PerAsset | pd.DataFrame,
    cash_rate: float | pd.Series,
    base_currency: str | None,
    year_days: float,
) -> KernelMarket:
    """Validate and convert the market and cost inputs into the kernel's arrays."""
    index, columns = close_frame.index, close_frame.columns

    close_arr = _prices(close_frame, "close")
    exec_arr = (
        close_arr
        if exec_price is None
        else _prices(_aligned(exec_price, index, columns, "exec_price"), "exec_price")
    )
    fx_arr, asset_ccy, foreign = _currencies(fx, currency, index, columns, base_currency)

    lots = (
        np.zeros(len(columns), dtype=np.float64)
        if lot_size is None
        else _per_asset(lot_size, columns, "lot_size", n_portfolios)[0]
    )

    cost = {
        name: _per_asset(value, columns, name, n_portfolios)
        for name, value in {
            "fees": fees,
            "fixed_fees": fixed_fees,
            "min_fees": min_fees,
            "buy_tax": buy_tax,
            "sell_tax": sell_tax,
            "slippage": slippage,
            "fx_cost": fx_cost,
        }.items()
    }
    cost["fx_cost"] = cost["fx_cost"] * foreign[None, :]
    charge_fields = [
        [
            _per_asset(value, columns, f"charges[{m}].{name}", n_portfolios, allow_inf=True)
            for name, value in (("rate", c.rate), ("minimum", c.minimum), ("maximum", c.maximum))
        ]
        for m, c in enumerate(charges)
    ]
    # the kernel reads every cost array with one row index: all get 1 row, or all K
    rows = max(arr.shape[0] for arr in [*cost.values(), *(f for c in charge_fields for f in c)])
    cost = {
        name: np.ascontiguousarray(np.broadcast_to(arr, (rows, len(columns))))
        for name, arr in cost.items()
    }
    charge_arr = np.zeros((rows, len(columns), len(charge_fields), 3), dtype=np.float64)
    for m, fields in enumerate(charge_fields):
        for f, arr in enumerate(fields):
            charge_arr[:, :, m, f] = np.broadcast_to(arr, (rows, len(columns)))
        if np.any(charge_arr[:, :, m, 2] < charge_arr[:, :, m, 1]):
            raise SimulationError(f"charges[{m}]: maximum is below minimum")
    if np.any(cost["slippage"] >= 1.0):
        raise SimulationError("slippage must be below 1 (a fraction of the price)")

    borrow = _borrow_rates(borrow_rate, index, columns)
    cash_rates = _cash_rates(cash_rate, index)
    year_frac = _year_fractions(index, year_days, needed=bool(borrow.any() or cash_rates.any()))
    return KernelMarket(
        index=index,
        columns=columns,
        close=close_arr,
        exec_price=exec_arr,
        fx=fx_arr,
        asset_ccy=asset_ccy,
        lot_size=lots,
        fees=cost["fees"],
        fixed_fees=cost["fixed_fees"],
        min_fees=cost["min_fees"],
        charges=charge_arr,
        buy_tax=cost["buy_tax"],
        sell_tax=cost["sell_tax"],
        slippage=cost["slippage"],
        fx_cost=cost["fx_cost"],
        borrow_rate=borrow,
        cash_rate=cash_rates,
        year_frac=year_frac,
    )


def _as_frame(data: Any, name: str) -> pd.DataFrame:
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


def _aligned(data: Any, index: pd.Index, columns: pd.Index, name: str) -> pd.DataFrame:
    """Return `data` as a frame with exactly `index` x `columns`, or say what differs."""
    if isinstance(data, np.ndarray):
        if data.shape != (len(index), len(columns)):
            raise SimulationError(
                f"{name} has shape {data.shape}, expected {(len(index), len(columns))}"
            )
        return pd.DataFrame(data, index=index, columns=columns)
    if not isinstance(data, pd.DataFrame):
        raise SimulationError(f"{name} must be a DataFrame like close, got {type(data)}")
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


def _prices(frame: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    arr = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))
    if (arr <= 0.0).any() or np.isinf(arr).any():
        t, j = np.argwhere((arr <= 0.0) | np.isinf(arr))[0]
        raise SimulationError(
            f"{name} of {frame.columns[j]} on {frame.index[t]} is {arr[t, j]}; "
            "prices must be positive (use NaN where the asset did not trade)"
        )
    return arr


def _targets_array(
    weights: Any, index: pd.Index, columns: pd.Index
) -> tuple[npt.NDArray[np.float64], bool]:
    if isinstance(weights, np.ndarray) and weights.ndim == 3:
        if weights.shape[1:] != (len(index), len(columns)):
            raise SimulationError(
                f"weights has shape {weights.shape}, expected (K, {len(index)}, {len(columns)})"
            )
        arr, batched = weights.astype(np.float64), True
    elif isinstance(weights, (list, tuple)):
        if not weights:
            raise SimulationError("weights is an empty list; give at least one weight frame")
        frames = [_aligned(w, index, columns, f"weights[{k}]") for k, w in enumerate(weights)]
        arr, batched = np.stack([f.to_numpy(dtype=np.float64) for f in frames]), True
    else:
        frame = _aligned(weights, index, columns, "weights")
        arr, batched = frame.to_numpy(dtype=np.float64)[None], False
    if np.isinf(arr).any():
        raise SimulationError("weights contain inf; use finite targets or NaN for no instruction")
    return np.ascontiguousarray(arr), batched


def _currencies(
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


def _per_asset(
    value: Any, columns: pd.Index, name: str, n_portfolios: int, allow_inf: bool = False
) -> npt.NDArray[np.float64]:
    """Broadcast a scalar, per-asset or per-portfolio-per-asset value to ``[P, N]``."""
    n_assets = len(columns)
    if isinstance(value, pd.DataFrame):
        raise SimulationError(f"{name} takes a scalar or one value per asset, not a frame")
    if isinstance(value, Mapping) or isinstance(value, pd.Series):
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
    finite = ~np.isnan(arr) if allow_inf else np.isfinite(arr)
    if not np.all(finite) or np.any(arr < 0.0):
        raise SimulationError(f"{name} must be finite and non-negative, was {value}")
    return np.ascontiguousarray(arr)


def _per_portfolio(
    value: float | Sequence[float], n_portfolios: int, name: str, allow_inf: bool
) -> npt.NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n_portfolios, float(arr))
    if arr.shape != (n_portfolios,):
        raise SimulationError(f"{name} needs one value or {n_portfolios}, got shape {arr.shape}")
    if np.isnan(arr).any() or (not allow_inf and np.isinf(arr).any()):
        raise SimulationError(f"{name} must be finite, was {value}")
    return np.ascontiguousarray(arr)


def _borrow_rates(borrow_rate: Any, index: pd.Index, columns: pd.Index) -> npt.NDArray[np.float64]:
    """Return ``[T, N]`` rates for a frame, else one ``[1, N]`` row the kernel reuses."""
    if isinstance(borrow_rate, pd.DataFrame):
        arr = _aligned(borrow_rate, index, columns, "borrow_rate").to_numpy(np.float64)
        if np.isnan(arr).any() or np.any(arr < 0.0):
            raise SimulationError("borrow_rate frame must be non-negative with no NaN")
        return np.ascontiguousarray(arr)
    return _per_asset(borrow_rate, columns, "borrow_rate", 1)


def _cash_rates(cash_rate: float | pd.Series, index: pd.Index) -> npt.NDArray[np.float64]:
    if isinstance(cash_rate, pd.Series):
        if not cash_rate.index.equals(index):
            raise SimulationError("cash_rate series index differs from close")
        arr = cash_rate.to_numpy(dtype=np.float64)
    else:
        arr = np.full(len(index), float(cash_rate))
    if not np.all(np.isfinite(arr)):
        raise SimulationError("cash_rate must be finite (negative rates are allowed)")
    return np.ascontiguousarray(arr)


def _year_fractions(index: pd.Index, year_days: float, needed: bool) -> npt.NDArray[np.float64]:
    if not isinstance(index, pd.DatetimeIndex):
        if needed:
            raise SimulationError(
                "borrow_rate and cash_rate accrue per calendar day: close needs a DatetimeIndex"
            )
        return np.zeros(len(index), dtype=np.float64)
    normalized = index.normalize()
    days = np.asarray((normalized[1:] - normalized[:-1]) / pd.Timedelta(days=1), dtype=np.float64)
    return np.concatenate(([0.0], days / year_days)).astype(np.float64)
