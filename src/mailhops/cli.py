"""The ``mailhops`` command line.

``mailhops [PATH...] [--cache DIR] [--servers FILE]`` opens the app (no PATH: the bundled
``sample_logs/``); ``mailhops index|sessions|show|trace|sample ...`` run headless. Every
error is one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from mailhops.commands import EXIT_FAIL, EXIT_OK, EXIT_USAGE, add_common, error, servers_file_error
from mailhops.commands import index as index_cmd
from mailhops.commands import sample as sample_cmd
from mailhops.commands import sessions as sessions_cmd
from mailhops.commands import show as show_cmd
from mailhops.commands import trace as trace_cmd

COMMANDS = {"index", "sessions", "show", "trace", "sample"}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (usage stays available with -h)."""

    def error(self, message: str) -> NoReturn:
        error(self.prog, f"{message} (see {self.prog} -h)")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> Parser:
    """The parser of the headless subcommands."""
    parser = Parser(
        prog="mailhops",
        description="Terminal explorer for Microsoft Exchange transport logs. "
        "Without a command, `mailhops [PATH...] [--cache DIR]` opens the app "
        "(no PATH: the bundled sample logs).",
    )
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (index_cmd, sessions_cmd, show_cmd, trace_cmd, sample_cmd):
        module.register(subs)
    return parser


def app_parser() -> Parser:
    """The parser of the no-subcommand form."""
    parser = Parser(prog="mailhops", description="Open the mailhops app on PATH... ")
    add_common(parser, paths="*")
    return parser


def sample_logs() -> Path:
    """The bundled sample logs: $MAILHOPS_SAMPLE_LOGS, else sample_logs/ of the checkout."""
    env = os.environ.get("MAILHOPS_SAMPLE_LOGS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "sample_logs"


def _run_app(argv: list[str]) -> int:
    args = app_parser().parse_args(argv)
    paths = args.paths or [str(sample_logs())]
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        error("mailhops", f"no such file or directory: {missing[0]}")
        return EXIT_FAIL
    problem = servers_file_error(args.servers)
    if problem is not None:
        error("mailhops", problem)
        return EXIT_FAIL
    try:
        from mailhops.app.factory import run_app
    except ImportError:
        return _print_summary(paths, args.cache, args.servers)
    return run_app(paths, args.cache, servers_file=args.servers)


def _print_summary(paths: list[str], cache: str | None, servers: str | None) -> int:
    from mailhops.commands import open_or_report

    index = open_or_report(paths, cache, "mailhops", servers, warn_paths=False)
    if index is None:
        return EXIT_FAIL
    print(index_cmd.summary_text(index.summary()))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run mailhops with ``argv`` (default: sys.argv[1:]); return the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    if first not in COMMANDS and not {"-h", "--help"} & set(args_list[:1]):
        try:
            return _run_app(args_list)
        except KeyboardInterrupt:
            return 130
    args = build_parser().parse_args(args_list)
    if args.command is None:
        build_parser().print_help()
        return EXIT_USAGE
    runner = getattr(args, "run", None) or args.func
    try:
        return int(runner(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `mailhops sessions ... | head`: the reader left; not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
