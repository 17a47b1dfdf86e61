"""The protocol-log linking rules, one small function a rule (log-formats.md §3.1-3.3).

Each rule takes the node table (:func:`mailhops.index.links_common.nodes_frame`: one row a
message segment) and returns message-level LINKS rows; :mod:`mailhops.index.links` runs
them in tiers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import polars as pl

from mailhops.index import schema
from mailhops.index.links_common import KEY, link_frame, ordinal, peer_ok

#: Clock skew between servers plus connection set-up that the time joins tolerate.
SKEW: Final = "30s"
#: Window for the last-resort Message-ID rule.
MSGID_WINDOW: Final = "10m"

Rule = Callable[[pl.LazyFrame], pl.LazyFrame]


def _recv(nodes: pl.LazyFrame) -> pl.LazyFrame:
    return nodes.filter(pl.col("direction") == schema.RECEIVE)


def _send(nodes: pl.LazyFrame) -> pl.LazyFrame:
    return nodes.filter(pl.col("direction") == schema.SEND)


def _ordinal_in_block() -> pl.Expr:
    """0-based position of a row within its ``blk`` (the frame is sorted by ``blk``): a
    scan over the runs, no grouping of the block keys."""
    idx = pl.int_range(pl.len(), dtype=pl.Int64)
    first = (pl.col("blk") != pl.col("blk").shift(1)).fill_null(True)
    return idx - pl.when(first).then(idx).forward_fill()


def align(blocks: pl.LazyFrame, targets: pl.LazyFrame) -> pl.LazyFrame:
    """Pair the segments of ``blocks`` (blk, key, msg, start, message_id) with those of
    ``targets`` (blk, t_key, t_msg, t_start, t_mid) that name the same block: first by
    Message-ID, then the rest in time order (the k-th proxied transaction of a session is
    its k-th message). Blocks may span several sessions (one FE receive session fed over
    many cached proxy connections, or the reverse)."""
    # Only the targets of a block that has segments can pair (the ordinals are counted
    # within each block): the others are dropped before the sorts.
    targets = targets.join(blocks.select("blk").unique(), on="blk", how="semi")
    # Ties (one Message-ID on several targets of a block) go to the earliest target, the
    # same one whatever order the join returned its rows in.
    by_mid = (
        blocks.join(targets, left_on=["blk", "message_id"], right_on=["blk", "t_mid"])
        .sort(["key", "msg", "t_start", "t_key", "t_msg"])
        .unique(["key", "msg"], keep="first")
        .unique(["t_key", "t_msg"], keep="first")
    )
    done_b = by_mid.select("key", "msg")
    done_t = by_mid.select("t_key", "t_msg")
    rest_b = blocks.join(done_b, on=["key", "msg"], how="anti").sort(["blk", "start", "key", "msg"])
    rest_t = targets.join(done_t, on=["t_key", "t_msg"], how="anti").sort(
        ["blk", "t_start", "t_key", "t_msg"]
    )
    rest_b = rest_b.with_columns(_ordinal_in_block().alias("_ord"))
    rest_t = rest_t.with_columns(_ordinal_in_block().alias("_ord"))
    by_ord = rest_b.join(rest_t.drop("t_mid"), on=["blk", "_ord"]).drop("_ord")
    return pl.concat([by_mid.drop("t_mid", strict=False), by_ord], how="diagonal_relaxed")


def _targets(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """Receive segments as alignment targets keyed by their own session key."""
    return _recv(nodes).select(
        pl.col("key").alias("blk"),
        pl.col("key").alias("t_key"),
        pl.col("msg").alias("t_msg"),
        pl.col("start").alias("t_start"),
        pl.col("message_id").alias("t_mid"),
        pl.col("remote_ep").alias("t_remote"),
    )


def rule_proxy_session(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """FE send ``*`` ``Proxying inbound session with session id A`` (L1), or seq-0
    ``attempting to connect. ... Proxied session id A`` (client/outbound proxy, §3.2-3.3):
    the FE receive session A on the same server and service -> this send segment."""
    b = _send(nodes).filter(pl.col("proxied_ff").is_not_null())
    blk = pl.concat_str(
        [pl.col("server"), pl.col("service"), pl.lit(schema.RECEIVE), pl.col("proxied_ff")],
        separator="|",
    ).cast(KEY)
    b = b.select(blk.alias("blk"), "key", "msg", "start", "message_id", "proxied_ff")
    j = align(b, _targets(nodes))
    return link_frame(
        j,
        src="t_key",
        src_msg="t_msg",
        dst="key",
        dst_msg="msg",
        rule="proxy_session_id",
        evidence=pl.format("Proxied session id {}", pl.col("proxied_ff")),
        confidence=1.0,
    )


def rule_xproxy_sid(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """``XPROXYFROM SID=A`` / ``XPROXY SID=A`` sent by the FE send session (``>``) and
    received by the Hub receive session (``<``) (L2, §3.3): FE send segment -> Hub segment."""
    b = _send(nodes).filter(pl.col("xproxy_ff").is_not_null())
    c = _recv(nodes).filter(pl.col("xproxy_ff").is_not_null())
    j = b.join(c, on="xproxy_ff", suffix="_c")
    j = j.filter(peer_ok("peer_server", "server_c") & peer_ok("peer_server_c", "server"))
    j = j.filter((pl.col("start_c") - pl.col("start")).abs() < pl.duration(seconds=120))
    j = j.with_columns(
        ordinal(["key", "key_c", "xproxy_ff"], "msg").alias("o1"),
        ordinal(["key", "key_c", "xproxy_ff"], "msg_c").alias("o2"),
    ).filter(pl.col("o1") == pl.col("o2"))
    return link_frame(
        j,
        src="key",
        src_msg="msg",
        dst="key_c",
        dst_msg="msg_c",
        rule="xproxy_sid",
        evidence=pl.format("SID={}", pl.col("xproxy_ff")),
        confidence=1.0,
    )


def rule_xproxy_sid_direct(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """``XPROXYFROM SID=A IP= PORT=`` in the Hub receive log -> the FE receive session A on
    the server the Hub connection came from (when the FE send hop was not logged)."""
    c = _recv(nodes).filter(pl.col("xproxy_ff").is_not_null() & pl.col("peer_server").is_not_null())
    blk = pl.concat_str(
        [
            pl.col("peer_server"),
            pl.lit(schema.FRONTEND),
            pl.lit(schema.RECEIVE),
            pl.col("xproxy_ff"),
        ],
        separator="|",
    ).cast(KEY)
    c = c.select(blk.alias("blk"), "key", "msg", "start", "message_id", "xproxy_ff", "xproxy_ep")
    j = align(c, _targets(nodes)).filter(
        (pl.col("xproxy_ep").is_null() | (pl.col("xproxy_ep") == pl.col("t_remote")))
        & ((pl.col("start") - pl.col("t_start")).abs() < pl.duration(minutes=10))
    )
    return link_frame(
        j,
        src="t_key",
        src_msg="t_msg",
        dst="key",
        dst_msg="msg",
        rule="xproxy_sid",
        evidence=pl.format("SID={}", pl.col("xproxy_ff")),
        confidence=0.95,
    )


def _xproxyto(nodes: pl.LazyFrame, direction: str, rule: str, conf: float) -> pl.LazyFrame:
    g = nodes.filter(
        pl.col("upstream_ff").is_not_null()
        & (pl.col("service") == schema.FRONTEND)
        & (pl.col("direction") == direction)
    )
    g = g.with_columns(ordinal(["key", "upstream_ff"]).alias("ord"))
    d = _send(nodes).select(
        pl.col("session_id").alias("upstream_ff"),
        pl.col("server").alias("d_server"),
        pl.col("service").alias("d_service"),
        pl.col("key").alias("src"),
        pl.col("msg").alias("ord"),
        pl.col("start").alias("d_start"),
    )
    j = g.join(d, on=["upstream_ff", "ord"]).filter(
        (pl.col("d_service") != schema.FRONTEND)
        & peer_ok("peer_server", "d_server")
        & ((pl.col("start") - pl.col("d_start")).abs() < pl.duration(minutes=10))
    )
    return link_frame(
        j,
        src="src",
        src_msg="ord",
        dst="key",
        dst_msg="msg",
        rule=rule,
        evidence=pl.format("SESSIONID={}", pl.col("upstream_ff")),
        confidence=conf,
    )


def rule_xproxyto(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """``XPROXYTO ... SESSIONID=D`` / ``XRSETPROXYTO D`` received by the FE on 717
    (``Outbound Proxy Frontend``, §3.2): the Hub send session D -> this FE receive segment."""
    return _xproxyto(nodes, schema.RECEIVE, "xproxyto_session_id", 1.0)


def rule_outbound_proxy_direct(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """FE send seq 0 ``attempting to connect. Outbound proxy from H with session id D.
    Proxied session id G`` (§3.2): the Hub send session D -> this FE send session, when the
    717 receive session G was not logged (its connector does not log by default)."""
    return _xproxyto(nodes, schema.SEND, "outbound_proxy_session_id", 0.95)


def rule_tcp_endpoint(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """TCP 4-tuple (L3): a send session's local/remote endpoints are the remote/local
    endpoints of a receive session on the other server, starting within the clock skew.
    ``join_asof`` picks the nearest session in time, so a source port reused later does not
    match. Messages are paired by their ordinal on the shared connection."""
    first = pl.col("msg") == pl.col("msg").min().over("key")
    s = _send(nodes).filter(first & pl.col("local_ep").is_not_null() & (pl.col("local_ep") != ""))
    s = s.select(
        pl.format("{}>{}", "local_ep", "remote_ep").alias("tuple"), "key", "sess_start"
    ).sort(["sess_start", "key"])
    r = (
        _recv(nodes)
        .filter(first)
        .select(
            pl.format("{}>{}", "remote_ep", "local_ep").alias("tuple"),
            pl.col("key").alias("r_key"),
            pl.col("sess_start").alias("r_start"),
        )
        # Sessions starting in the same millisecond: the key decides, not the row order.
        .sort(["r_start", "r_key"])
    )
    pairs = s.join_asof(
        r,
        left_on="sess_start",
        right_on="r_start",
        by="tuple",
        strategy="nearest",
        tolerance=SKEW,
        check_sortedness=False,
    ).drop_nulls("r_key")
    return _pair_messages(pairs, nodes, "tcp_endpoint", pl.col("tuple"), 0.98)


def _pair_messages(
    pairs: pl.LazyFrame, nodes: pl.LazyFrame, rule: str, evidence: pl.Expr, conf: float
) -> pl.LazyFrame:
    """Session pairs (key -> r_key) to message links: the k-th transaction on one end of a
    connection is the k-th on the other end."""
    msgs = nodes.select("key", "msg")
    j = pairs.with_columns(evidence.alias("_ev")).join(msgs, on="key")
    j = j.join(msgs.rename({"key": "r_key"}), on=["r_key", "msg"])
    return link_frame(
        j,
        src="key",
        src_msg="msg",
        dst="r_key",
        dst_msg="msg",
        rule=rule,
        evidence=pl.col("_ev"),
        confidence=conf,
    )


def rule_record_id(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """Hub receive reply ``250 2.6.0 <id> [InternalId=R, Hostname=H]`` (L6) -> the send
    segment on the same server with ``sending message with RecordId R`` (L8)."""
    c = (
        _recv(nodes)
        .filter(pl.col("own_iid").is_not_null())
        .select(
            "server",
            pl.col("own_iid").alias("iid"),
            pl.col("key").alias("src"),
            pl.col("msg").alias("src_msg"),
            pl.col("start").alias("c_start"),
        )
    )
    d = _send(nodes).filter(pl.col("record_id").is_not_null())
    j = d.join(c, left_on=["server", "record_id"], right_on=["server", "iid"])
    j = j.filter(pl.col("start") >= pl.col("c_start") - pl.duration(seconds=5))
    return link_frame(
        j,
        src="src",
        src_msg="src_msg",
        dst="key",
        dst_msg="msg",
        rule="record_id",
        evidence=pl.format("RecordId {}", pl.col("record_id")),
        confidence=1.0,
    )


def rule_reply_hostname(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """A reply relayed from another server, ``[InternalId=R, Hostname=H]`` (L6: the FE
    returns the Hub's reply verbatim; a send session sees the next hop's) -> the receive
    segment on H whose own reply carries R."""
    x = nodes.filter(pl.col("reply_iid").is_not_null() & pl.col("own_iid").is_null())
    x = x.filter(pl.col("host_server").is_not_null())  # FE and Hub may share the box
    c = (
        _recv(nodes)
        .filter(pl.col("own_iid").is_not_null())
        .select(
            pl.col("server").alias("host_server"),
            pl.col("own_iid").alias("reply_iid"),
            pl.col("key").alias("dst"),
            pl.col("msg").alias("dst_msg"),
        )
    )
    j = x.join(c, on=["host_server", "reply_iid"]).filter(pl.col("key") != pl.col("dst"))
    return link_frame(
        j,
        src="key",
        src_msg="msg",
        dst="dst",
        dst_msg="dst_msg",
        rule="reply_internal_id",
        evidence=pl.format("InternalId={} Hostname={}", "reply_iid", "reply_host"),
        confidence=0.95,
    )


def rule_reply_record_id(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """A reply ``[InternalId=R, Hostname=H]`` seen upstream (FE, submission or Hub send)
    -> the send segment on H with ``sending message with RecordId R`` (L6 + L8), when the
    receive session on H that issued R was not logged."""
    # FE and Hub often share a box: the relayed reply may name the FE's own server.
    x = nodes.filter(pl.col("reply_iid").is_not_null() & pl.col("own_iid").is_null())
    x = x.filter(pl.col("host_server").is_not_null())
    d = (
        _send(nodes)
        .filter(pl.col("record_id").is_not_null())
        .select(
            pl.col("server").alias("host_server"),
            pl.col("record_id").alias("reply_iid"),
            pl.col("key").alias("dst"),
            pl.col("msg").alias("dst_msg"),
            pl.col("start").alias("d_start"),
        )
    )
    j = x.join(d, on=["host_server", "reply_iid"]).filter(
        (pl.col("key") != pl.col("dst"))
        & (pl.col("d_start") >= pl.col("start") - pl.duration(seconds=30))
    )
    return link_frame(
        j,
        src="key",
        src_msg="msg",
        dst="dst",
        dst_msg="dst_msg",
        rule="reply_record_id",
        evidence=pl.format("InternalId={} Hostname={}", "reply_iid", "reply_host"),
        confidence=0.9,
    )


def rule_mdbguid(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """``XSESSIONPARAMS MDBGUID=G`` (L9) sent by a Hub send session and received by the
    mailbox delivery session that starts nearest in time on the peer server."""
    first = pl.col("msg") == pl.col("msg").min().over("key")
    d = _send(nodes).filter(first & pl.col("mdbguid").is_not_null())
    d = d.select("key", "mdbguid", "sess_start", "peer_server").sort(["sess_start", "key"])
    e = (
        _recv(nodes)
        .filter(first & pl.col("mdbguid").is_not_null())
        .select(
            "mdbguid",
            pl.col("key").alias("r_key"),
            pl.col("sess_start").alias("r_start"),
            pl.col("server").alias("r_server"),
        )
        .sort(["r_start", "r_key"])
    )
    asof: dict[str, Any] = {
        "left_on": "sess_start",
        "right_on": "r_start",
        "strategy": "nearest",
        "tolerance": SKEW,
        "check_sortedness": False,
    }
    # A send session whose peer server is known looks on that server only: a session with
    # the same database starting nearer on another server (a switchover) must not hide it.
    known = d.filter(pl.col("peer_server").is_not_null()).join_asof(
        e.with_columns(pl.col("r_server").alias("peer_server")),
        by=["mdbguid", "peer_server"],
        **asof,
    )
    unknown = d.filter(pl.col("peer_server").is_null()).join_asof(e, by="mdbguid", **asof)
    pairs = pl.concat([known, unknown], how="diagonal_relaxed").drop_nulls("r_key")
    return _pair_messages(pairs, nodes, "mdbguid", pl.format("MDBGUID={}", "mdbguid"), 0.9)


def rule_message_id_time(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """Last resort: the same Message-ID on a send segment and on a receive segment of the
    peer server that starts within the window after it (Message-ID is not unique across
    bifurcation, journaling or DSNs, hence the low confidence)."""
    s = _send(nodes).filter(pl.col("message_id").is_not_null())
    r = (
        _recv(nodes)
        .filter(pl.col("message_id").is_not_null())
        .select(
            "message_id",
            pl.col("key").alias("dst"),
            pl.col("msg").alias("dst_msg"),
            pl.col("server").alias("r_server"),
            pl.col("start").alias("r_start"),
        )
    )
    j = s.join(r, on="message_id").filter(
        peer_ok("peer_server", "r_server")
        & (pl.col("r_server") != pl.col("server"))
        & (pl.col("r_start") >= pl.col("start") - pl.duration(seconds=30))
        & (pl.col("r_start") <= pl.col("end") + pl.duration(minutes=10))
    )
    return link_frame(
        j,
        src="key",
        src_msg="msg",
        dst="dst",
        dst_msg="dst_msg",
        rule="message_id_time",
        evidence=pl.col("message_id"),
        confidence=0.5,
    )


def rule_record_sibling(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """Two send segments on one server with the same ``sending message with RecordId R``,
    one a shadow-redundancy copy (reply ``Queued mail for redundancy``, §3.6): the primary
    -> the copy, as a side branch (when the receive that issued R was not logged)."""
    d = _send(nodes).filter(pl.col("record_id").is_not_null())
    main = d.filter(~pl.col("shadow")).select("server", "record_id", "key", "msg", "start")
    copy = d.filter(pl.col("shadow")).select(
        "server",
        "record_id",
        pl.col("key").alias("dst"),
        pl.col("msg").alias("dst_msg"),
        pl.col("start").alias("c_start"),
    )
    j = main.join(copy, on=["server", "record_id"]).filter(
        (pl.col("c_start") - pl.col("start")).abs() < pl.duration(minutes=10)
    )
    out = link_frame(
        j,
        src="key",
        src_msg="msg",
        dst="dst",
        dst_msg="dst_msg",
        rule="record_sibling",
        evidence=pl.format("RecordId {}", "record_id"),
        confidence=0.8,
    )
    return out.with_columns(pl.lit(True).alias("side"))
