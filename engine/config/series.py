"""Config models of the series a run reads besides its prices: files (fx, extras),
akshare's southbound series, and per-asset metadata overrides."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from engine.config.base import ConfigModel


class ColumnsConfig(ConfigModel):
    """Column names in per-symbol price files; null for a column the files lack."""

    date: str = "date"
    open: str | None = "open"
    high: str | None = "high"
    low: str | None = "low"
    close: str = "close"
    volume: str | None = "volume"
    dividends: str | None = "dividends"  # adjust: price; cash per share beside adjusted prices
    adj_close: str | None = "adj_close"  # adjust: price; adjusted close beside a raw close


class SeriesFileConfig(ConfigModel):
    """One dated column of one file: an fx rate or an extra series."""

    file: str
    column: str = "close"
    date: str = "date"
    quote: Literal["base_per_unit", "units_per_base"] = Field(
        default="base_per_unit",
        description="fx only: units_per_base for quotes like HKD=X (HKD per USD)",
    )
    per_symbol: bool = Field(
        default=False,
        description="extras only: the file has one column per symbol (e.g. per-stock flows)",
    )
    where: dict[str, str | int | float] | None = Field(
        default=None,
        description="keep only the rows whose columns equal these values, for a long file "
        "with several rows per date (e.g. {mutual_type: 6}); `column` is then the value",
    )


class AssetMetadataConfig(ConfigModel):
    """Overrides of an asset's built-in metadata."""

    currency: str | None = None
    exchange: str | None = None
    lot_size: Annotated[float, Field(ge=0.0)] | None = None


AKSHARE_SERIES = (
    "holding_shares",
    "holding_value",
    "holding_ratio",
    "net_buy",
    "net_buy_sum",
    "net_buy_z",
    "market_net_buy",
)


class AkshareSeriesConfig(ConfigModel):
    """A southbound series from the akshare source (``pip install eastwind[cn]``).

    Per stock, from Stock Connect holdings: ``holding_shares``, ``holding_value``,
    ``holding_ratio`` (share of issued shares), ``net_buy`` (HKD millions, estimated from
    the change in holdings times the close), ``net_buy_sum`` (over `window` days),
    ``net_buy_z`` (that sum's z-score over `z_window` days); market-wide:
    ``market_net_buy``. On synthetic data the same series come from synthetic holdings.
    """

    source: Literal["akshare"]
    series: Literal[AKSHARE_SERIES]  # type: ignore[valid-type]
    window: Annotated[int, Field(ge=1, le=2520)] = 20
    z_window: Annotated[int, Field(ge=2, le=2520)] = 250
    lag: Annotated[int, Field(ge=0, le=20)] | None = Field(
        default=None,
        description="bars after its date a value is first used: holdings are published the "
        "next morning (default and minimum 1); market_net_buy the same evening (default 0)",
    )

    @model_validator(mode="after")
    def _lag(self) -> AkshareSeriesConfig:
        if self.series != "market_net_buy" and self.lag == 0:
            raise ValueError(
                "holdings dated d are published the morning after d: lag must be at least 1"
            )
        return self

    @property
    def bars_late(self) -> int:
        """The publication lag in bars (`lag`, or the series' default)."""
        if self.lag is not None:
            return self.lag
        return 0 if self.series == "market_net_buy" else 1

    @property
    def per_stock(self) -> bool:
        """True for a per-stock series, False for the market-wide one."""
        return self.series != "market_net_buy"
