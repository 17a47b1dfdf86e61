"""Headless subcommands: one module a command, each with ``register(subparsers)`` and
``run(args) -> int``. This module holds what they share: opening the index with one-line
errors, UTC time arguments and output helpers.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailhops.index.model import LogIndex

EXIT_OK = 0
EXIT_FAIL = 1  # nothing found, no logs, unreadable input
EXIT_USAGE = 2  # bad arguments; an ambiguous session id


def error(prog: str, message: str) -> None:
    """Print one clear error line on stderr."""
    print(f"{prog}: error: {message}", file=sys.stderr)


SERVERS_HELP = (
    "server names, FQDNs and IPs the logs cannot tell (NAT, load balancers): one server a "
    "line, NAME alias-or-ip ... (or JSON); the same file must be given to every command "
    "sharing the cache, else the links are rebuilt"
)


def add_common(parser: argparse.ArgumentParser, *, paths: str = "+") -> None:
    """The PATH..., --cache and --servers arguments every index-reading command takes."""
    parser.add_argument("paths", metavar="PATH", nargs=paths, help="log folders, files or .zip")
    parser.add_argument("--cache", metavar="DIR", default=None, help="index cache directory")
    parser.add_argument("--servers", metavar="FILE", default=None, help=SERVERS_HELP)


def servers_file_error(servers: str | None) -> str | None:
    """Why the ``--servers`` file cannot be used (read before a long build), or None."""
    if servers is None:
        return None
    from mailhops.index.servers import ServersFileError, read_servers_file

    try:
        read_servers_file(servers)
    except (OSError, ServersFileError) as exc:
        return str(exc)
    return None


def open_or_report(
    paths: list[str],
    cache: str | None,
    prog: str,
    servers: str | None = None,
    *,
    warn_paths: bool = True,
) -> LogIndex | None:
    """Open (build or reuse) the index; on failure print one line and return None.

    Files none of which is an Exchange log are a failure too (nothing to show). With
    ``warn_paths``, a given path that could not be read (a typo beside good ones) is one
    warning line on stderr: the output then covers the other paths only."""
    import polars as pl

    from mailhops.index import schema
    from mailhops.index.build import open_index
    from mailhops.index.cache import CacheError
    from mailhops.index.servers import ServersFileError
    from mailhops.safe_text import clean

    problem = servers_file_error(servers)
    if problem is not None:
        error(prog, problem)
        return None
    try:
        index = open_index(paths, cache_dir=cache, servers_file=servers)
    except (OSError, CacheError, ServersFileError) as exc:
        error(prog, str(exc))
        return None
    if not set(index.stats.log_types) - {"unknown"}:
        where = ", ".join(clean(str(p)) for p in paths)
        files = f"{index.stats.files} file{'s' if index.stats.files != 1 else ''}"
        error(prog, f"no Exchange log in {where} ({files}, none with a #Log-type header)")
        return None
    if warn_paths:  # paths and files that could not be read at all
        found = pl.int_range(pl.len()) < index.stats.discover_problems  # discovery's first
        unread = index.problems.filter(
            (pl.col("severity") == schema.ERROR)
            & (found | pl.col("reason").str.starts_with("unreadable"))
        )
        for path, _line, _severity, reason in unread.iter_rows():
            print(f"{prog}: warning: {clean(path)}: {clean(reason)}", file=sys.stderr)
    return index


def parse_time(text: str, *, end_of_day: bool = False) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime (naive input is UTC).

    A bare date given as an upper bound means the whole day (``end_of_day``)."""
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw.replace(" ", "T", 1) if len(raw) > 10 else raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r} (use ISO 8601 UTC, e.g. 2026-03-02 or 2026-03-02T10:15:00Z)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if end_of_day and len(raw) == 10:
        value += timedelta(days=1) - timedelta(milliseconds=1)
    return value.astimezone(UTC)


def since_arg(text: str) -> datetime:
    """argparse type of --since."""
    return parse_time(text)


def count_arg(text: str) -> int:
    """argparse type of a count (--limit): a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def until_arg(text: str) -> datetime:
    """argparse type of --until (a bare date includes the whole day)."""
    return parse_time(text, end_of_day=True)


def table(headers: list[str], rows: list[list[str]], widths: dict[str, int]) -> str:
    """An aligned plain-text table; columns in ``widths`` are cut to that width."""
    cut = [
        [
            c if len(c) <= widths.get(h, 10**6) else c[: widths[h] - 1] + "…"
            for h, c in zip(headers, row, strict=True)
        ]
        for row in rows
    ]
    size = [max([len(h)] + [len(r[i]) for r in cut]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(size[i]) for i, h in enumerate(headers)).rstrip()]
    lines += ["  ".join(c.ljust(size[i]) for i, c in enumerate(r)).rstrip() for r in cut]
    return "\n".join(lines)
