"""``mailhops trace ID PATH... [--cache DIR] [--servers FILE] [--json|--text]``.

Follow one message through every server: ID is a session id (optionally ``SID#N`` for the
N-th message of a session), a session key, a Message-ID or an InternalId. Exit status: 0 a
chain was printed, 1 nothing matched (or the logs could not be indexed), 3 several messages
matched (they are listed; pick one with ``#N`` or a Message-ID).

--servers FILE names what the logs cannot tell (NAT, load-balancer addresses): one server a
line, ``NAME alias-or-ip ...`` (``#`` comments), e.g. ``EX1 ex1.contoso.com 192.0.2.10``, or
JSON ``{"EX1": ["ex1.contoso.com", "192.0.2.10"]}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mailhops.commands import add_common, open_or_report
from mailhops.safe_text import clean_json

PROG = "mailhops trace"

EXIT_OK = 0
EXIT_NO_MATCH = 1
EXIT_AMBIGUOUS = 3


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``trace`` subcommand to ``subparsers``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "trace",
        help="follow one message hop by hop across servers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("ident", metavar="ID", help="session id, session key, Message-ID or InternalId")
    add_common(p)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="fmt", action="store_const", const="json", help="JSON object")
    fmt.add_argument(
        "--text", dest="fmt", action="store_const", const="text", help="ticket text (default)"
    )
    p.set_defaults(fmt="text", func=run, run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Open (or build) the index, trace ``args.ident`` and print the chain."""
    from mailhops.index.chain import render_text

    index = open_or_report(args.paths, args.cache, PROG, args.servers)
    if index is None:
        return EXIT_NO_MATCH
    result = index.chain(args.ident)
    if args.fmt == "json":
        print(
            json.dumps(clean_json(result.to_json()), indent=2)
        )  # \uXXXX: no raw bidi/C1 on a terminal
        if not result.ok:
            print(f"mailhops trace: {result.error}", file=sys.stderr)
    elif result.ok:
        sys.stdout.write(render_text(result))
    else:
        sys.stderr.write(render_text(result))
    if result.ok:
        return EXIT_OK
    return EXIT_AMBIGUOUS if result.candidates else EXIT_NO_MATCH
