"""Shared pieces of the linking rules: the node table (one row a message segment with its
session's endpoints and peer server) and small expression helpers."""

from __future__ import annotations

from typing import Final

import polars as pl

from mailhops.index import schema
from mailhops.index.engine import ENGINE
from mailhops.index.servers import ServerMap, ip_of

__all__ = [
    "ENGINE",
    "KEY",
    "LINK_COLS",
    "MID",
    "RULE",
    "UNUSED_MESSAGE_COLUMNS",
    "empty_links",
    "link_frame",
    "nodes_frame",
    "ordinal",
    "own_strings",
    "peer_ok",
]

LINK_COLS: Final = list(schema.LINKS)
#: The dtype of session keys while linking: a key is written once in polars' global
#: categories and the rules' joins, sorts and dedupes compare 4-byte codes, not ~40-byte
#: strings (~80 MB less at the peak of a 1 GB build; a sort still follows the strings'
#: order). LINKS leaves with String keys.
KEY: Final = pl.Categorical()
#: The dtype of Message-IDs while linking (each one is on every hop of its message, and
#: on its tracking events): written once, compared as codes.
MID: Final = pl.Categorical()
#: The dtype of the rule name while linking (a few names on every link row).
RULE: Final = pl.Categorical()
_FFILL: Final = {
    "proxied_sid": "proxied_ff",
    "xproxy_sid": "xproxy_ff",
    "upstream_sid": "upstream_ff",
}
#: MESSAGES columns no rule reads: left out of the node table (the reply text alone is a
#: quarter of its bytes).
UNUSED_MESSAGE_COLUMNS: Final = [
    "rcpt_to",
    "internal_id",
    "reply",
    "code",
    "connector",
    "seq",
    "mail_ord",
    "temp_n",
]
#: Node columns no rule reads once the forward-filled ids and the shadow flag are made
#: (each string column of the node table is 16 bytes a message).
_SPENT: Final = ["proxied_sid", "xproxy_sid", "upstream_sid", "redundancy", "conn_shadow"]
#: Services that issue ``[InternalId=R]`` for a message they accepted.
_ISSUERS: Final = [schema.HUB, schema.EDGE, schema.UNKNOWN]


def own_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its strings copied out of the buffers they were cut from.

    A filtered or aggregated string is a view into the buffer of the whole column it was
    taken from (every line of a stream, every event of the tracking logs): kept, a few
    views keep that whole buffer alive. The copy costs the size of ``frame``."""
    copies = [
        pl.concat_str([pl.col(name), pl.lit("")]).alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    ]
    return frame.with_columns(copies)


def empty_links() -> pl.LazyFrame:
    """An empty LINKS frame."""
    return pl.DataFrame(schema=schema.LINKS).lazy()


def ordinal(partition: list[str], col: str = "msg") -> pl.Expr:
    """0-based rank of ``col`` within ``partition`` (the k-th message of a pairing)."""
    return (pl.col(col).rank("dense").over(partition) - 1).cast(pl.Int32)


def peer_ok(peer: str, server: str) -> pl.Expr:
    """The peer server learned from an endpoint agrees with ``server`` (or is unknown)."""
    return pl.col(peer).is_null() | pl.col(server).is_null() | (pl.col(peer) == pl.col(server))


def link_frame(
    j: pl.LazyFrame,
    *,
    src: str,
    src_msg: str,
    dst: str,
    dst_msg: str,
    rule: str,
    evidence: pl.Expr,
    confidence: float,
) -> pl.LazyFrame:
    """Select the LINKS columns out of a rule's joined frame."""
    return j.select(
        pl.col(src).cast(KEY).alias("src"),
        pl.col(src_msg).cast(pl.Int32).alias("src_msg"),
        pl.col(dst).cast(KEY).alias("dst"),
        pl.col(dst_msg).cast(pl.Int32).alias("dst_msg"),
        pl.lit(rule).cast(RULE).alias("rule"),
        evidence.cast(pl.String).alias("evidence"),
        pl.lit(confidence, pl.Float32).alias("confidence"),
        pl.lit(False).alias("side"),
    )


def _session_info(lines: pl.LazyFrame, sessions: pl.DataFrame | None) -> pl.LazyFrame:
    """(key, sess_start, local_ep, remote_ep) from SESSIONS, or from the lines."""
    if sessions is not None and sessions.height > 0:
        return sessions.lazy().select(
            "key", pl.col("start").alias("sess_start"), "local_ep", "remote_ep"
        )
    nonempty = pl.col("local_ep").filter(pl.col("local_ep") != "").first()
    remote = pl.col("remote_ep").filter(pl.col("remote_ep") != "").first()
    return (
        lines.with_columns(schema.session_key_expr())
        .group_by("key")
        .agg(pl.col("ts").min().alias("sess_start"), nonempty.alias("local_ep"), remote)
    )


