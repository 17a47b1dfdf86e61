"""``mailhops index PATH... [--cache DIR] [--json]``: build or refresh the index, summarise."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mailhops.commands import EXIT_FAIL, EXIT_OK, add_common, open_or_report
from mailhops.safe_text import clean, clean_json

PROG = "mailhops index"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``index`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "index", help="build or refresh the index and print a summary", description=__doc__
    )
    add_common(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)
    return p


def summary_text(summary: dict[str, Any], shown: int = 20) -> str:
    """The human summary of an index (the app's fallback when it cannot start)."""
    s = summary
    servers = ", ".join(s["servers"]) or "none identified"
    copied = s.get("copied_files", 0)
    copies = f" ({copied} given twice, indexed once)" if copied else ""
    lines = [
        f"{s['files']} files{copies}, {s['lines']:,} lines, {s['sessions']:,} sessions, "
        f"{s['bad_lines']:,} bad lines",
        f"servers: {servers}",
        "log types: " + ", ".join(f"{k} {v}" for k, v in sorted(s["log_types"].items())),
        f"{s['elapsed_s']:.2f} s: {s['parsed_files']} parsed, {s['grown_files']} grown, "
        f"{s['reused_files']} reused from {s['cache_dir']}",
    ]
    if s["problems_total"]:
        lines.append(f"problems: {s['problems_total']}")
        for p in s["problems"][:shown]:
            where = f"{p['file']}:{p['line']}" if p["line"] else p["file"]
            lines.append(f"  {p['severity']}: {clean(where)}: {clean(p['reason'])}")
        if s["problems_total"] > shown:
            lines.append(f"  ... {s['problems_total'] - shown} more (--json lists up to 100)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Build or refresh the index of ``args.paths`` and print its summary."""
    index = open_or_report(args.paths, args.cache, PROG, args.servers, warn_paths=False)
    if index is None:
        return EXIT_FAIL
    summary = index.summary()
    if args.json:
        print(json.dumps(clean_json(summary), indent=2))
    else:
        sys.stdout.write(summary_text(summary) + "\n")
    return EXIT_OK
