"""Run the linker on hand-written frames and look at its edges."""

from __future__ import annotations

import polars as pl

from mailhops.index.links import build_links
from mailhops.index.segments import build_messages
from mailhops.index.servers import learn_servers


def link(
    *frames: pl.DataFrame,
    conn: pl.LazyFrame | None = None,
    trk: pl.LazyFrame | None = None,
    servers_file: str | None = None,
) -> pl.DataFrame:
    """LINKS of the sessions in ``frames``."""
    lines = pl.concat(frames).lazy()
    messages = build_messages(lines)
    servers = learn_servers(lines, trk, servers_file)
    return build_links(lines, conn, trk, None, messages, servers)


def edges(links: pl.DataFrame, rule: str | None = None) -> set[tuple[str, int, str, int]]:
    """(src, src_msg, dst, dst_msg) of the links, optionally of one rule only."""
    if rule is not None:
        links = links.filter(pl.col("rule") == rule)
    return {
        (r[0], r[1], r[2], r[3])
        for r in links.select("src", "src_msg", "dst", "dst_msg").iter_rows()
    }


def session_ids(links: pl.DataFrame) -> set[tuple[str, str]]:
    """(src session id, dst session id) pairs."""
    return {
        (s.rsplit("|", 1)[1], d.rsplit("|", 1)[1])
        for s, d in links.select("src", "dst").iter_rows()
    }
