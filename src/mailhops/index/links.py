"""Linking rules: one small function a rule, each reading one kind of log line -> LINKS.

Every rule returns message-level edges (``src``/``dst`` session keys plus the segment ordinal
``src_msg``/``dst_msg``, see :mod:`mailhops.index.segments`), so a chain never pulls in the
other messages of a cached or multiplexed session. Rules come in tiers (log-formats.md §3.8):

1. exact ids: the proxy session id lines, ``XPROXYFROM``/``XPROXY``/``XPROXYTO``, the
   ``[InternalId=R]`` reply with ``sending message with RecordId R``, the TCP endpoints;
2. fallbacks, kept only where tier 1 left the message without a link on that side:
   ``XSESSIONPARAMS MDBGUID``, the reply's ``Hostname=``, message tracking, Message-ID + time;
3. connectivity log lines (a send session known only from the connectivity log is a gap).

The protocol-log rules live in :mod:`mailhops.index.links_rules`, the connectivity and
tracking rules in :mod:`mailhops.index.links_logs`.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from mailhops.index import schema
from mailhops.index.links_common import (
    ENGINE,
    LINK_COLS,
    MID,
    UNUSED_MESSAGE_COLUMNS,
    empty_links,
    nodes_frame,
)
from mailhops.index.links_logs import (
    rule_connectivity_cached,
    rule_connectivity_inbound,
    rule_failover,
)
from mailhops.index.links_rules import (
    Rule,
    rule_mdbguid,
    rule_message_id_time,
    rule_outbound_proxy_direct,
    rule_proxy_session,
    rule_record_id,
    rule_record_sibling,
    rule_reply_hostname,
    rule_reply_record_id,
    rule_tcp_endpoint,
    rule_xproxy_sid,
    rule_xproxy_sid_direct,
    rule_xproxyto,
)
from mailhops.index.links_tracking import (
    rule_tracking_client_proxy,
    rule_tracking_deliver,
    rule_tracking_fail,
    rule_tracking_internal_id,
    rule_tracking_receive,
    rule_tracking_send_next,
    rule_tracking_send_reply,
    rule_tracking_shadow,
    rule_tracking_xproxyto,
)
from mailhops.index.servers import ServerMap

PRIMARY: Final[tuple[Rule, ...]] = (
    rule_proxy_session,
    rule_xproxy_sid,
    rule_xproxyto,
    rule_tcp_endpoint,
    rule_record_id,
)
FALLBACK: Final[tuple[Rule, ...]] = (
    rule_xproxy_sid_direct,
    rule_outbound_proxy_direct,
    rule_mdbguid,
    rule_reply_hostname,
    rule_reply_record_id,
    rule_record_sibling,
    rule_message_id_time,
)


TRACKING: Final = (
    rule_tracking_send_reply,
    rule_tracking_xproxyto,
    rule_tracking_client_proxy,
    rule_tracking_send_next,
    rule_tracking_shadow,
    rule_tracking_internal_id,
    rule_tracking_deliver,
    rule_tracking_receive,
    rule_tracking_fail,
)


def _dedupe(links: pl.LazyFrame) -> pl.LazyFrame:
    """One row an edge: the most confident rule wins."""
    return (
        links.filter(pl.col("src") != pl.col("dst"))
        .sort("confidence", descending=True, maintain_order=True)
        .unique(["src", "src_msg", "dst", "dst_msg"], keep="first", maintain_order=True)
    )


def _outs(found: pl.LazyFrame) -> pl.LazyFrame:
    """(key, msg) of the messages ``found`` gives a downstream hop."""
    # A link to a session seen only in connectivity/tracking (msg -1) names a gap, not a hop.
    main = found.filter(~pl.col("side") & (pl.col("dst_msg") >= 0))
    return main.select(pl.col("src").alias("_k"), pl.col("src_msg").alias("_m"))


def _ins(found: pl.LazyFrame) -> pl.LazyFrame:
    """(key, msg) of the messages ``found`` gives an upstream hop."""
    return found.select(pl.col("dst").alias("_k"), pl.col("dst_msg").alias("_m"))


def _unlinked(links: pl.LazyFrame, outs: pl.LazyFrame, ins: pl.LazyFrame) -> pl.LazyFrame:
    """Fallback rows whose source has no downstream (:func:`_outs`) and target no upstream
    (:func:`_ins`) link yet; a side branch may leave a message that already has its main
    downstream hop. Row order is kept (the first of equally confident duplicates wins)."""
    links = links.with_row_index("_r")
    side = links.filter(pl.col("side"))
    main = links.filter(~pl.col("side")).join(
        outs, left_on=["src", "src_msg"], right_on=["_k", "_m"], how="anti"
    )
    kept = pl.concat([side, main]).sort("_r").drop("_r")
    return kept.join(ins, left_on=["dst", "dst_msg"], right_on=["_k", "_m"], how="anti")


#: Fallback tiers computed together (see :func:`_tiers`): more tiers a batch build the
#: hash tables of the first tier's links fewer times, and hold more rows at once.
TIER_BATCH: Final = 5


def _tiers(first: pl.LazyFrame, extra: list[pl.LazyFrame]) -> pl.LazyFrame:
    """``first`` plus each fallback tier in turn, kept only where the tiers before it left
    the message unlinked.

    ``first`` holds nearly every link: the tiers of a batch (:data:`TIER_BATCH`) are
    computed side by side and cut by its links in one join (not one a tier); then each,
    in turn, by the few links the tiers before it added. Both cuts are row filters:
    together they are the cut by every link found before the tier."""
    parts = [first.collect(engine=ENGINE).lazy()]
    outs = _outs(parts[0]).collect(engine=ENGINE).lazy()
    ins = _ins(parts[0]).collect(engine=ENGINE).lazy()
    outs_more: list[pl.LazyFrame] = []
    ins_more: list[pl.LazyFrame] = []
    for b in range(0, len(extra), TIER_BATCH):
        frames = pl.collect_all(extra[b : b + TIER_BATCH], engine=ENGINE)
        batch = pl.concat(
            [f.lazy().with_columns(pl.lit(i, pl.UInt8).alias("_t")) for i, f in enumerate(frames)]
        )
        cut = _unlinked(batch, outs, ins).collect(engine=ENGINE)
        tiers = len(frames)
        del frames, batch
        for i in range(tiers):
            more = cut.lazy().filter(pl.col("_t") == i).drop("_t")
            if outs_more:
                more = _unlinked(more, pl.concat(outs_more), pl.concat(ins_more))
            parts.append(_dedupe(more).collect(engine=ENGINE).lazy())
            outs_more.append(_outs(parts[-1]).collect(engine=ENGINE).lazy())
            ins_more.append(_ins(parts[-1]).collect(engine=ENGINE).lazy())
    return pl.concat(parts)


def _mark_side(links: pl.LazyFrame, nodes: pl.LazyFrame) -> pl.LazyFrame:
    """Edges into or out of a shadow-redundancy copy are side branches."""
    shadow = nodes.filter(pl.col("shadow")).select(
        pl.col("key").alias("_k"), pl.col("msg").alias("_m")
    )
    flag = shadow.with_columns(pl.lit(True).alias("_s"))
    out = links.join(flag, left_on=["src", "src_msg"], right_on=["_k", "_m"], how="left")
    out = out.join(
        flag.rename({"_s": "_s2"}), left_on=["dst", "dst_msg"], right_on=["_k", "_m"], how="left"
    )
    side = pl.col("side") | pl.col("_s").fill_null(False) | pl.col("_s2").fill_null(False)
    return out.with_columns(side.alias("side")).select(LINK_COLS)


#: The tracking events and columns the rules read (server learning reads its own).
TRACKING_EVENTS: Final = ["SEND", "RECEIVE", "DELIVER", "HAREDIRECT", "HARECEIVE", "DEFER", "FAIL"]
TRACKING_COLUMNS: Final = [
    "ts",
    "server",
    "service",
    "event_id",
    "source",
    "internal_message_id",
    "message_id",
    "source_context",
    "server_hostname",
    "client_hostname",
    "sender_address",
    "recipient_status",
    "custom_data",
    "directionality",
]
CONNECTIVITY_COLUMNS: Final = ["server", "service", "session_id", "destination", "description"]


def relevant_tracking(tracking: pl.LazyFrame) -> pl.LazyFrame:
    """The tracking events and columns the rules read, scanned once (each rule would re-read
    the Parquet parts of a lazy frame; the other columns are most of the bytes)."""
    keep = tracking.filter(pl.col("event_id").is_in(TRACKING_EVENTS)).select(TRACKING_COLUMNS)
    keep = keep.with_columns(pl.col("message_id").cast(MID))  # as in the node table
    return keep.collect(engine=ENGINE).lazy()


def relevant_connectivity(conn: pl.LazyFrame) -> pl.LazyFrame:
    """The connectivity rows the rules read (session starts, reuse and failover lines and
    the shadow-redundancy destination), scanned once."""
    desc = pl.col("description")
    keep = (
        desc.str.contains("inbound session", literal=True)
        | desc.str.contains("Proxied session id", literal=True)
        | desc.str.contains("Cached Session", literal=True)
        | desc.str.contains("CachedSession", literal=True)
        | desc.str.contains("Session Failover", literal=True)
        | (pl.col("destination").str.to_lowercase() == "shadowredundancy")
    )
    return conn.filter(keep).select(CONNECTIVITY_COLUMNS).collect(engine=ENGINE).lazy()


def _connectivity_links(connectivity: pl.LazyFrame, nodes: pl.LazyFrame) -> pl.LazyFrame:
    """The links only the connectivity log gives (sessions whose own protocol log is
    missing: gaps with their ids), deduplicated."""
    logged = nodes.select("key").unique()
    inbound = rule_connectivity_inbound(connectivity).join(
        logged, left_on="dst", right_on="key", how="anti"
    )
    sessions_only = [inbound, rule_failover(connectivity), rule_connectivity_cached(connectivity)]
    return _dedupe(pl.concat(sessions_only))


def build_links(
    lines: pl.LazyFrame,
    connectivity: pl.LazyFrame | None,
    tracking: pl.LazyFrame | None,
    sessions: pl.DataFrame | None,
    messages: pl.DataFrame | pl.LazyFrame,
    servers: ServerMap | None,
) -> pl.DataFrame:
    """Return the LINKS table: every rule's edges, deduplicated, shadow copies marked side.

    ``messages`` may be a scan: read here, its only in-memory copy is gone before the rules
    run (the node table carries every column they read)."""
    if isinstance(messages, pl.LazyFrame):
        messages = messages.drop(UNUSED_MESSAGE_COLUMNS, strict=False).collect(engine=ENGINE)
    if messages.height == 0:
        return empty_links().collect(engine=ENGINE)
    if connectivity is not None:
        connectivity = relevant_connectivity(connectivity)
    if tracking is not None:
        tracking = relevant_tracking(tracking)
    nodes = (
        nodes_frame(lines, sessions, messages, servers, connectivity).collect(engine=ENGINE).lazy()
    )
    del messages  # when it was read from a scan, this was its only copy
    gaps = None
    if connectivity is not None:
        # The connectivity rows are read by these rules alone: their links are made now and
        # the rows dropped before the protocol-log rules run.
        gaps = _connectivity_links(connectivity, nodes).collect(engine=ENGINE).lazy()
        del connectivity
    first = _dedupe(pl.concat([rule(nodes) for rule in PRIMARY]))
    extra: list[pl.LazyFrame] = []
    # Tracking evidence ranks above the Message-ID last resort (the last FALLBACK rule).
    extra += [rule(nodes) for rule in FALLBACK[:-1]]
    if tracking is not None:
        extra += [rule(nodes, tracking) for rule in TRACKING]
    extra.append(FALLBACK[-1](nodes))
    found = _tiers(first, extra)
    del extra, tracking  # the tiers are collected: the tracking rows are no longer read
    if gaps is not None:
        found = pl.concat([found, gaps])
    out = _mark_side(_dedupe(found), nodes)
    out = out.select([pl.col(c).cast(t) for c, t in schema.LINKS.items()])
    # One row an edge: in edge order, the same corpus gives the same table row for row.
    return out.sort(["src", "src_msg", "dst", "dst_msg"]).collect(engine=ENGINE)
