"""Linking rules that read the message tracking logs (log-formats.md §5, L7, L13, §3.6).

A session seen only here (its protocol log disabled) becomes a whole-session node
(``msg == -1``) that the chain reports as a gap, with its session id when the event names
it.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from mailhops.index import schema
from mailhops.index.links_common import RULE, link_frame
from mailhops.index.links_logs import SID, _key
from mailhops.index.servers import ip_of


def rule_tracking_internal_id(nodes: pl.LazyFrame, tracking: pl.LazyFrame) -> pl.LazyFrame:
    """Hub tracking ``SEND`` (source SMTP) with ``internal-message-id`` R and source-context
    ``{sendSID};{reply}`` (§5): the receive segment that issued R on that server -> the send
    session sendSID (its segment with the same Message-ID, or the whole session when its
    protocol log is missing)."""
    sends = tracking.filter((pl.col("event_id") == "SEND") & (pl.col("source") == "SMTP"))
    sends = sends.select(
        "server",
        pl.col("internal_message_id").alias("own_iid"),
        _key(
            "server", "service", schema.SEND, pl.col("source_context").str.extract("^" + SID, 1)
        ).alias("dst"),
        pl.col("message_id").alias("t_mid"),
    ).drop_nulls(["dst", "own_iid"])
    c = _issuers(nodes)
    d = nodes.select(pl.col("key").alias("dst"), pl.col("message_id").alias("t_mid"), "msg")
    j = c.join(sends, on=["server", "own_iid"]).join(d, on=["dst", "t_mid"], how="left")
    j = j.with_columns(pl.col("msg").fill_null(-1)).unique(["src", "src_msg", "dst", "msg"])
    return link_frame(
        j,
        src="src",
        src_msg="src_msg",
        dst="dst",
        dst_msg="msg",
        rule="tracking_internal_id",
        evidence=pl.format("internal-message-id {}", "own_iid"),
        confidence=0.9,
    )


_IID2: Final = r"\[InternalId=(\d+)(?:, Hostname=([^\]\s]+))?\]"


def _sends(tracking: pl.LazyFrame) -> pl.LazyFrame:
    """Hub tracking SEND (source SMTP) rows: server, own_iid, send sid, reply, target."""
    return (
        tracking.filter((pl.col("event_id") == "SEND") & (pl.col("source") == "SMTP"))
        .select(
            "server",
            "ts",
            pl.col("internal_message_id").alias("own_iid"),
            pl.col("source_context").str.extract("^" + SID, 1).alias("dsid"),
            pl.col("source_context").str.extract(_IID2, 1).alias("iid2"),
            # 2010 replies name no Hostname: the SEND's server-hostname is the next hop.
            pl.coalesce(pl.col("source_context").str.extract(_IID2, 2), pl.col("server_hostname"))
            .str.split(".")
            .list.first()
            .str.to_uppercase()
            .alias("host2"),
            pl.col("server_hostname").str.split(".").list.first().str.to_uppercase().alias("m"),
            pl.col("sender_address").alias("mail_from"),
        )
        .drop_nulls(["own_iid", "dsid"])
    )


def _issuers(nodes: pl.LazyFrame) -> pl.LazyFrame:
    """(server, own_iid) -> the segment that stands for the message on that Hub: the receive
    segment that issued the InternalId, else (its session not logged) a segment upstream
    whose relayed reply ``[InternalId=R, Hostname=H]`` names it."""
    own = nodes.filter(pl.col("own_iid").is_not_null()).select(
        "server", "own_iid", pl.col("key").alias("src"), pl.col("msg").alias("src_msg")
    )
    relayed = nodes.filter(
        pl.col("reply_iid").is_not_null()
        & pl.col("own_iid").is_null()
        & pl.col("host_server").is_not_null()
    ).select(
        pl.col("host_server").alias("server"),
        pl.col("reply_iid").alias("own_iid"),
        pl.col("key").alias("src"),
        pl.col("msg").alias("src_msg"),
    )
    relayed = relayed.join(own.select("server", "own_iid"), on=["server", "own_iid"], how="anti")
    return pl.concat([own, relayed])


def rule_tracking_send_reply(nodes: pl.LazyFrame, tracking: pl.LazyFrame) -> pl.LazyFrame:
    """Hub tracking ``SEND`` whose source-context carries the next Hub's reply
    ``[InternalId=R2, Hostname=H2]`` (§3.5): the receive segment that issued the sent
    message's R -> the receive segment on H2 that issued R2 (the Hub send hop not logged)."""
    sends = _issuers(nodes).join(_sends(tracking).drop_nulls("iid2"), on=["server", "own_iid"])
    issuer = nodes.filter(pl.col("own_iid").is_not_null()).select(
        pl.col("server").alias("host2"),
        pl.col("own_iid").alias("iid2"),
        pl.col("key").alias("dst"),
        pl.col("msg").alias("dst_msg"),
    )
    # The server the SEND went to may be a Front End that relayed the Hub's reply (an Edge
    # sending to a FE): its receive segment carrying the reply comes first in the chain.
    relay = nodes.filter(
        (pl.col("direction") == schema.RECEIVE)
        & pl.col("reply_iid").is_not_null()
        & pl.col("own_iid").is_null()
    ).select(
        pl.col("server").alias("m"),
        pl.col("reply_iid").alias("iid2"),
        pl.col("key").alias("dst"),
        pl.col("msg").alias("dst_msg"),
    )
    first = sends.join(relay, on=["m", "iid2"])
    j = pl.concat(
        [
            first,
            sends.join(first.select("src", "src_msg"), on=["src", "src_msg"], how="anti").join(
                issuer, on=["host2", "iid2"]
            ),
        ],
        how="diagonal_relaxed",
    )
    return link_frame(
        j,
        src="src",
        src_msg="src_msg",
        dst="dst",
        dst_msg="dst_msg",
        rule="tracking_send_reply",
        evidence=pl.format("SEND {} InternalId={}", "dsid", "iid2"),
        confidence=0.9,
    )


