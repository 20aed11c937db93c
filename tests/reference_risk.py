"""Plain-Python rules of issue 22 for the oracle in `tests/reference.py`: trailing
liquidity, the square-root impact coefficient, the limits on target weights, the drawdown
rule and the average entry price of a position.

Each rule is one small function over Python lists, written from the spec's words, not
from the kernel. Where the spec leaves a choice open, the reading taken is stated in the
function's docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_PASSES = 4
# A limit counts as broken only past this much weight: a book scaled exactly onto a
# limit can land an ulp over it, and a cut then would be float noise, not a cut.
SLACK = 1e-12


def trailing_liquidity_reference(
    close: np.ndarray, volume: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sigma and ADV at each bar from the `window` bars before it (the bar itself excluded).

    Sigma: sample standard deviation (ddof 1) of the simple returns of bars ``s`` in
    ``[t - window, t - 1]``, each from the last known close before bar s to bar s's close
    (a bar without a close has no return; the return after a gap spans the gap). ADV:
    mean of the volumes of the same bars, leaving out 0 and NaN. Each needs at least
    ``max(2, window // 2)`` observations, else NaN.
    """
    n_bars, n_assets = close.shape
    need = max(2, window // 2)
    sigma = np.full((n_bars, n_assets), np.nan)
    adv = np.full((n_bars, n_assets), np.nan)
    for j in range(n_assets):
        bar_return = [math.nan] * n_bars
        previous = math.nan
        for s in range(n_bars):
            if not math.isnan(close[s][j]):
                bar_return[s] = close[s][j] / previous - 1.0  # NaN before the first close
                previous = close[s][j]
        for t in range(n_bars):
            returns, volumes = [], []
            for s in range(max(0, t - window), t):
                v = volume[s][j]
                if not math.isnan(v) and v > 0:
                    volumes.append(float(v))
                if not math.isnan(bar_return[s]):
                    returns.append(bar_return[s])
            if len(returns) >= need:
                mean = sum(returns) / len(returns)
                var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
                sigma[t][j] = math.sqrt(var)
            if len(volumes) >= need:
                adv[t][j] = sum(volumes) / len(volumes)
    return sigma, adv


def impact_coefficient(k: float, sigma: float, adv: float) -> float:
    """The c of ``fraction = c * sqrt(|units|)``: k * sigma / sqrt(ADV); 0 when unknown."""
    if k == 0 or math.isnan(sigma) or math.isnan(adv) or adv <= 0:
        return 0.0
    return k * sigma / math.sqrt(adv)


@dataclass
class Group:
    """A group limit over asset positions `members`."""

    members: list[int]
    gross: float = math.inf
    net: tuple[float, float] = (-math.inf, math.inf)


@dataclass
class Cuts:
    name: float = 0.0
    group: float = 0.0
    net: float = 0.0
    drawdown: float = 0.0


def _held(w: list[float], j: int) -> float:
    return 0.0 if math.isnan(w[j]) else w[j]


def _scale(w: list[float], members, factor: float, which: str = "all") -> float:
    """Multiply the members on one side (`which`: all, long, short) by `factor`; return
    the sum of the absolute changes."""
    moved = 0.0
    for j in members:
        x = _held(w, j)
        if x == 0 or (which == "long" and x < 0) or (which == "short" and x > 0):
            continue
        new = x * factor
        moved += abs(new - x)
        w[j] = new
    return moved


def _gross(w, members) -> float:
    return sum(abs(_held(w, j)) for j in members)


def _sides(w, members) -> tuple[float, float]:
    longs = sum(_held(w, j) for j in members if _held(w, j) > 0)
    shorts = sum(_held(w, j) for j in members if _held(w, j) < 0)
    return longs, shorts


def _band(w, members, lo: float, hi: float) -> float:
    """The dominant-side rule: a net above `hi` shrinks the longs, below `lo` the shorts."""
    longs, shorts = _sides(w, members)
    if longs + shorts > hi + SLACK:
        return _scale(w, members, (hi - shorts) / longs, "long")
    if longs + shorts < lo - SLACK:
        return _scale(w, members, (lo - longs) / shorts, "short")
    return 0.0


def _largest_factor(w, groups: list[Group], everyone, net_band) -> float:
    """The largest f in [0, 1] with every group gross and every net band met by f * w."""
    factor = 1.0
    bands = [(g.members, g.gross, g.net) for g in groups]
    bands.append((everyone, math.inf, net_band or (-math.inf, math.inf)))
    for members, gross_cap, (lo, hi) in bands:
        gross = _gross(w, members)
        if gross > gross_cap + SLACK:
            factor = min(factor, gross_cap / gross)
        net = sum(_held(w, j) for j in members)
        if net > hi + SLACK:
            factor = min(factor, hi / net)
        if net < lo - SLACK:
            factor = min(factor, lo / net)
    return max(factor, 0.0)


def limit_weights(
    want: list[float],
    stopped: list[bool],
    max_weight: list[float],
    groups: list[Group],
    net_band: tuple[float, float] | None,
    cutting: bool,
    fraction: float,
) -> tuple[list[float], Cuts]:
    """Apply the limits to the latest weights the strategy asked for.

    NaN (never asked) counts as 0 in every sum and stays NaN; a stopped asset counts as 0.
    Order: name caps; then passes of (each group: gross, then net; then the portfolio's
    net band) until a pass changes nothing, at most four; if a limit is still broken, one
    common factor for every weight (counted as a net cut); last, the drawdown fraction.
    Cuts are sums of absolute weight changes. Reading taken: a limit is broken only when
    exceeded by more than `SLACK` (1e-12 of the book); with exact comparisons a net band
    ending at 0, met by one scaling to within an ulp, would be "still broken" after four
    passes and the common factor ``hi / net = 0 / 1e-17`` would flatten the whole book.
    """
    n = len(want)
    w = [0.0 if stopped[j] else float(want[j]) for j in range(n)]
    cuts = Cuts()
    everyone = list(range(n))
    for j in everyone:
        if not math.isnan(w[j]):
            capped = min(max(w[j], -max_weight[j]), max_weight[j])
            cuts.name += abs(capped - w[j])
            w[j] = capped

    def broken() -> bool:
        for g in groups:
            net = sum(_held(w, j) for j in g.members)
            if _gross(w, g.members) > g.gross + SLACK:
                return True
            if net > g.net[1] + SLACK or net < g.net[0] - SLACK:
                return True
        if net_band is not None:
            net = sum(_held(w, j) for j in everyone)
            return net > net_band[1] + SLACK or net < net_band[0] - SLACK
        return False

    for _ in range(MAX_PASSES):
        before = list(w)
        for g in groups:
            gross = _gross(w, g.members)
            if gross > g.gross + SLACK:
                cuts.group += _scale(w, g.members, g.gross / gross)
            cuts.group += _band(w, g.members, *g.net)
        if net_band is not None:
            cuts.net += _band(w, everyone, *net_band)
        if all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(w, before, strict=True)):
            break
    if broken():
        cuts.net += _scale(w, everyone, _largest_factor(w, groups, everyone, net_band))
    if cutting:
        cuts.drawdown += _scale(w, everyone, fraction)
    return w, cuts


