"""``mailhops sample OUTDIR``: write a generated multi-server Exchange log tree plus truth."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mailhops.sample import STREAMS, SampleOptions, generate
from mailhops.sample.model import LAYOUTS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sample`` subcommand."""
    p = subparsers.add_parser(
        "sample",
        help="generate realistic Exchange transport logs with ground truth",
        description="Write a deterministic log tree of a 3-server Exchange lab (EX19MBX1..3) "
        "plus OUTDIR/truth/*.jsonl. OUTDIR must be empty, absent or a previous sample output.",
    )
    p.add_argument("outdir", metavar="OUTDIR", type=Path)
    p.add_argument("--size-mb", type=float, default=3.0, help="approximate size (default 3)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument(
        "--version",
        choices=("2010", "2013", "2016", "2019"),
        default="2019",
        help="Exchange version whose formats to write (default 2019)",
    )
    p.add_argument(
        "--layout",
        action="append",
        default=[],
        metavar="SERVER=LAYOUT",
        help=f"folder layout of one server: {'|'.join(LAYOUTS)} (repeatable)",
    )
    p.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="STREAM",
        help="do not log a stream, e.g. hub-send or EX19MBX2:hub-send (repeatable); "
        f"streams: {', '.join(STREAMS)}",
    )
    p.add_argument(
        "--zip",
        action="append",
        default=[],
        metavar="SERVER",
        help="write this server's tree as OUTDIR/SERVER.zip (repeatable)",
    )
    p.add_argument(
        "--restart",
        action="append",
        default=[],
        metavar="SERVER",
        help="restart this server's Transport service halfway through (repeatable)",
    )
    p.add_argument(
        "--edge",
        action="append",
        default=[],
        metavar="SERVER",
        help="add an Edge Transport server that receives the Internet mail (2013+, repeatable)",
    )
    p.add_argument(
        "--max-file-mb",
        type=float,
        default=10.0,
        help="roll over to a new -N file at this size (default 10)",
    )
    p.set_defaults(func=run)


def _disabled(item: str) -> str:
    """``[SERVER:]STREAM`` with the server in upper case, as the servers are named."""
    server, sep, stream = item.strip().rpartition(":")
    return f"{server.upper()}{sep}{stream.lower()}"


def _options(args: argparse.Namespace) -> SampleOptions:
    layouts: dict[str, str] = {}
    for item in args.layout:
        server, sep, layout = item.partition("=")
        if not sep:
            raise ValueError(f"--layout expects SERVER=LAYOUT, got {item!r}")
        layouts[server.strip().upper()] = layout.strip().lower()
    options = SampleOptions(
        layouts=layouts,
        version=args.version,
        max_file_bytes=int(args.max_file_mb * 1024 * 1024),
        disabled=frozenset(_disabled(d) for d in args.disable),
        zip_servers=tuple(s.upper() for s in args.zip),
        restart=tuple(s.upper() for s in args.restart),
        edge=tuple(s.upper() for s in args.edge),
    )
    unknown = [s for s in layouts if s not in options.servers]
    if unknown:
        raise ValueError(f"unknown server {unknown[0]!r}; servers: {', '.join(options.servers)}")
    return options


def run(args: argparse.Namespace) -> int:
    """Generate the sample; errors are one line on stderr and exit code 2."""
    try:
        options = _options(args)
        started = time.perf_counter()
        truth = generate(args.outdir, size_mb=args.size_mb, seed=args.seed, options=options)
    except (ValueError, OSError) as exc:
        print(f"mailhops sample: error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    lines = sum(f["lines"] for f in truth.files)
    print(
        f"wrote {len(truth.files)} files, {lines} lines, {len(truth.sessions)} sessions, "
        f"{len(truth.messages)} messages to {args.outdir} in {elapsed:.1f} s"
    )
    return 0