def rule_tracking_send_next(nodes: pl.LazyFrame, tracking: pl.LazyFrame) -> pl.LazyFrame:
    """Hub tracking ``SEND`` to a lab server (``server-hostname``) with a reply that names no
    InternalId (mailbox delivery, ``250 2.0.0 OK``): the receive segment that issued R -> the
    receive segment on that server, from this Hub, same sender, ending nearest the event."""
    sends = _sends(tracking).filter(pl.col("iid2").is_null())
    sends = _issuers(nodes).join(sends, on=["server", "own_iid"])
    sends = sends.with_columns(pl.col("server").alias("peer_server"))
    sends = sends.sort(["ts", "src", "src_msg"])
    # A Hub receive would have answered with [InternalId=...]: only mailbox delivery fits.
    mbx = (pl.col("direction") == schema.RECEIVE) & (pl.col("service") == schema.MAILBOX_DELIVERY)
    recv = (
        nodes.filter(mbx)
        .select(
            pl.col("server").alias("m"),
            "peer_server",
            "mail_from",
            pl.col("key").alias("dst"),
            pl.col("msg").alias("dst_msg"),
            pl.col("end").alias("r_end"),
        )
        .drop_nulls(["peer_server", "mail_from"])
        .sort(["r_end", "dst", "dst_msg"])
    )
    j = sends.join_asof(
        recv,
        left_on="ts",
        right_on="r_end",
        by=["m", "peer_server", "mail_from"],
        strategy="nearest",
        tolerance="30s",
        check_sortedness=False,
    ).drop_nulls("dst")
    # One transaction answers one SEND event: the nearest wins.
    # Equally near candidates: the keys decide, not the order the join returned them in.
    j = j.with_columns((pl.col("ts") - pl.col("r_end")).abs().alias("_d"))
    j = j.sort(["_d", "src", "src_msg", "dst", "dst_msg"])
    j = j.unique(["dst", "dst_msg"], keep="first").unique(["src", "src_msg"], keep="first")
    return link_frame(
        j,
        src="src",
        src_msg="src_msg",
        dst="dst",
        dst_msg="dst_msg",
        rule="tracking_send_next",
        evidence=pl.format("SEND {} to {}", "dsid", "m"),
        confidence=0.8,
    )


