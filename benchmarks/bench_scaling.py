"""How time and memory grow: W1 over universe size and history length, W3 over sets.

Each point runs in a fresh process (so its peak memory is its own): W1 at N = 50, 500
and 2000 assets over T = 2520 bars, and N = 500 over 10,080 bars, eastwind against
vectorbt; W3 at 1,000 and 10,000 parameter sets (``--w3-full`` adds the 100,000-set
run, one to two minutes). Prints one table row per point. Run:
``python benchmarks/bench_scaling.py`` (``--repeat`` for W1's best-of count).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(args: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=HERE, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr[-2000:]}")
    return done.stdout


def _w1(assets: int, bars: int, repeat: int) -> str:
    out = _run(
        ["bench_w1.py", "--assets", str(assets), "--bars", str(bars), "--repeat", str(repeat)]
    )
    ours = re.search(r"eastwind\s+best of \d+:\s+([\d.]+) ms", out)
    theirs = re.search(r"vectorbt\s+best of \d+:\s+([\d.]+) ms", out)
    ratio = re.search(r"ratio vectorbt / eastwind: ([\d.]+)x", out)
    rss = re.search(r"peak RSS ([\d,]+) MB", out)
    assert ours and theirs and ratio, out
    peak = rss.group(1) if rss else "?"
    return (
        f"| W1 N={assets:,} T={bars:,} | {ours.group(1)} ms | {theirs.group(1)} ms | "
        f"{ratio.group(1)}x | {peak} MB |"
    )


def _w3(fast_count: int) -> str:
    out = _run(["bench_w3.py", "--fast-count", str(fast_count)])
    sets = re.search(r"W3: ([\d,]+) parameter sets", out)
    wall = re.search(r"wall time ([\d.]+) s", out)
    rate = re.search(r"throughput ([\d,]+) portfolio-bars/s", out)
    rss = re.search(r"peak RSS ([\d,]+) MB", out)
    assert sets and wall and rate and rss, out
    return (
        f"| W3 {sets.group(1)} sets | {wall.group(1)} s | — | "
        f"{int(rate.group(1).replace(',', '')) / 1e6:.1f} M portfolio-bars/s | "
        f"{rss.group(1)} MB |"
    )


def main(argv: list[str] | None = None) -> int:
    """Print the scaling table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--w3-full", action="store_true", help="add the 100,000-set W3 run")
    args = parser.parse_args(argv)
    print("| point | eastwind | vectorbt | ratio or throughput | peak RSS |")
    print("|---|---|---|---|---|")
    for assets, bars in ((50, 2520), (500, 2520), (2000, 2520), (500, 10080)):
        print(_w1(assets, bars, args.repeat), flush=True)
    for fast_count in (1, 10, *((100,) if args.w3_full else ())):
        print(_w3(fast_count), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
