"""Which server and transport service wrote each file, and how sure we are.

Evidence, strongest first: the receive connector id (``SERVER\\Connector``), the tracking log's
own host name, the folder layout (path hint), the server's own EHLO on internal send
connectors; then, for the whole corpus, other files of the same server folder and the local
IP addresses of receive sessions. ``server_source`` always says which one decided, and
``server`` stays "" with source "unknown" when nothing tells: never a silent guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import polars as pl

from mailhops.index import schema
from mailhops.index.discover import Source
from mailhops.index.parse import Parsed

DEFINITIVE = ("connector", "tracking")

# Receive connector names (without the "SERVER\" prefix) of Exchange's default connectors.
_RECEIVE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^default mailbox delivery ", re.I), schema.MAILBOX_DELIVERY),
    (re.compile(r"^(default|client|outbound proxy) frontend ", re.I), schema.FRONTEND),
    (re.compile(r"^default internal receive connector ", re.I), schema.EDGE),
    (re.compile(r"^(default|client proxy) ", re.I), schema.HUB),
)
_SEND_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^inbound proxy (internal|external) send connector$", re.I), schema.FRONTEND),
    (re.compile(r"^client proxy send connector$", re.I), schema.FRONTEND),
    # The Hub reaches the FE outbound proxy (717) through the "Internal" one; the FE then
    # sends to the Internet through the "External" one.
    (re.compile(r"^outbound proxy internal send connector$", re.I), schema.HUB),
    (re.compile(r"^outbound proxy external send connector$", re.I), schema.FRONTEND),
    (re.compile(r"^mailbox proxy send connector$", re.I), schema.MAILBOX_SUBMISSION),
)
# Implicit connectors EHLO with the server's own FQDN (explicit ones may use any name).
_INTERNAL_SEND = (
    r"(?i)^(intra-organization smtp|(inbound|outbound|client|mailbox) proxy( internal)?)"
    r" send connector$"
)
_TRACKING_PREFIXES = (
    ("MSGTRKMD", schema.MAILBOX_DELIVERY),
    ("MSGTRKMS", schema.MAILBOX_SUBMISSION),
    ("MSGTRKMA", schema.HUB),
    ("MSGTRK", schema.HUB),
)
# Tracking events whose server-hostname is the next hop, not the logging server.
_REMOTE_EVENTS = ("SEND", "SENDEXTERNAL", "FAIL", "DEFER", "TRANSFER")


@dataclass(frozen=True, slots=True)
class Classification:
    """Server, how it was learned, service and session direction of one file."""

    server: str
    server_source: str  # connector|banner|tracking|path|ip|unknown
    service: str  # schema.SERVICES value
    direction: str  # receive|send for protocol logs, "" otherwise


def _short(host: str) -> str:
    name = host.strip().split(".")[0].upper()
    return name if re.fullmatch(r"[A-Z0-9][A-Z0-9_-]{0,62}", name) else ""


def _counts(frame: pl.DataFrame, *columns: str) -> list[tuple[Any, ...]]:
    """(value..., count) of the distinct values of ``columns``: the per-file facts below are
    read from these few rows (a file has a handful of connectors), not from every line."""
    if frame.height == 0 or any(c not in frame.columns for c in columns):
        return []
    if len(columns) == 1:  # value_counts is ~3x cheaper than a one-key group_by here
        return frame.get_column(columns[0]).value_counts().rows()
    return frame.group_by(columns).len().rows()


def _mode(votes: dict[str, int]) -> str:
    """The most voted non-empty value, the smallest on a tie ("" when none)."""
    best = [(-n, v) for v, n in votes.items() if v]
    return min(best)[1] if best else ""


def _prefix_mode(counts: list[tuple[Any, ...]]) -> str:
    """The most frequent ``SERVER`` of the ``SERVER\\Name`` values in ``counts``."""
    votes: dict[str, int] = {}
    for value, n in counts:
        if value is not None and "\\" in value:
            prefix = value.split("\\", 1)[0]
            votes[prefix] = votes.get(prefix, 0) + n
    return _mode(votes)


def _local_host(frame: pl.DataFrame) -> str:
    """The tracking log's own host: server-hostname of the events it logs locally."""
    votes: dict[str, int] = {}
    for event, host, n in _counts(frame, "event_id", "server_hostname"):
        if event is not None and event not in _REMOTE_EVENTS and host is not None:
            votes[host] = votes.get(host, 0) + n
    return _mode(votes)


def _server(source: Source, parsed: Parsed, connectors: list[tuple[Any, ...]]) -> tuple[str, str]:
    frame = parsed.frame
    if parsed.log_type in (schema.SMTP_RECEIVE, schema.TRACKING):
        server = _short(_prefix_mode(connectors))
        if server:
            return server, "connector" if parsed.log_type == schema.SMTP_RECEIVE else "tracking"
    if parsed.log_type == schema.TRACKING:
        server = _short(_local_host(frame))
        if server:
            return server, "tracking"
    if source.server_hint:
        return source.server_hint, "path"
    if parsed.log_type == schema.SMTP_SEND:
        ehlo = frame.filter(
            (pl.col("event") == ">")
            & pl.col("connector").str.contains(_INTERNAL_SEND)
            & pl.col("data").str.starts_with("EHLO ")
        )
        votes = dict(_counts(ehlo.select(pl.col("data").str.slice(5)), "data"))
        server = _short(_mode(votes))
        if server:
            return server, "banner"
    return "", "unknown"


