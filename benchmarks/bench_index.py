"""Index speed and memory against same-run baselines (a benchmark, not a test).

    .venv/bin/python benchmarks/bench_index.py [--size-mb 1024] [--seed 1] [--keep DIR]

Generates a corpus with mailhops.sample (kept in .bench/ and reused by later runs), then in
one run measures, each in a fresh child process:

* cold: ``open_index`` into an empty cache (wall time inside the child, peak RSS of the child)
* warm: ``open_index`` again on the unchanged corpus
* grown: ``open_index`` after one session is appended to the newest Front End receive log
  (a live server's current-hour file; the file is restored afterwards), no target
* raw read: ``polars.read_csv`` of every SMTP protocol log file, nothing else
* lnav: ``lnav -n`` on the same protocol files, when lnav is installed

and prints ratios against the targets: cold/raw_read <= 2.0, cold/lnav <= 1.0,
warm/cold <= 0.05, peak_rss/corpus_bytes <= 0.6. It also prints the CPU seconds of cold, raw
read and lnav: the work each does, whatever the number of cores (lnav uses one).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

_CHILD_INDEX = """
import json, resource, sys, time
from mailhops.index.build import open_index
t = time.perf_counter()
index = open_index([sys.argv[1]], cache_dir=sys.argv[2])
elapsed = time.perf_counter() - t
s = index.summary()
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"s": elapsed, "rss": use.ru_maxrss * 1024, "cpu": use.ru_utime + use.ru_stime,
                  "files": s["files"], "lines": s["lines"], "sessions": s["sessions"],
                  "parsed": s["parsed_files"], "links": s["links"], "grown": s["grown_files"],
                  "streams": [s["reused_streams"], s["derived_streams"]],
                  "timings": s["timings"]}))
"""

_CHILD_RAW = """
import json, resource, sys, time
import polars as pl
paths = json.loads(open(sys.argv[1]).read())
names = [f"c{i}" for i in range(9)]
t = time.perf_counter()
rows = 0
for p in paths:
    df = pl.read_csv(p, has_header=False, comment_prefix="#", new_columns=names,
                     infer_schema=False, truncate_ragged_lines=True, encoding="utf8-lossy")
    rows += df.height
elapsed = time.perf_counter() - t
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"s": elapsed, "rows": rows, "rss": use.ru_maxrss * 1024,
                  "cpu": use.ru_utime + use.ru_stime}))
"""


def corpus(size_mb: float, seed: int, keep: Path | None) -> Path:
    """The generated corpus (reused when already there)."""
    out = keep or REPO / ".bench" / f"corpus-{size_mb:g}mb-seed{seed}"
    if not (out / "truth" / "files.jsonl").exists():
        from mailhops.sample import generate

        print(f"generating {size_mb:g} MB corpus in {out} ...", flush=True)
        t = time.perf_counter()
        generate(out, size_mb=size_mb, seed=seed)
        print(f"  generated in {time.perf_counter() - t:.1f} s", flush=True)
    return out


def protocol_files(root: Path) -> list[str]:
    """The SMTP protocol log files of a generated corpus (from its truth)."""
    files = [json.loads(x) for x in (root / "truth" / "files.jsonl").read_text().splitlines()]
    return [str(root / f["path"]) for f in files if f["log_type"] in ("smtp-receive", "smtp-send")]


@contextlib.contextmanager
def grown(paths: list[str]) -> Iterator[None]:
    """Append one short session to the newest Front End receive log, then restore it."""
    receive = [p for p in paths if "smtpreceive" in p.lower()]
    path = Path(max([p for p in receive if "frontend" in p.lower()] or receive))
    data, st = path.read_bytes(), path.stat()
    last = next(csv.reader([data.rstrip(b"\r\n").rsplit(b"\n", 1)[-1].decode()]))
    ts, conn, local, remote = last[0], last[1], last[4], last[5]
    rows = [
        [ts, conn, "08DFFFFFFFFFFFFF", "0", local, remote, "+", "", ""],
        [ts, conn, "08DFFFFFFFFFFFFF", "1", local, remote, ">", "220 bench ready", ""],
        [ts, conn, "08DFFFFFFFFFFFFF", "2", local, remote, "-", "", "Local"],
    ]
    try:
        with open(path, "ab") as fh:
            fh.write("".join(",".join(r) + "\r\n" for r in rows).encode())
        yield
    finally:
        os.truncate(path, len(data))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def child(code: str, *args: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; return its JSON line and its wall time."""
    t = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"child failed: {done.stderr.strip().splitlines()[-1:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t
    return result


