"""Coverage of a market per symbol: first and last date, rows, gaps, flat and dropped rows.

A gap is a session of the symbol's exchange (from exchange-calendars) between its first
and last price on which it has no price: a suspension or a missing row. Exchanges
without a known calendar fall back to the market's own dates. ``flat`` counts the
symbol's flat zero-volume rows on sessions (priced at their close, no open: a Hong Kong
half day), ``dropped`` its rows on days its exchange was closed (see
`engine.data.files`), ``volume`` its priced rows with a known volume (finite and above
0; ``-`` when the source has no volume).

`series_coverage` counts, for each fx and extra series, the bars it has a value on and
the bars before its first and after its last value (fx is already carried forward, so
only its bars before the first rate show).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data import calendars
from engine.data.market import Market


def coverage(market: Market) -> pd.DataFrame:
    """Return one row per symbol: exchange, first, last, rows, gaps, rows with a known
    volume, flat and dropped rows."""
    flat = pd.Series([s for s, _ in market.flat_rows], dtype=object).value_counts()
    dropped = pd.Series([s for s, _ in market.dropped_rows], dtype=object).value_counts()
    rows = []
    for symbol in market.symbols:
        prices = market.close[symbol].dropna()
        first, last = prices.index[0], prices.index[-1]
        mic = market.exchange.get(symbol, "")
        sessions = calendars.known_sessions(mic, first, last)
        expected = (
            sessions
            if sessions is not None
            else market.index[(market.index >= first) & (market.index <= last)]
        )
        rows.append(
            {
                "symbol": symbol,
                "exchange": mic or "?",
                "currency": market.currency[symbol],
                "lot": market.lot_size[symbol],
                "first": first.date(),
                "last": last.date(),
                "rows": len(prices),
                "gaps": len(expected.difference(prices.index)),
                "volume": (
                    "-"
                    if market.volume is None
                    else _with_volume(market.volume[symbol].loc[prices.index])
                ),
                "flat": int(flat.get(symbol, 0)),
                "dropped": int(dropped.get(symbol, 0)),
            }
        )
    return pd.DataFrame(rows)


def _with_volume(volume: pd.Series) -> int:
    """Rows with a known volume: finite and above 0 (NaN or 0 is unknown)."""
    return int(((volume > 0) & np.isfinite(volume)).sum())


def series_coverage(market: Market) -> pd.DataFrame:
    """Return one row per fx and extra series: bars, bars with a value (``valued``), first and
    last such bar, and the bars before the first and after the last.

    A per-symbol extra counts a bar as having a value when any symbol has one.
    """
    named: list[tuple[str, pd.Series | pd.DataFrame]] = [
        (f"fx {c}", market.fx[c]) for c in market.fx.columns
    ]
    named += [(f"extra {n}", s) for n, s in market.extras.items()]
    rows = []
    for name, series in named:
        has = series.notna() if isinstance(series, pd.Series) else series.notna().any(axis=1)
        dates = market.index[has.to_numpy()]
        rows.append(
            {
                "series": name,
                "bars": len(market.index),
                "valued": len(dates),
                "first": dates[0].date() if len(dates) else "",
                "last": dates[-1].date() if len(dates) else "",
                "before": int((market.index < dates[0]).sum()) if len(dates) else 0,
                "after": int((market.index > dates[-1]).sum()) if len(dates) else 0,
            }
        )
    return pd.DataFrame(rows)