def _by_rules(
    counts: list[tuple[Any, ...]], rules: tuple[tuple[re.Pattern[str], str], ...], *, last: bool
) -> str:
    """The service most lines vote for through their connector name ("" when none matches);
    with ``last`` the name is the part after the ``SERVER\\`` prefix.

    Python loops over the distinct connector names of the file, not over lines.
    """
    votes: dict[str, int] = {}
    for connector, count in counts:
        name = connector.rsplit("\\", 1)[-1] if last and connector else connector
        for pattern, service in rules:
            if name and pattern.search(name):
                votes[service] = votes.get(service, 0) + count
                break
    return max(sorted(votes), key=lambda s: votes[s]) if votes else ""


def _service(source: Source, parsed: Parsed, connectors: list[tuple[Any, ...]]) -> str:
    frame = parsed.frame
    if parsed.log_type == schema.SMTP_RECEIVE:
        found = _by_rules(connectors, _RECEIVE_RULES, last=True)
        return found or source.service_hint or schema.UNKNOWN
    if parsed.log_type == schema.SMTP_SEND:
        found = _by_rules(connectors, _SEND_RULES, last=False)
        return found or source.service_hint or schema.HUB
    if parsed.log_type == schema.TRACKING:
        name = PurePosixPath(source.path.replace("\\", "/")).name.upper()
        for prefix, service in _TRACKING_PREFIXES:
            if name.startswith(prefix):
                return schema.EDGE if source.service_hint == schema.EDGE else service
        return source.service_hint or schema.HUB
    if parsed.log_type == schema.CONNECTIVITY:
        if source.service_hint:
            return source.service_hint
        sources = set(frame.get_column("source").unique().to_list()) if frame.height else set()
        if "MapiDelivery" in sources:
            return schema.MAILBOX_DELIVERY
        if "MapiSubmission" in sources:
            return schema.MAILBOX_SUBMISSION
        if parsed.version.startswith("14."):
            return schema.HUB  # Exchange 2010: one transport service, no role folders
    return source.service_hint or schema.UNKNOWN


def classify(source: Source, parsed: Parsed) -> Classification:
    """Classify one parsed file: server (and how it was learned), service and direction."""
    column = "connector_id" if parsed.log_type == schema.TRACKING else "connector"
    connectors = _counts(parsed.frame, column) if parsed.log_type != schema.CONNECTIVITY else []
    server, how = _server(source, parsed, connectors)
    direction = {schema.SMTP_RECEIVE: schema.RECEIVE, schema.SMTP_SEND: schema.SEND}.get(
        parsed.log_type, ""
    )
    return Classification(server, how, _service(source, parsed, connectors), direction)


def resolve_servers(files: pl.DataFrame, lines: pl.LazyFrame) -> pl.DataFrame:
    """Fill ``files.server`` where it is "" or only a path guess.

    First from files of the same ``root`` folder whose server is definitive (receive
    connector id, tracking host); then, for send logs, from the local IP addresses of their
    sessions, mapped to servers by the receive logs. What stays unknown gets ``server`` ""
    and ``server_source`` "unknown".
    """
    by_root = (
        files.filter(pl.col("server_source").is_in(DEFINITIVE) & (pl.col("root") != ""))
        .group_by("root", "server")
        .len()
        .sort(["len", "server"], descending=[True, False])
        .unique("root", keep="first", maintain_order=True)
        .select("root", root_server="server")
    )
    out = files.join(by_root, on="root", how="left")
    fill = pl.col("root_server").is_not_null() & ~pl.col("server_source").is_in(DEFINITIVE)
    changed = fill & (pl.col("root_server") != pl.col("server"))
    out = out.with_columns(
        server=pl.when(fill).then(pl.col("root_server")).otherwise(pl.col("server")),
        server_source=pl.when(changed | (fill & (pl.col("server_source") == "unknown")))
        .then(pl.lit("path"))
        .otherwise(pl.col("server_source")),
    ).drop("root_server")
    out = _fill_from_ips(out, lines)
    unknown = pl.col("server") == ""
    return out.with_columns(
        server_source=pl.when(unknown).then(pl.lit("unknown")).otherwise(pl.col("server_source"))
    ).select(files.columns)


def _fill_from_ips(files: pl.DataFrame, lines: pl.LazyFrame) -> pl.DataFrame:
    """Send files without a server: the server whose receive logs use their local IP."""
    todo = files.filter((pl.col("server") == "") & (pl.col("log_type") == schema.SMTP_SEND))
    known = files.filter(
        (pl.col("log_type") == schema.SMTP_RECEIVE) & pl.col("server_source").is_in(DEFINITIVE)
    )
    if todo.height == 0 or known.height == 0:
        return files
    ip = pl.col("local_ep").str.replace(r":\d+$", "").alias("ip")
    eps = (
        lines.select("file_id", ip)
        .filter(pl.col("ip").is_not_null() & (pl.col("ip") != ""))
        .filter(~pl.col("ip").str.starts_with("127.") & (pl.col("ip") != "[::1]"))
        .unique()
        .collect()
    )
    ip_map = (
        eps.join(known.select("file_id", "server"), on="file_id")
        .select("ip", "server")
        .unique()
        .filter(pl.len().over("ip") == 1)  # an IP shared by several servers tells nothing
    )
    learned = (
        eps.join(todo.select("file_id"), on="file_id")
        .join(ip_map, on="ip")
        .group_by("file_id", "server")
        .len()
        .sort(["len", "server"], descending=[True, False])
        .unique("file_id", keep="first", maintain_order=True)
        .select("file_id", ip_server="server")
    )
    return (
        files.join(learned, on="file_id", how="left")
        .with_columns(
            server=pl.coalesce("ip_server", "server"),
            server_source=pl.when(pl.col("ip_server").is_not_null())
            .then(pl.lit("ip"))
            .otherwise(pl.col("server_source")),
        )
        .drop("ip_server")
    )
