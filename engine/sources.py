"""Series a run loads from another source than its prices: akshare's southbound series
under ``data.extras`` and a benchmark with its own ``source``.

On synthetic data every series is made up: the southbound series come from synthetic
holdings (`engine.data.synthetic.synthetic_holdings`) through the same derivation as
akshare's (`engine.data.southbound`), and a benchmark's ``source`` is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from engine.config import BenchmarkConfig, DataConfig
from engine.config.series import AkshareSeriesConfig
from engine.data import Columns, Market, assemble_market, asset_info, session_prices
from engine.data.akshare_source import AkshareData, hk_code
from engine.data.southbound import estimated_net_buy, on_bars, southbound_frame
from engine.data.synthetic import synthetic_holdings
from engine.errors import DataError

__all__ = [
    "akshare_extras",
    "benchmark_from",
    "history_pad",
    "separate_benchmark",
    "southbound_specs",
]


def southbound_specs(data: DataConfig) -> dict[str, AkshareSeriesConfig]:
    """The ``data.extras`` entries that come from akshare, by name."""
    return {n: e for n, e in data.extras.items() if isinstance(e, AkshareSeriesConfig)}


def history_pad(specs: Mapping[str, AkshareSeriesConfig]) -> pd.Timedelta:
    """Calendar days of holdings to load before the first bar: enough publication days
    for the longest sum and z-score, the first difference and the lag."""
    days = max(
        (s.window + (s.z_window if s.series == "net_buy_z" else 0) + s.bars_late + 2)
        for s in specs.values()
    )
    return pd.Timedelta(days=int(days * 7 / 5) + 30)  # five sessions a week, and holidays


def _stocks(symbols: list[str]) -> list[str]:
    return [s for s in symbols if asset_info(s).exchange == "XHKG" and s.endswith(".HK")]


def akshare_extras(
    data: DataConfig,
    symbols: list[str],
    bars: pd.DatetimeIndex,
    *,
    cache: Path | None,
    offline: bool,
) -> dict[str, pd.DataFrame | pd.Series]:
    """The akshare series of ``data.extras`` on `bars`: per stock ``[bars, symbols]``
    (NaN for a non-Hong Kong symbol), market-wide ``[bars]``.

    On synthetic data they come from synthetic holdings; otherwise from the akshare
    cache, topped up unless `offline`.

    Raises
    ------
    DataError
        When akshare or its cache cannot provide a series, naming the symbol and the fix.
    """
    specs = southbound_specs(data)
    if not specs:
        return {}
    first = bars[0] - history_pad(specs)
    end = bars[-1]
    stocks = _stocks(symbols)
    synthetic = data.source == "synthetic"
    source = (
        None if synthetic else AkshareData(cache, offline=offline, allow_partial=data.allow_partial)
    )
    holdings: dict[str, pd.DataFrame] = {}
    if any(s.per_stock for s in specs.values()):
        if not stocks:
            raise DataError(
                f"data.extras {next(iter(specs))}: southbound holdings need Hong Kong stocks "
                "(like 0700.HK) among data.symbols"
            )
        for symbol in stocks:
            hk_code(symbol)
        if synthetic:
            holdings = synthetic_holdings(stocks, first, end, data.seed, data.flow_link)
        else:
            assert source is not None
            holdings = source.holdings(stocks, first, end)
    out: dict[str, pd.DataFrame | pd.Series] = {}
    for name, spec in specs.items():
        if spec.per_stock:
            out[name] = southbound_frame(
                holdings,
                bars,
                symbols,
                spec.series,
                window=spec.window,
                z_window=spec.z_window,
                lag=spec.bars_late,
            )
            continue
        if synthetic:
            total = _synthetic_market_flow(data, first, end)
        else:
            assert source is not None
            total = source.market_flow(first, end)["net_buy"]
        out[name] = on_bars(total, bars, spec.bars_late, flow=True).rename(name)
    return out


def _synthetic_market_flow(data: DataConfig, first: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Market-wide net buying on synthetic data: the Hong Kong names' estimated flows."""
    stocks = _stocks(data.symbol_list)
    held = synthetic_holdings(stocks, first, end, data.seed, data.flow_link)
    if not held:
        raise DataError(
            "data.extras: market_net_buy on synthetic data sums the Hong Kong stocks' "
            "flows; list at least one (like 0700.HK) in data.symbols"
        )
    flows = pd.DataFrame({s: estimated_net_buy(h) for s, h in held.items()})
    return flows.sum(axis=1, min_count=1).astype(np.float64)


def benchmark_from(
    source: str,
    symbols: list[str],
    market: Market,
    *,
    cache: Path | None,
    offline: bool,
    allow_partial: bool,
) -> Market:
    """The benchmark's prices from `source` (akshare indices, or yahoo), held against
    their exchange's sessions like any price, on the dates of `market` and its fx.

    Raises
    ------
    DataError
        When the source cannot provide a symbol, or its currency has no fx in `market`.
    """
    start, end = market.index[0], market.index[-1]
    if source == "yahoo":
        from engine.data import YahooCache, load_yahoo_market

        loaded = load_yahoo_market(
            symbols,
            start=start,
            end=end,
            base_currency=market.base_currency,
            cache=YahooCache(cache),
            offline=offline,
            allow_partial=allow_partial,
        )
        return loaded
    data = AkshareData(cache, offline=offline, allow_partial=allow_partial)
    closes, opens, info = {}, {}, {}
    for symbol in symbols:
        info[symbol] = asset_info(symbol)
        frame = data.index(symbol, start, end)
        prices = session_prices(
            frame, Columns(volume=None), f"akshare {symbol}", info[symbol].exchange, symbol
        )
        closes[symbol], opens[symbol] = prices.close, prices.open
    fx = {c: market.fx[c].dropna() for c in market.fx.columns}
    for symbol, meta in info.items():
        if meta.currency != market.base_currency and meta.currency not in fx:
            raise DataError(
                f"benchmark {symbol}: quoted in {meta.currency}, and the run has no "
                f"{meta.currency} fx rate; hold an asset in {meta.currency}, or set "
                f"data.base_currency: {meta.currency}"
            )
    return assemble_market(
        closes,
        {s: o for s, o in opens.items() if o is not None},
        info,
        fx,
        base_currency=market.base_currency,
        source="akshare",
        start=start,
        end=end,
    )


def separate_benchmark(data: DataConfig, bench: BenchmarkConfig | None) -> bool:
    """Whether the benchmark comes from another source than the prices (never on
    synthetic data, which makes up every series)."""
    if bench is None or bench.source is None or data.source == "synthetic":
        return False
    return bench.source != data.source
