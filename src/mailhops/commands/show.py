"""``mailhops show SESSION_ID PATH... [--server S] [--json]``: one session's transcript in
sequence order. SESSION_ID may also be a full session key (SERVER|service|direction|ID).
An id found on several servers or streams lists the candidates and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import polars as pl

from mailhops.commands import EXIT_FAIL, EXIT_OK, EXIT_USAGE, add_common, error, table
from mailhops.index import schema
from mailhops.records import iso
from mailhops.safe_text import clean, clean_json

PROG = "mailhops show"
_COLUMNS = ["ts", "seq", "event", "data", "context"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``show`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "show",
        help="print one session's transcript",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("session_id", metavar="SESSION_ID", help="session id or session key")
    add_common(p)
    p.add_argument("--server", help="short server name, when the id exists on several")
    p.add_argument("--json", action="store_true", help="print the lines as JSON objects")
    p.set_defaults(run=run)
    return p


def _candidates(found: pl.DataFrame, as_json: bool) -> None:
    """Several sessions have the id: say so on stderr and list them (with --json, the list
    is also the JSON on stdout, for scripts: {"error", "candidates": [session keys]})."""
    rows = [
        [r["key"], iso(r["start"]) or "", clean(r["connector"]), r["outcome"]]
        for r in found.iter_rows(named=True)
    ]
    message = f"{found.height} sessions match; pass --server or a session key"
    error(PROG, message + ":")
    print(table(["key", "start", "connector", "outcome"], rows, {}), file=sys.stderr)
    if as_json:
        doc = {"error": message, "candidates": found.get_column("key").to_list()}
        print(json.dumps(clean_json(doc), indent=1))


def _header(s: dict[str, Any]) -> str:
    parts = [
        s["key"],
        f"{iso(s['start'])} .. {iso(s['end'])}",
        clean(s["connector"]),
        # The arrow points the way the connection was made: to us on receive, from us on send.
        f"{clean(s['local_ep'])} {'->' if s['direction'] == schema.SEND else '<-'} "
        f"{clean(s['remote_ep'])}",
        f"outcome {s['outcome']}",
    ]
    return "# " + " | ".join(parts)


def run(args: argparse.Namespace) -> int:
    """Print the transcript of one session."""
    from mailhops.commands import open_or_report

    index = open_or_report(args.paths, args.cache, PROG, args.servers)
    if index is None:
        return EXIT_FAIL
    ident = args.session_id.strip()
    if ident.count("|") == 3:  # a session key: as written, else in any case
        found = index.sessions.filter(pl.col("key") == ident)
        if found.height == 0:
            found = index.sessions.filter(pl.col("key").str.to_lowercase() == ident.lower())
    else:
        found = index.find_sessions(ident, args.server)
    if found.height == 0:
        where = f" on {args.server.upper()}" if args.server else ""
        error(PROG, f"no session {ident}{where} in {index.stats.files} files")
        return EXIT_FAIL
    if found.height > 1:
        _candidates(found, args.json)
        return EXIT_USAGE
    session = found.row(0, named=True)
    lines = index.transcript(session["key"]).select(_COLUMNS)
    if args.json:
        out = [{**r, "ts": iso(r["ts"])} for r in lines.to_dicts()]
        print(json.dumps(clean_json({"session": session["key"], "lines": out}), indent=1))
        return EXIT_OK
    print(_header(session))
    for ts, seq, event, data, context in lines.iter_rows():
        text = clean(data)
        if context:
            text = f"{text}  [{clean(context)}]" if text else f"[{clean(context)}]"
        print(f"{iso(ts)} {seq:>4} {event} {text}".rstrip())
    return EXIT_OK