class DrawdownRule:
    """The drawdown rule's state: cut once the value falls `trigger` below its peak,
    restore once it rises `recovery` above the trough reached while cutting."""

    def __init__(self, trigger: float, fraction: float, recovery: float, start: float):
        self.trigger, self.fraction, self.recovery = trigger, fraction, recovery
        self.cutting = False
        self.peak = start
        self.trough = math.nan

    def update(self, value: float) -> bool:
        """Observe a bar's closing value; return whether the state changed."""
        if not self.cutting:
            self.peak = max(self.peak, value)
            if value <= self.peak * (1 - self.trigger):
                self.cutting, self.trough = True, value
                return True
            return False
        self.trough = min(self.trough, value)
        if value >= self.trough * (1 + self.recovery):
            self.cutting, self.peak = False, value
            return True
        return False


def entry_after_fill(entry: float, held: float, size: float, price: float) -> float:
    """Average entry price after a fill of `size` at `price` on a position of `held`.

    Opening or flipping takes the fill price; growing averages by quantity; shrinking
    keeps the entry; flat is NaN.
    """
    after = held + size
    if after == 0:
        return math.nan
    if held == 0 or (after > 0) != (held > 0):
        return price
    if abs(after) > abs(held):
        return (abs(held) * entry + abs(size) * price) / abs(after)
    return entry


def stop_hit(entry: float, held: float, close: float, stop_loss: float, take_profit: float) -> str:
    """'stop_loss', 'take_profit' or '' for a position of `held` entered at `entry`."""
    if held > 0:
        if close <= entry * (1 - stop_loss):
            return "stop_loss"
        if close >= entry * (1 + take_profit):
            return "take_profit"
    elif held < 0:
        if close >= entry * (1 + stop_loss):
            return "stop_loss"
        if close <= entry * (1 - take_profit):
            return "take_profit"
    return ""
