"""``mailhops sessions PATH... [--server S] [--connector C] [--since T] [--until T]
[--search TEXT] [--outcome O] [--hide-noise] [--limit N] [--json|--csv]``.

One session a row (text table), object (JSON array) or record (CSV). Times are ISO 8601 UTC;
--since/--until select sessions overlapping that window (a bare --until date includes the day).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import polars as pl

from mailhops.commands import (
    EXIT_FAIL,
    EXIT_OK,
    add_common,
    count_arg,
    open_or_report,
    since_arg,
    table,
    until_arg,
)
from mailhops.index import schema
from mailhops.records import records, write_csv
from mailhops.safe_text import clean

PROG = "mailhops sessions"

_SEARCHED = [
    "session_id",
    "connector",
    "local_ep",
    "remote_ep",
    "ehlo",
    "mail_from",
    "last_reply",
    "detail",
    "auth",
]
_SEARCHED_LISTS = ["rcpt_to", "message_ids", "internal_ids"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sessions`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sessions",
        help="list sessions (table, JSON or CSV)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common(p)
    p.add_argument("--server", help="short server name (case-insensitive)")
    p.add_argument("--connector", help="connector name or part of it (case-insensitive)")
    p.add_argument("--since", type=since_arg, metavar="T", help="ISO 8601 UTC lower bound")
    p.add_argument("--until", type=until_arg, metavar="T", help="ISO 8601 UTC upper bound")
    p.add_argument("--search", metavar="TEXT", help="text in ids, endpoints, EHLO, addresses")
    p.add_argument("--outcome", choices=schema.OUTCOMES, help="only sessions with this outcome")
    p.add_argument("--failed", action="store_true", help="only failed sessions")
    p.add_argument("--hide-noise", action="store_true", help="drop probes and connect-quit")
    p.add_argument("--limit", type=count_arg, metavar="N", help="at most N sessions")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="fmt", action="store_const", const="json")
    fmt.add_argument("--csv", dest="fmt", action="store_const", const="csv")
    p.set_defaults(fmt="text", run=run)
    return p


def select(sessions: pl.DataFrame, args: argparse.Namespace) -> pl.DataFrame:
    """The sessions that pass every filter of ``args``."""
    cond = pl.lit(True)
    if args.server:
        cond &= pl.col("server") == args.server.strip().upper()
    if args.connector:
        cond &= (
            pl.col("connector")
            .str.to_lowercase()
            .str.contains(args.connector.lower(), literal=True)
        )
    if args.since:
        cond &= pl.col("end") >= args.since
    if args.until:
        cond &= pl.col("start") <= args.until
    if args.outcome:
        cond &= pl.col("outcome") == args.outcome
    if args.failed:
        cond &= pl.col("outcome").is_in(schema.FAILED_OUTCOMES)
    if args.hide_noise:
        cond &= ~pl.col("noise")
    if args.search:
        needle = args.search.lower()
        hit = pl.lit(False)
        for col in _SEARCHED:
            hit |= pl.col(col).fill_null("").str.to_lowercase().str.contains(needle, literal=True)
        for col in _SEARCHED_LISTS:
            joined = pl.col(col).list.join("\n").fill_null("").str.to_lowercase()
            hit |= joined.str.contains(needle, literal=True)
        cond &= hit
    return sessions.filter(cond).sort(["start", "key"])


def _text(rows: list[dict[str, Any]]) -> str:
    headers = [
        "start",
        "server",
        "service",
        "dir",
        "session_id",
        "remote",
        "ehlo",
        "mail_from",
        "rcpt_to",
        "message_id",
        "outcome",
    ]
    widths = {"ehlo": 28, "mail_from": 32, "rcpt_to": 36, "message_id": 40, "remote": 24}
    body = []
    for r in rows:
        rcpt = r["rcpt_to"] or []
        more = f" +{len(rcpt) - 1}" if len(rcpt) > 1 else ""
        cells = [
            (r["start"] or "")[:19].replace("T", " "),
            r["server"],
            r["service"],
            r["direction"],
            r["session_id"],
            r["remote_endpoint"] or "",
            r["ehlo"] or "",
            "<>" if r["mail_from"] == "" else (r["mail_from"] or ""),
            (rcpt[0] if rcpt else "") + more,
            (r["message_ids"] or [""])[0],
            r["outcome"],
        ]
        body.append([clean(str(c)) for c in cells])
    return table(headers, body, widths)


def run(args: argparse.Namespace) -> int:
    """Print the sessions of ``args.paths`` that pass the filters."""
    index = open_or_report(args.paths, args.cache, PROG, args.servers)
    if index is None:
        return EXIT_FAIL
    matched = select(index.sessions, args)
    found = matched.head(args.limit) if args.limit is not None else matched
    if args.server:
        servers = index.sessions.get_column("server").unique().sort().to_list()
        if args.server.strip().upper() not in servers:
            known = ", ".join(s for s in servers if s) or "none"
            warning = f"{PROG}: warning: no server {clean(args.server)} (servers: {known})"
            print(warning, file=sys.stderr)
    if args.fmt == "json":
        print(json.dumps(records(found), indent=1))
        return EXIT_OK
    if args.fmt == "csv":
        write_csv(found, sys.stdout)
        return EXIT_OK
    rows = records(found)
    print(_text(rows))
    shown = f"{len(rows)} of {matched.height} matching" if len(rows) < matched.height else ""
    total = f"{index.sessions.height} sessions"
    print(f"{shown} ({total})" if shown else f"{len(rows)} of {total}", file=sys.stderr)
    return EXIT_OK