def rule_tracking_xproxyto(nodes: pl.LazyFrame, tracking: pl.LazyFrame) -> pl.LazyFrame:
    """Hub tracking ``SEND`` source-context session id D = the ``SESSIONID=D`` of
    ``XPROXYTO`` / ``Outbound proxy ... with session id D`` on a Front End (§3.2): the
    receive segment that issued R -> that FE segment (the Hub send hop not logged)."""
    sends = _issuers(nodes).join(_sends(tracking), on=["server", "own_iid"])
    fe = nodes.filter(
        pl.col("upstream_ff").is_not_null() & (pl.col("service") == schema.FRONTEND)
    ).select(
        pl.col("upstream_ff").alias("dsid"),
        pl.col("peer_server").alias("fe_peer"),
        pl.col("key").alias("dst"),
        pl.col("msg").alias("dst_msg"),
    )
    j = sends.join(fe, on="dsid").filter(
        pl.col("fe_peer").is_null() | (pl.col("fe_peer") == pl.col("server"))
    )
    return link_frame(
        j,
        src="src",
        src_msg="src_msg",
        dst="dst",
        dst_msg="dst_msg",
        rule="tracking_xproxyto",
        evidence=pl.format("SEND {}", "dsid"),
        confidence=0.9,
    )


def rule_tracking_shadow(nodes: pl.LazyFrame, tracking: pl.LazyFrame) -> pl.LazyFrame:
    """Tracking ``HAREDIRECT`` (shadow copy made, internal id R on S) and ``HARECEIVE`` (the
    copy arrived on P with R') of one Message-ID (§3.6): the receive segment that issued R ->
    the one that issued R' on P, as a side branch."""
    ev = tracking.filter(pl.col("event_id").is_in(["HAREDIRECT", "HARECEIVE"])).select(
        "server", "event_id", "message_id", pl.col("internal_message_id").alias("own_iid")
    )
    red = ev.filter(pl.col("event_id") == "HAREDIRECT").drop("event_id")
    rec = ev.filter(pl.col("event_id") == "HARECEIVE").select(
        pl.col("server").alias("p"), "message_id", pl.col("own_iid").alias("iid_p")
    )
    dst = nodes.filter(pl.col("own_iid").is_not_null()).select(
        pl.col("server").alias("p"),
        pl.col("own_iid").alias("iid_p"),
        pl.col("key").alias("dst"),
        pl.col("msg").alias("dst_msg"),
    )
    j = _issuers(nodes).join(red, on=["server", "own_iid"]).join(rec, on="message_id")
    j = j.filter(pl.col("p") != pl.col("server")).join(dst, on=["p", "iid_p"])
    out = link_frame(
        j,
        src="src",
        src_msg="src_msg",
        dst="dst",
        dst_msg="dst_msg",
        rule="tracking_shadow",
        evidence=pl.format("HAREDIRECT {} / HARECEIVE {}", "own_iid", "iid_p"),
        confidence=0.9,
    )
    return out.with_columns(pl.lit(True).alias("side"))


