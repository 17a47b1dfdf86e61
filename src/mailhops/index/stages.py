"""The build's pluggable stages: the parsing stages (discover/parse/classify/resolve_servers)
and the linking stages (build_messages/build_links), looked up at run time.

The stages are written by other modules of the package; looking them up here (instead of
importing them at the top of build.py) keeps ``import mailhops.index.build`` working while a
stage is missing or broken in a developer's tree, and gives the tests one place to swap in
their own functions.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from mailhops.index import schema

# Columns each file-level table gets from FILES instead of being stored in every part.
_FROM_FILES = {"server", "service", "direction"}


@dataclass
class StageFns:
    """The functions the build calls; tests may replace any of them."""

    discover: Callable[..., Any]
    parse: Callable[..., Any]
    classify: Callable[..., Any]
    resolve_servers: Callable[..., pl.DataFrame] | None
    build_messages: Callable[..., pl.DataFrame] | None
    build_links: Callable[..., pl.DataFrame] | None
    learn_servers: Callable[..., Any] | None


_override: StageFns | None = None


def set_stage_functions(fns: StageFns | None) -> None:
    """Replace the stages (tests only); ``None`` restores the package's own."""
    global _override
    _override = fns


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    try:
        mod = importlib.import_module(f"mailhops.index.{module}")
    except ImportError:
        return None
    fn = getattr(mod, name, None)
    return fn if callable(fn) else None


def stage_functions() -> StageFns:
    """The stages in effect: the override, else the package's modules."""
    if _override is not None:
        return _override
    discover = importlib.import_module("mailhops.index.discover")
    parse = importlib.import_module("mailhops.index.parse")
    classify = importlib.import_module("mailhops.index.classify")
    return StageFns(
        discover=discover.discover,
        parse=parse.parse,
        classify=classify.classify,
        resolve_servers=getattr(classify, "resolve_servers", None),
        build_messages=_optional("segments", "build_messages"),
        build_links=_optional("links", "build_links"),
        learn_servers=_optional("servers", "learn_servers"),
    )


def direction_of(log_type: str) -> str:
    """The session direction of a protocol log type."""
    return schema.SEND if log_type == schema.SMTP_SEND else schema.RECEIVE


def table_of(log_type: str) -> dict[str, pl.DataType]:
    """The full line schema of a log type."""
    if log_type == schema.CONNECTIVITY:
        return schema.CONNECTIVITY_LINES
    if log_type == schema.TRACKING:
        return schema.TRACKING_LINES
    return schema.LINES


def part_columns(log_type: str) -> dict[str, pl.DataType]:
    """The columns a part of ``log_type`` stores (the file-level ones come from FILES)."""
    return {k: v for k, v in table_of(log_type).items() if k not in _FROM_FILES}


def messages(fns: StageFns, lines: pl.LazyFrame) -> pl.DataFrame:
    """MESSAGES of ``lines`` (empty when the segment stage is not available)."""
    if fns.build_messages is None:
        return pl.DataFrame(schema=schema.MESSAGES)
    return fns.build_messages(lines)


def links(
    fns: StageFns,
    tables: dict[str, Any],
    servers_file: str | Path | None,
) -> pl.DataFrame:
    """LINKS of the corpus (empty when the link stage is not available)."""
    if fns.build_links is None:
        return pl.DataFrame(schema=schema.LINKS)
    servers = None
    if fns.learn_servers is not None:
        servers = fns.learn_servers(tables["lines"], tables["tracking"], servers_file)
    return fns.build_links(
        tables["lines"],
        tables["connectivity"],
        tables["tracking"],
        tables["sessions"],
        tables["messages"],
        servers,
    )
