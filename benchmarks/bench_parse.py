"""parse() against a raw ``pl.read_csv`` of the same protocol-log bytes, in one run.

Usage: ``python benchmarks/bench_parse.py [--size-mb 80] [--rounds 3] [--dir CORPUS]``

Generates a corpus with ``mailhops.sample`` (or uses ``--dir``), loads every SMTP protocol
log into memory (so disk speed is out of the picture) and times, alternating rounds and
keeping the best of each: the baseline ``pl.read_csv(data, has_header=False,
comment_prefix="#", infer_schema=False)`` (raw read, nothing else) and
``mailhops.index.parse.parse`` (typed frame, validation, problems). Prints the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from mailhops.index.parse import parse
from mailhops.sample import SampleOptions, generate

PROTOCOL = (b"#Log-type: SMTP Receive Protocol Log", b"#Log-type: SMTP Send Protocol Log")


def protocol_logs(top: Path) -> list[tuple[str, bytes]]:
    """(path, bytes) of every SMTP protocol log under ``top``."""
    out = []
    for path in sorted(top.rglob("*")):
        if path.suffix.lower() == ".log" and path.is_file():
            data = path.read_bytes()
            if any(tag in data[:400] for tag in PROTOCOL):
                out.append((str(path), data))
    return out


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of all threads) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=80.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="use this corpus instead")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailhops-bench-") as tmp:
        top = args.dir
        if top is None:
            top = Path(tmp) / "corpus"
            t0 = time.perf_counter()
            generate(top, size_mb=args.size_mb, seed=1, options=SampleOptions())
            print(f"generated {args.size_mb:g} MB corpus in {time.perf_counter() - t0:.1f}s")
        files = protocol_logs(top)
    total = sum(len(d) for _, d in files)
    lines = 0

    def baseline() -> None:
        for _, data in files:
            pl.read_csv(data, has_header=False, comment_prefix="#", infer_schema=False)

    def ours() -> None:
        nonlocal lines
        lines = sum(parse(data, path).frame.height for path, data in files)

    base_t = ours_t = base_c = ours_c = float("inf")
    for _ in range(args.rounds):  # alternate so load changes hit both sides alike
        wall, cpu = timed(baseline)
        base_t, base_c = min(base_t, wall), min(base_c, cpu)
        wall, cpu = timed(ours)
        ours_t, ours_c = min(ours_t, wall), min(ours_c, cpu)
    mb = total / 1e6
    print(f"protocol logs: {len(files)} files, {mb:.1f} MB, {lines} lines")
    print(f"pl.read_csv (baseline): {base_t:.3f}s wall, {base_c:.3f}s cpu ({mb / base_t:.0f} MB/s)")
    print(f"parse():                {ours_t:.3f}s wall, {ours_c:.3f}s cpu ({mb / ours_t:.0f} MB/s)")
    print(f"ratio parse/read_csv:   {ours_t / base_t:.2f}x wall, {ours_c / base_c:.2f}x cpu")
    print("(target <= 1.5x; on a loaded machine the CPU ratio is the steadier figure)")


if __name__ == "__main__":
    main()