def _shadow_sessions(connectivity: pl.LazyFrame | None) -> pl.LazyFrame:
    """Send sessions whose connectivity Destination is ``shadowredundancy`` (§3.6)."""
    if connectivity is None:
        return pl.LazyFrame(schema={"key": pl.String(), "conn_shadow": pl.Boolean()})
    return (
        connectivity.filter(pl.col("destination").str.to_lowercase() == "shadowredundancy")
        .select(
            pl.concat_str(
                [pl.col("server"), pl.col("service"), pl.lit(schema.SEND), pl.col("session_id")],
                separator="|",
            ).alias("key"),
            pl.lit(True).alias("conn_shadow"),
        )
        .unique("key")
    )


def _lookup(on: pl.Expr, table: pl.DataFrame, key: str, value: str) -> pl.Expr:
    """``table[value]`` where ``table[key]`` equals ``on`` (keys unique), else null: a left
    join that adds one column without copying every other column of the frame."""
    return on.replace_strict(
        table[key], table[value], default=None, return_dtype=table.schema[value]
    ).alias(value)


def _rows_of(keys: pl.Series, table_keys: pl.Series) -> pl.Series:
    """Each of ``keys``'s row in ``table_keys`` (unique), null where it has none: each
    message's session row, found once for the columns taken from it. A left join keeping
    the left order (a tenth of the cost of ``replace_strict`` over 300k string keys)."""
    table = table_keys.to_frame("key").with_row_index("_row")
    found = keys.to_frame("key").join(table, on="key", how="left", maintain_order="left")
    if found.height != keys.len():  # a repeated table key (never from SESSIONS): its first
        table = table.unique("key", keep="first", maintain_order=True)
        found = keys.to_frame("key").join(table, on="key", how="left", maintain_order="left")
    return found.get_column("_row")


def _ffill_in_run(col: str, start: pl.Expr) -> pl.Expr:
    """``col`` forward-filled inside each run of rows that ``start`` opens (``over`` on
    many small groups is much slower than these global scans)."""
    idx = pl.int_range(pl.len(), dtype=pl.Int64)
    last = pl.when(pl.col(col).is_not_null()).then(idx).forward_fill()
    run = pl.when(start).then(idx).forward_fill()
    return pl.when(last >= run).then(pl.col(col).forward_fill())


def _sorted_by_key(messages: pl.DataFrame) -> bool:
    """The rows are in (key, msg) order."""
    key, msg = pl.col("key"), pl.col("msg")
    prev_key = key.shift(1)
    ordered = (key > prev_key) | ((key == prev_key) & (msg >= msg.shift(1)))
    return bool(messages.select(ordered.slice(1).all()).item())


def nodes_frame(
    lines: pl.LazyFrame,
    sessions: pl.DataFrame | None,
    messages: pl.DataFrame,
    servers: ServerMap | None,
    connectivity: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """The messages with what the rules join on: forward-filled proxy ids (a proxied block
    spans the following transactions of the session), endpoints, the peer server behind
    the remote IP, the server named by the reply's ``Hostname=`` and the shadow flag."""
    smap = servers if servers is not None else ServerMap()
    start = (pl.col("key") != pl.col("key").shift(1)).fill_null(True)
    ffill = [_ffill_in_run(c, start).alias(a) for c, a in _FFILL.items()]
    # The peer server is the session's: looked up once a session, not once a message.
    info = (
        _session_info(lines, sessions)
        .with_columns(_lookup(ip_of(pl.col("remote_ep")), smap.ip_table(), "ip", "peer_server"))
        .collect(engine=ENGINE)
    )
    shadow = _shadow_sessions(connectivity).collect(engine=ENGINE)
    frame = messages.drop(UNUSED_MESSAGE_COLUMNS, strict=False)
    if not _sorted_by_key(frame):  # the build hands them over sorted: no copy then
        frame = frame.sort(["key", "msg"])
    row = _rows_of(frame.get_column("key"), info.get_column("key"))
    nodes = (
        frame.lazy()
        # Shadow keys are unique: a left join adds the flag without repeating a row (a
        # hash join costs a fifth of a replace over every message key).
        .join(shadow.lazy(), on="key", how="left", maintain_order="left")
        .with_columns(ffill)
        .with_columns(
            *[info[c].gather(row).alias(c) for c in ("sess_start", "local_ep", "remote_ep")],
            info["peer_server"].gather(row).alias("peer_server"),
            _lookup(
                pl.col("reply_host").str.to_lowercase(), smap.name_table(), "name", "host_server"
            ),
        )
    )
    first_label = pl.col("reply_host").str.split(".").list.first().str.to_uppercase()
    own = (
        (pl.col("direction") == schema.RECEIVE)
        & pl.col("service").is_in(_ISSUERS)
        & (pl.col("host_server").is_null() | (pl.col("host_server") == pl.col("server")))
    )
    return nodes.with_columns(
        pl.coalesce("host_server", first_label).alias("host_server"),
        pl.when(own).then(pl.col("reply_iid")).alias("own_iid"),
        (pl.col("redundancy") | pl.col("conn_shadow").fill_null(False)).alias("shadow"),
        pl.col("key").cast(KEY),
        pl.col("message_id").cast(MID),
    ).drop(_SPENT)