def rule_tracking_deliver(nodes: pl.LazyFrame, tracking: pl.LazyFrame) -> pl.LazyFrame:
    """Mailbox delivery tracking ``DELIVER`` (MSGTRKMD, L13): its ``internal-message-id`` is
    the Hub's RecordId R and ``client-hostname`` the Hub. The receive segment that issued R
    -> the delivery receive stream of the mailbox server: a gap witness (session unknown)
    when no logged session carries the hop."""
    dl = tracking.filter(
        (pl.col("event_id") == "DELIVER") & (pl.col("service") == schema.MAILBOX_DELIVERY)
    ).select(
        pl.col("server").alias("m"),
        pl.col("internal_message_id").alias("own_iid"),
        pl.col("client_hostname").str.split(".").list.first().str.to_uppercase().alias("server"),
    )
    j = (
        _issuers(nodes)
        .join(dl, on=["server", "own_iid"])
        .with_columns(
            _key("m", pl.lit(schema.MAILBOX_DELIVERY), schema.RECEIVE, pl.lit("")).alias("dst"),
            pl.lit(-1).alias("dst_msg"),
        )
    )
    return link_frame(
        j,
        src="src",
        src_msg="src_msg",
        dst="dst",
        dst_msg="dst_msg",
        rule="tracking_deliver",
        evidence=pl.format("DELIVER internal-message-id {}", "own_iid"),
        confidence=0.8,
    )


def rule_tracking_client_proxy(nodes: pl.LazyFrame, tracking: pl.LazyFrame) -> pl.LazyFrame:
    """Hub tracking ``RECEIVE`` of a client-proxied submission: custom-data
    ``S:ProxiedClientIPAddress=ip`` (§5) and internal-message-id R. The FE ``Client Proxy``
    send segment whose ``XPROXY ... IP=ip`` went to that Hub just before -> the Hub send
    segment ``sending message with RecordId R`` (when the Hub's 465 receive was not logged)."""
    pat = r"S:ProxiedClientIPAddress=([^;]+)"
    rec = (
        tracking.filter(
            (pl.col("event_id") == "RECEIVE")
            & pl.col("custom_data").str.contains("ProxiedClientIPAddress", literal=True)
        )
        .select(
            pl.col("server").alias("peer_server"),
            pl.col("internal_message_id").alias("rid"),
            pl.col("custom_data").str.extract(pat, 1).str.to_lowercase().alias("ip"),
            "ts",
        )
        .drop_nulls()
        .sort(["ts", "rid"])
    )
    b = (
        nodes.filter(
            (pl.col("direction") == schema.SEND)
            & (pl.col("service") == schema.FRONTEND)
            & pl.col("xproxy_ep").is_not_null()
        )
        .select("key", "msg", "peer_server", ip_of(pl.col("xproxy_ep")).alias("ip"), "start")
        .sort(["start", "key", "msg"])
    )
    j = rec.join_asof(
        b,
        left_on="ts",
        right_on="start",
        by=["peer_server", "ip"],
        strategy="backward",
        tolerance="10m",
        check_sortedness=False,
    ).drop_nulls("key")
    d = nodes.filter(
        (pl.col("direction") == schema.SEND) & pl.col("record_id").is_not_null()
    ).select(
        pl.col("server").alias("peer_server"),
        pl.col("record_id").alias("rid"),
        pl.col("key").alias("dst"),
        pl.col("msg").alias("dst_msg"),
    )
    j = j.join(d, on=["peer_server", "rid"])
    return link_frame(
        j,
        src="key",
        src_msg="msg",
        dst="dst",
        dst_msg="dst_msg",
        rule="tracking_client_proxy",
        evidence=pl.format("RECEIVE ProxiedClientIPAddress={} RecordId {}", "ip", "rid"),
        confidence=0.85,
    )


