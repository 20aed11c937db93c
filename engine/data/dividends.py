"""Price-only closes and cash dividends (``data.adjust: price``) from what sources give.

Yahoo's adjusted close (yfinance ``auto_adjust=True``, and the shared real files) folds
each cash dividend into every earlier price: all closes before ex-date e are multiplied
by ``m_e = 1 - D_e / C_{e-1}``, where ``C_{e-1}`` is the split-adjusted, dividend-
unadjusted close of the day before, and the multipliers of later ex-dates compound.
The last row carries no factor. `unadjusted_prices` inverts this: walking back from the
last row, with ``M`` the product of the factors after bar t (1 at the end),

    C_t = A_t / M,   and at an ex-date t:   m_t = A_{t-1} / (A_{t-1} + D_t * M),

since ``A_{t-1} = C_{t-1} * m_t * M`` and ``m_t = 1 - D_t / C_{t-1}``. Splits need no
inverting: split-adjusted prices are what the simulation trades (quantities are never
split), so a split ratio column is not read.

A file with a raw close beside an adjusted one (``adj_close``, yfinance
``auto_adjust=False``) gives the dividends back from the factor ``F_t = A_t / C_t``:
``D_t = C_{t-1} * (1 - F_{t-1} / F_t)`` at each bar where the factor steps by more than
`FACTOR_NOISE` (adjusted closes stored as float32 move the factor by about 1e-7).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.errors import DataError

ADJUST_MODES = ("total_return", "price")
FACTOR_NOISE = 1e-5


def unadjusted_prices(
    adjusted: pd.Series, dividends: pd.Series
) -> tuple[pd.Series, npt.NDArray[np.float64]]:
    """Return the dividend-unadjusted closes of `adjusted` and the factor of each bar.

    `adjusted` and `dividends` share one sorted index (NaN closes allowed: the dividend
    applies against the last close before the gap, and rows before the ex-date carry its
    factor). The factor is what bar t's adjusted prices were multiplied by, so any other
    adjusted price of the bar (an open) unadjusts by dividing by it too.
    """
    close = adjusted.to_numpy(dtype=np.float64)
    paid = np.nan_to_num(dividends.to_numpy(dtype=np.float64), nan=0.0)
    factor = np.ones(len(close), dtype=np.float64)
    cumulative = 1.0
    for t in range(len(close) - 1, -1, -1):
        factor[t] = cumulative
        if paid[t] == 0.0:
            continue
        before = t - 1  # the last close before the ex-date, across a gap
        while before >= 0 and not np.isfinite(close[before]):
            before -= 1
        if before < 0:
            break  # nothing before the first close to adjust
        previous = close[before]
        cumulative *= previous / (previous + paid[t] * cumulative)
    return pd.Series(close / factor, index=adjusted.index, name=adjusted.name), factor


def dividends_from_factor(close: pd.Series, adjusted: pd.Series) -> pd.Series:
    """Cash dividends per share implied by a raw `close` and its `adjusted` close.

    Returns a series on `close`'s index, 0 where the factor does not step.
    """
    factor = (adjusted / close).to_numpy(dtype=np.float64)
    raw = close.to_numpy(dtype=np.float64)
    out = np.zeros(len(raw), dtype=np.float64)
    last = -1
    for t in range(len(raw)):
        if not (np.isfinite(factor[t]) and factor[t] > 0.0):
            continue
        if last >= 0:
            step = 1.0 - factor[last] / factor[t]
            if step > FACTOR_NOISE:
                out[t] = raw[last] * step
        last = t
    return pd.Series(out, index=close.index, name="dividends")


def price_only_table(
    table: pd.DataFrame,
    close: str,
    others: tuple[str | None, ...],
    dividends: str | None,
    adj_close: str | None,
    where: str,
) -> tuple[pd.DataFrame, pd.Series]:
    """Return a dated price table with dividend-unadjusted prices, and its dividends.

    A table with an `adj_close` column has a raw `close`: it is kept, and the dividends
    come from its `dividends` column, else from the adjustment factor. Otherwise the
    prices (`close` and the `others`, e.g. open, high, low) are taken as adjusted and
    unadjusted with the `dividends` column. `where` names the file and symbol.

    Raises
    ------
    DataError
        When the table has neither column, or a dividend is negative.
    """
    has_div = dividends is not None and dividends in table.columns
    has_adj = adj_close is not None and adj_close in table.columns
    if not (has_div or has_adj):
        raise DataError(
            f"{where}: data.adjust is price, but there is no {dividends!r} column (cash "
            f"dividends beside adjusted prices) or {adj_close!r} column (an adjusted close "
            "beside the raw one); add one, name it under data.columns, or set data.adjust: "
            "total_return"
        )
    raw_close = pd.to_numeric(table[close], errors="coerce").astype(np.float64)
    paid = (
        pd.to_numeric(table[dividends], errors="coerce").astype(np.float64).fillna(0.0)
        if has_div
        else None
    )
    if paid is not None and (paid < 0.0).any():
        day = paid.index[int(np.argmax((paid < 0.0).to_numpy()))]
        raise DataError(
            f"{where}: dividend on {day.date()} is {paid[day]}; a cash dividend is not "
            "negative (leave 0 for none)"
        )
    if has_adj:
        if paid is None:
            adjusted = pd.to_numeric(table[adj_close], errors="coerce").astype(np.float64)
            paid = dividends_from_factor(raw_close, adjusted)
        return table, paid.rename("dividends")
    assert paid is not None
    raw, factor = unadjusted_prices(raw_close, paid)
    out = table.copy()
    out[close] = raw.to_numpy()
    for name in others:
        if name is not None and name in out.columns:
            out[name] = pd.to_numeric(out[name], errors="coerce").to_numpy(np.float64) / factor
    return out, paid.rename("dividends")


def dividends_on_bars(per_symbol: dict[str, pd.Series], index: pd.DatetimeIndex) -> pd.DataFrame:
    """``[T, N]`` dividends per share on the market's bars: each dividend on the first bar
    on or after its ex-date (an ex-date the market has no bar for moves to the next bar),
    dividends before the first bar or after the last dropped."""
    frame = pd.DataFrame(0.0, index=index, columns=list(per_symbol))
    for symbol, paid in per_symbol.items():
        paid = paid[paid > 0.0]
        paid = paid[(paid.index >= index[0]) & (paid.index <= index[-1])] if len(index) else paid
        bars = index.searchsorted(paid.index, side="left")
        column = frame[symbol].to_numpy(copy=True)
        np.add.at(column, bars, paid.to_numpy(dtype=np.float64))
        frame[symbol] = column
    return frame


def total_return_close(close: pd.DataFrame, dividends: pd.DataFrame) -> pd.DataFrame:
    """Closes with each cash dividend reinvested at the ex-date close, for measuring a
    benchmark on price-only data: ``T_t = T_{t-1} * (C_t + D_t) / C_{t-1}`` from the
    first close on (gaps carry the last close; NaN where `close` is NaN)."""
    carried = close.ffill()
    paid = dividends.reindex(index=close.index, columns=close.columns).fillna(0.0)
    growth = ((carried + paid) / carried.shift(1)).fillna(1.0)
    first = carried.bfill().iloc[0]
    return (growth.cumprod() * first).where(close.notna())
