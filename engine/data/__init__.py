"""Market data: the `Market` container and its sources (synthetic, csv, yahoo).

See DESIGN.md, "Market data". Sources produce per-symbol series; `assemble_market`
aligns and checks them. File and yahoo rows are held against the exchange's sessions
(`session_prices`); `bad_prints` and `series_ends` report suspect data without changing
it.
"""

from engine.data.checks import BadPrint, SeriesEnd, bad_prints, series_ends
from engine.data.files import (
    Columns,
    FileSpec,
    SeriesFile,
    SessionPrices,
    load_files_market,
    read_extras,
    session_prices,
)
from engine.data.market import (
    KNOWN_ASSETS,
    AssetInfo,
    Market,
    assemble_market,
    asset_info,
    market_from_frame,
)
from engine.data.synthetic import synthetic_market
from engine.data.yahoo import YahooCache, load_yahoo_market

__all__ = [
    "KNOWN_ASSETS",
    "AssetInfo",
    "BadPrint",
    "Columns",
    "FileSpec",
    "Market",
    "SeriesEnd",
    "SeriesFile",
    "SessionPrices",
    "YahooCache",
    "assemble_market",
    "asset_info",
    "bad_prints",
    "load_files_market",
    "load_yahoo_market",
    "market_from_frame",
    "read_extras",
    "series_ends",
    "session_prices",
    "synthetic_market",
]
