"""Linking rules that read the connectivity log (log-formats.md §4, L4, §3.7); the
tracking rules are in :mod:`mailhops.index.links_tracking`. A send session seen only here
(its protocol log disabled) becomes a whole-session node (``msg == -1``) that the chain
reports as a gap with its session id."""

from __future__ import annotations

from typing import Final

import polars as pl

from mailhops.index import schema
from mailhops.index.links_common import KEY, link_frame

SID: Final = r"([0-9A-Fa-f]{16})"


def _key(server: str | pl.Expr, service: str | pl.Expr, direction: str, sid: pl.Expr) -> pl.Expr:
    def col(v: str | pl.Expr) -> pl.Expr:
        return pl.col(v) if isinstance(v, str) else v

    key = pl.concat_str([col(server), col(service), pl.lit(direction), sid], separator="|")
    return key.cast(KEY)


def rule_connectivity_inbound(conn: pl.LazyFrame) -> pl.LazyFrame:
    """FE connectivity ``+`` row ``... Starting outbound connection for inbound session A``
    (L4) or ``... Proxied session id A`` (client/outbound proxy): FE receive A -> the FE
    send session of this connectivity row."""
    pat = r"(?:inbound session|Proxied session id) " + SID
    rows = conn.filter(pl.col("description").str.contains(pat)).with_columns(
        pl.col("description").str.extract(pat, 1).str.to_uppercase().alias("_a")
    )
    j = rows.with_columns(
        _key("server", "service", schema.RECEIVE, pl.col("_a")).alias("_src"),
        _key("server", "service", schema.SEND, pl.col("session_id")).alias("_dst"),
        pl.lit(-1).alias("_m"),
    )
    return link_frame(
        j,
        src="_src",
        src_msg="_m",
        dst="_dst",
        dst_msg="_m",
        rule="connectivity_inbound",
        evidence=pl.col("description"),
        confidence=0.9,
    )


def rule_failover(conn: pl.LazyFrame) -> pl.LazyFrame:
    """Connectivity ``*`` ``Session Failover; previous session id = OLD; reason = R``
    (§3.7): the failed send session OLD -> this one (same server and service)."""
    pat = r"Session Failover; previous session id = " + SID
    rows = conn.filter(pl.col("description").str.contains(pat))
    j = rows.with_columns(
        _key("server", "service", schema.SEND, pl.col("description").str.extract(pat, 1)).alias(
            "_src"
        ),
        _key("server", "service", schema.SEND, pl.col("session_id")).alias("_dst"),
        pl.lit(-1).alias("_m"),
    )
    return link_frame(
        j,
        src="_src",
        src_msg="_m",
        dst="_dst",
        dst_msg="_m",
        rule="connectivity_failover",
        evidence=pl.col("description"),
        confidence=0.8,
    )


def rule_connectivity_cached(conn: pl.LazyFrame) -> pl.LazyFrame:
    """Connectivity ``-`` ``Using Cached Session NEW`` on the session that gave up, and
    ``+`` ``... CachedSession Replacing OLD;...`` on the cached one (§3.7): OLD -> NEW."""
    using = r"Using Cached Session " + SID
    repl = r"CachedSession Replacing " + SID
    a = conn.filter(pl.col("description").str.contains(using)).with_columns(
        pl.col("session_id").alias("_old"),
        pl.col("description").str.extract(using, 1).alias("_new"),
    )
    b = conn.filter(pl.col("description").str.contains(repl)).with_columns(
        pl.col("description").str.extract(repl, 1).alias("_old"), pl.col("session_id").alias("_new")
    )
    j = pl.concat([a, b]).with_columns(
        _key("server", "service", schema.SEND, pl.col("_old")).alias("_src"),
        _key("server", "service", schema.SEND, pl.col("_new")).alias("_dst"),
        pl.lit(-1).alias("_m"),
    )
    return link_frame(
        j,
        src="_src",
        src_msg="_m",
        dst="_dst",
        dst_msg="_m",
        rule="connectivity_cached",
        evidence=pl.col("description"),
        confidence=0.7,
    )
