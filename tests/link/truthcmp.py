"""Compare chains against the generator's ground truth (used by tests and bench_trace).

``load_corpus`` reads a generated tree directly (server/service of each file from
``truth/files.jsonl``), so the linker can be checked on its own; the benchmark also goes
through ``open_index``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from mailhops.index import schema
from mailhops.index.chain import chain_from
from mailhops.index.chain_graph import ChainGraph
from mailhops.index.links import build_links
from mailhops.index.segments import build_messages
from mailhops.index.servers import learn_servers
from mailhops.index.sessions import build_sessions

HopT = tuple[str, str, str, str, int]


def _read(path: Path) -> tuple[list[str], pl.DataFrame]:
    raw = path.read_bytes().decode("utf-8-sig", errors="replace")
    fields: list[str] = []
    body: list[str] = []
    for line in raw.splitlines():
        if line.startswith("#Fields:"):
            fields = line[len("#Fields:") :].strip().split(",")
        elif line and not line.startswith("#"):
            body.append(line)
    names = [f.replace("-", "_") for f in fields]
    frame = (
        pl.read_csv(
            io.StringIO("\n".join(body)),
            has_header=False,
            new_columns=names,
            infer_schema=False,
            quote_char='"',
        )
        if body
        else pl.DataFrame(schema={n: pl.String() for n in names})
    )
    return names, frame


def _ts() -> pl.Expr:
    return (
        pl.col("date_time")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.3fZ", time_zone="UTC")
        .cast(schema.TS)
    )


def load_corpus(root: Path) -> dict[str, pl.DataFrame]:
    """LINES, CONNECTIVITY_LINES and TRACKING_LINES of a generated tree."""
    files = [json.loads(x) for x in (root / "truth" / "files.jsonl").read_text().splitlines()]
    parts: dict[str, list[pl.DataFrame]] = {"lines": [], "conn": [], "trk": []}
    for fid, f in enumerate(files):
        _, fr = _read(root / f["path"])
        fr = fr.with_columns(
            pl.lit(fid, pl.UInt32).alias("file_id"),
            (pl.int_range(pl.len()) + 6).cast(pl.UInt32).alias("line_no"),
            _ts().alias("ts"),
            pl.lit(f["server"]).alias("server"),
            pl.lit(f["service"]).alias("service"),
        )
        if f["log_type"] in (schema.SMTP_RECEIVE, schema.SMTP_SEND):
            d = schema.RECEIVE if f["log_type"] == schema.SMTP_RECEIVE else schema.SEND
            fr = fr.rename(
                {
                    "connector_id": "connector",
                    "sequence_number": "seq",
                    "local_endpoint": "local_ep",
                    "remote_endpoint": "remote_ep",
                }
            )
            fr = fr.with_columns(pl.lit(d).alias("direction"))
            parts["lines"].append(fr.select([pl.col(c).cast(t) for c, t in schema.LINES.items()]))
        elif f["log_type"] == schema.CONNECTIVITY:
            fr = fr.rename(
                {"session": "session_id", "Destination": "destination", "direction": "event"}
            )
            parts["conn"].append(
                fr.select([pl.col(c).cast(t) for c, t in schema.CONNECTIVITY_LINES.items()])
            )
        else:
            miss = [c for c in schema.TRACKING_LINES if c not in fr.columns]
            fr = fr.with_columns([pl.lit(None, pl.String).alias(c) for c in miss])
            parts["trk"].append(
                fr.select([pl.col(c).cast(t) for c, t in schema.TRACKING_LINES.items()])
            )
    empty = {"lines": schema.LINES, "conn": schema.CONNECTIVITY_LINES, "trk": schema.TRACKING_LINES}
    return {k: pl.concat(v) if v else pl.DataFrame(schema=empty[k]) for k, v in parts.items()}


@dataclass
class Built:
    """Everything the linker produced for a corpus."""

    messages: pl.DataFrame
    links: pl.DataFrame
    sessions: pl.DataFrame
    graph: ChainGraph


def build(root: Path, servers_file: str | None = None) -> Built:
    """Load a generated tree and run segments, links and the chain graph on it."""
    c = load_corpus(root)
    lines, conn, trk = c["lines"].lazy(), c["conn"].lazy(), c["trk"].lazy()
    sessions = build_sessions(lines).collect()
    messages = build_messages(lines)
    servers = learn_servers(lines, trk, servers_file)
    links = build_links(lines, conn, trk, sessions, messages, servers)
    return Built(messages, links, sessions, ChainGraph(messages, links, sessions))


def truth_messages(root: Path) -> list[dict[str, Any]]:
    """The truth records of a generated tree."""
    text = (root / "truth" / "messages.jsonl").read_text(encoding="utf-8")
    return [json.loads(x) for x in text.splitlines() if x]


def _t(h: dict[str, Any]) -> HopT:
    return (h["server"], h["service"], h["direction"], h["session_id"], h["msg"])


def ident_of(graph: ChainGraph, msg: dict[str, Any]) -> str | None:
    """A ``key#segment`` that names the truth message's first hop with a MAIL FROM."""
    for h in msg["hops"]:
        if h["msg"] < 0:
            continue
        key = schema.session_key(h["server"], h["service"], h["direction"], h["session_id"])
        for seg in graph.msgs_of.get(key, []):
            if graph.node_info((key, seg)).mail_ord == h["msg"]:
                return f"{key}#{seg}"
    return None


@dataclass
class Report:
    """Per-message comparison results."""

    checked: int = 0
    exact: int = 0
    failures: list[str] = field(default_factory=list)


def compare(graph: ChainGraph, truth: list[dict[str, Any]], *, gaps: bool = True) -> Report:
    """Trace every truth message from its first MAIL FROM hop and compare hops, side, gaps."""
    rep = Report()
    for msg in truth:
        ident = ident_of(graph, msg)
        if ident is None:
            continue
        rep.checked += 1
        c = chain_from(graph, ident)
        got = [(h.server, h.service, h.direction, h.session_id, h.msg) for h in c.hops]
        want = [_t(h) for h in msg["hops"]]
        side_got = sorted((h.server, h.service, h.direction, h.session_id, h.msg) for h in c.side)
        side_want = sorted(_t(h) for h in msg["side"])
        gap_got = [(g.after, g.stream, g.server) for g in c.gaps]
        gap_want = [(g["after"], g["stream"], g["server"]) for g in msg["gaps"]]
        problems = []
        if not c.ok:
            problems.append(f"error {c.error}")
        if got != want:
            problems.append(f"hops\n   got  {got}\n   want {want}")
        if side_got != side_want:
            problems.append(f"side\n   got  {side_got}\n   want {side_want}")
        if c.ok and c.outcome != msg["outcome"]:
            problems.append(f"outcome got {c.outcome} want {msg['outcome']}")
        if gaps and gap_got != gap_want:
            problems.append(f"gaps got {gap_got} want {gap_want}")
        if problems:
            rep.failures.append(
                f"{msg['message_id']} ({msg['flow']}, {ident}): " + "; ".join(problems)
            )
        else:
            rep.exact += 1
    return rep