def rule_tracking_receive(nodes: pl.LazyFrame, tracking: pl.LazyFrame) -> pl.LazyFrame:
    """Hub tracking ``RECEIVE`` (source SMTP, L7): source-context ``{recvSID};{start};{n}``,
    internal-message-id R. When the receive session is not logged, it and the hop that fed
    it (``S:ProxyHop1=`` -> a Front End, ``Originating`` from a lab server -> mailbox
    submission, else the peer Hub) become gap witnesses in front of the send segment with
    ``sending message with RecordId R``."""
    custom = pl.col("custom_data").fill_null("")
    client = pl.col("client_hostname").str.split(".").list.first().str.to_uppercase()
    fe = custom.str.extract(r"S:ProxyHop1=([^.(;]+)", 1).str.to_uppercase()
    feeder = (
        pl.when(fe.is_not_null())
        .then(_key(fe, pl.lit(schema.FRONTEND), schema.SEND, pl.lit("")))
        .when(custom.str.contains("ProxiedClient"))
        .then(pl.lit(None, pl.String))
        .when(pl.col("directionality") == "Originating")
        .then(_key(client, pl.lit(schema.MAILBOX_SUBMISSION), schema.SEND, pl.lit("")))
        .otherwise(_key(client, pl.lit(schema.HUB), schema.SEND, pl.lit("")))
    )
    rec = tracking.filter((pl.col("event_id") == "RECEIVE") & (pl.col("source") == "SMTP"))
    rec = rec.select(
        "server",
        pl.col("internal_message_id").alias("record_id"),
        _key(
            "server", "service", schema.RECEIVE, pl.col("source_context").str.extract("^" + SID, 1)
        ).alias("c"),
        feeder.alias("f"),
    ).drop_nulls(["record_id", "c"])
    d = nodes.filter((pl.col("direction") == schema.SEND) & pl.col("record_id").is_not_null())
    d = d.select("server", "record_id", pl.col("key").alias("dst"), pl.col("msg").alias("dst_msg"))
    j = rec.join(d, on=["server", "record_id"])
    both = pl.concat(
        [
            j.select(pl.col("c").alias("src"), "dst", "dst_msg", "record_id"),
            j.drop_nulls("f").select(pl.col("f").alias("src"), "dst", "dst_msg", "record_id"),
        ]
    ).with_columns(pl.lit(-1).alias("src_msg"))
    return link_frame(
        both,
        src="src",
        src_msg="src_msg",
        dst="dst",
        dst_msg="dst_msg",
        rule="tracking_receive",
        evidence=pl.format("RECEIVE internal-message-id {}", "record_id"),
        confidence=0.7,
    )


def rule_tracking_fail(nodes: pl.LazyFrame, tracking: pl.LazyFrame) -> pl.LazyFrame:
    """Hub tracking ``DEFER`` / ``FAIL`` (source SMTP, source-context = the send session id,
    §5): the receive segment that issued R -> that send session (a gap witness when its
    protocol log is missing); the chain reads the outcome and the recipient-status here."""
    rows = tracking.filter(
        pl.col("event_id").is_in(["DEFER", "FAIL"]) & (pl.col("source") == "SMTP")
    ).select(
        "server",
        "event_id",
        pl.col("internal_message_id").alias("own_iid"),
        pl.col("source_context").str.extract("^" + SID, 1).alias("dsid"),
        pl.col("recipient_status").fill_null("").alias("status"),
        "service",
    )
    j = (
        _issuers(nodes)
        .join(rows.drop_nulls("dsid"), on=["server", "own_iid"])
        .with_columns(
            _key("server", "service", schema.SEND, pl.col("dsid")).alias("dst"),
            pl.lit(-1).alias("dst_msg"),
            pl.concat_str([pl.lit("tracking_"), pl.col("event_id").str.to_lowercase()]).alias("_r"),
        )
    )
    out = link_frame(
        j,
        src="src",
        src_msg="src_msg",
        dst="dst",
        dst_msg="dst_msg",
        rule="tracking_fail",
        evidence=pl.format("{} {}", "event_id", "status"),
        confidence=0.9,
    )
    return out.with_columns(
        pl.when(pl.col("evidence").str.starts_with("DEFER"))
        .then(pl.lit("tracking_defer"))
        .otherwise(pl.lit("tracking_fail"))
        .cast(RULE)
        .alias("rule")
    )
