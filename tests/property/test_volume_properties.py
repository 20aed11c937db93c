"""Volume stays aligned with close (hypothesis): through a tidy frame, `select` and the
round trip `to_frame` -> `market_from_frame`, each cell keeps its (date, symbol)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.data import market_from_frame

DAYS = pd.bdate_range("2024-01-01", periods=8)
SYMBOLS = ["AAA", "BBB", "CCC"]


@st.composite
def tidy_frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = []
    for symbol in SYMBOLS:
        days = draw(st.lists(st.sampled_from(list(DAYS)), min_size=1, max_size=8, unique=True))
        for day in days:
            volume = draw(st.one_of(st.none(), st.integers(0, 10**12)))
            rows.append(
                {
                    "date": day,
                    "symbol": symbol,
                    "close": draw(st.floats(1.0, 1000.0)),
                    "volume": np.nan if volume is None else float(volume),
                }
            )
    return pd.DataFrame(rows)


@given(
    tidy_frames(),
    st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=3, unique=True),
    st.sets(st.sampled_from(list(DAYS))),
)
@pytest.mark.filterwarnings("ignore::engine.errors.DataWarning")  # random prices look bad
def test_volume_cells_keep_their_date_and_symbol(tidy, symbols, dates) -> None:
    market = market_from_frame(tidy)
    picked = market.select(symbols, pd.DatetimeIndex(sorted(dates)))
    again = market_from_frame(market.to_frame())

    given_volume = tidy.set_index(["date", "symbol"])["volume"]
    for (day, symbol), volume in picked.volume.stack(future_stack=True).items():
        expected = given_volume.get((day, symbol), np.nan)
        assert volume == expected or (np.isnan(volume) and np.isnan(expected))
    assert picked.volume.index.equals(picked.close.index)
    assert list(picked.volume.columns) == list(picked.close.columns) == symbols
    # the round trip orders symbols by their first row; each keeps its own volume
    pd.testing.assert_frame_equal(again.volume[market.symbols], market.volume)