def lnav_time(paths: list[str]) -> tuple[float, float] | None:
    """(wall seconds, CPU seconds) of ``lnav -n`` loading ``paths``; None without lnav."""
    lnav = shutil.which("lnav")
    if lnav is None:
        return None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([lnav, "-n", *paths], capture_output=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu


def verdict(name: str, value: float | None, target: float) -> str:
    """One PASS/MISS line."""
    if value is None:
        return f"  {name:<26} {'n/a':>8}   target <= {target:<5} (baseline unavailable)"
    mark = "PASS" if value <= target else "MISS"
    return f"  {name:<26} {value:>8.3f}   target <= {target:<5} {mark}"


def main() -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=1024.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="corpus directory to (re)use")
    args = ap.parse_args()
    root = corpus(args.size_mb, args.seed, args.keep)
    proto = protocol_files(root)
    corpus_bytes = sum(
        p.stat().st_size for p in root.rglob("*") if p.is_file() and p.parent.name != "truth"
    )
    proto_bytes = sum(Path(p).stat().st_size for p in proto)
    with tempfile.TemporaryDirectory(prefix="mailhops-bench-") as tmp:
        cache = str(Path(tmp) / "cache")
        cold = child(_CHILD_INDEX, str(root), cache)
        warm = child(_CHILD_INDEX, str(root), cache)
        with grown(proto):
            regrow = child(_CHILD_INDEX, str(root), cache)
        listing = Path(tmp) / "files.json"
        listing.write_text(json.dumps(proto))
        raw = child(_CHILD_RAW, str(listing))
    lnav = lnav_time(proto)
    mb = 1024 * 1024
    print(f"corpus: {corpus_bytes / mb:.1f} MB in {root} ({proto_bytes / mb:.1f} MB protocol logs)")
    print(
        f"  index: {cold['files']:.0f} files, {cold['lines']:,.0f} lines, "
        f"{cold['sessions']:,.0f} sessions, {cold['links']:,.0f} links"
    )
    print(
        f"cold index   {cold['s']:8.2f} s  (process {cold['process_s']:.2f} s), "
        f"peak RSS {cold['rss'] / mb:.0f} MB"
    )
    phases = cold["timings"].items()
    print("  phases: " + ", ".join(f"{k} {v:.2f}s" for k, v in phases if "peak" not in k))
    print("  peak RSS: " + ", ".join(f"{k[8:]} {v:.0f} MB" for k, v in phases if "peak" in k))
    print(
        f"  cold CPU {cold['cpu']:.1f} s over {cold['s']:.1f} s wall; load average now "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"warm open    {warm['s']:8.3f} s  (parsed files: {warm['parsed']:.0f})")
    reused, derived = regrow["streams"]
    print(
        f"grown open   {regrow['s']:8.3f} s  (grown files: {regrow['grown']:.0f}, log streams "
        f"re-derived {derived} of {reused + derived}; {regrow['s'] / cold['s']:.3f} of cold)"
    )
    print(
        f"raw read_csv {raw['s']:8.2f} s  (CPU {raw['cpu']:.1f} s; {raw['rows']:,.0f} rows, "
        "protocol logs only)"
    )
    if lnav is None:
        print("lnav -n      not installed")
    else:
        print(f"lnav -n      {lnav[0]:8.2f} s  (CPU {lnav[1]:.1f} s)")
    print("ratios:")
    print(verdict("cold / raw_read", cold["s"] / raw["s"], 2.0))
    print(verdict("cold / lnav", None if lnav is None else cold["s"] / lnav[0], 1.0))
    print(verdict("warm / cold", warm["s"] / cold["s"], 0.05))
    print(verdict("peak_rss / corpus_bytes", cold["rss"] / corpus_bytes, 0.6))
    # CPU seconds are the work done whatever the number of cores: lnav indexes on one core,
    # polars spreads over all of them, so cold / lnav in wall time depends on the machine.
    print("work (CPU seconds, no target):")
    print(f"  {'cold CPU / raw_read CPU':<26} {cold['cpu'] / raw['cpu']:>8.3f}")
    if lnav is not None and lnav[1] > 0:
        print(f"  {'cold CPU / lnav CPU':<26} {cold['cpu'] / lnav[1]:>8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
