"""The adjacency of the links table, built once per index so a trace costs O(hops).

Nodes are ``(session key, msg)``: a message segment, or ``msg == -1`` for a whole session
(sessions without a transaction, or seen only in the connectivity/tracking logs). The build
turns whole columns into dicts (lookups and adjacency) once; the attributes of a node are
read from its row only when a trace shows it, so opening a large index stays cheap.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, NamedTuple

import polars as pl

from mailhops.index.servers import ip_of

Node = tuple[str, int]


class Edge(NamedTuple):
    """One link seen from one of its ends."""

    other: Node
    rule: str
    evidence: str
    confidence: float
    side: bool


class Info(NamedTuple):
    """What a hop shows, from MESSAGES (segment) or SESSIONS (whole session)."""

    connector: str
    start: datetime | None
    end: datetime | None
    reply: str
    code: int | None
    message_id: str | None
    mail_from: str | None
    rcpt_to: list[str]
    remote_ep: str
    xproxy: bool  # the segment arrived with XPROXYFROM/XPROXY (it came from a Front End)
    outcome: str
    mail_ord: int  # MAIL FROM ordinal in the session, -1: none


class _Adjacency:
    """node -> its links as :class:`Edge` objects, built from the link rows on demand (a
    trace touches a handful of nodes; building every edge up front costs seconds at 1 GB)."""

    def __init__(self, links: pl.DataFrame, me: str, other: str) -> None:
        self._links = links.select(
            pl.col(other), pl.col(f"{other}_msg"), "rule", "evidence", "confidence", "side"
        )
        idx = links.with_row_index("_i").group_by([me, f"{me}_msg"]).agg(pl.col("_i"))
        nodes = zip(idx[me].to_list(), idx[f"{me}_msg"].to_list(), strict=True)
        self._rows: dict[Node, list[int]] = dict(zip(nodes, idx["_i"].to_list(), strict=True))
        self._cache: dict[Node, list[Edge]] = {}

    def get(self, node: Node, default: Any = ()) -> Any:
        """The edges of ``node`` (``default`` when it has none)."""
        got = self._cache.get(node)
        if got is not None:
            return got
        rows = self._rows.get(node)
        if rows is None:
            return default
        # One gather for all of a node's rows: a polars call per row costs more.
        tuples = [self._links.row(rows[0])] if len(rows) == 1 else self._links[rows].rows()
        edges = [
            Edge((key, msg), rule, ev or "", conf, bool(side))
            for key, msg, rule, ev, conf, side in tuples
        ]
        self._cache[node] = edges
        return edges


class _Lookup:
    """value (Message-ID, InternalId) -> nodes, resolved on demand with one filter."""

    def __init__(self, messages: pl.DataFrame, col: str) -> None:
        self._frame = messages.select("key", "msg", col).filter(pl.col(col).is_not_null())
        self._col = col

    def get(self, value: str, default: Any = ()) -> Any:
        """The nodes whose column equals ``value``."""
        rows = self._frame.filter(pl.col(self._col) == value)
        return list(zip(rows["key"].to_list(), rows["msg"].to_list(), strict=True)) or default


_MSG_COLS = ("start", "end", "reply", "code", "message_id", "mail_from", "rcpt_to")
_SESS_COLS = ("connector", "start", "end", "last_reply", "last_code", "remote_ep", "outcome")


def _normalised_links(links: pl.DataFrame, messages: pl.DataFrame) -> pl.DataFrame:
    """Map a whole-session end (msg -1) of a session that has segments to its only segment;
    drop the link when the session has several (it cannot say which message)."""
    per_key = messages.group_by("key").agg(pl.len().alias("n"), pl.col("msg").min().alias("m0"))
    out = links
    for end in ("src", "dst"):
        col = f"{end}_msg"
        k = per_key.rename({"key": end, "n": "_n", "m0": "_m0"})
        out = (
            out.join(k, on=end, how="left")
            .with_columns(
                pl.when((pl.col(col) < 0) & (pl.col("_n") == 1))
                .then(pl.col("_m0"))
                .otherwise(pl.col(col))
                .alias(col),
                ((pl.col(col) < 0) & (pl.col("_n") > 1)).fill_null(False).alias(f"_bad_{end}"),
            )
            .drop("_n", "_m0")
        )
    keep = ~pl.col("_bad_src") & ~pl.col("_bad_dst")
    same = (pl.col("src") == pl.col("dst")) & (pl.col("src_msg") == pl.col("dst_msg"))
    return out.filter(keep & ~same)


class ChainGraph:
    """Dict-based adjacency and lookups over messages, links and sessions."""

    def __init__(self, messages: pl.DataFrame, links: pl.DataFrame, sessions: pl.DataFrame):
        self._messages = messages.select(
            [c for c in (*_MSG_COLS, "xproxy_sid", "mail_ord") if c in messages.columns]
        )
        self._sessions = sessions.select(list(_SESS_COLS))
        self._cache: dict[Node, Info | None] = {}
        self.msg_row: dict[Node, int] = {}
        self.sess_row: dict[str, int] = {}
        self.msgs_of: dict[str, list[int]] = defaultdict(list)
        self.by_sid: dict[str, list[str]] = defaultdict(list)
        self.by_mid = _Lookup(messages, "message_id")
        self.by_iid = _Lookup(messages, "internal_id")
        self.ip_server: dict[str, str] = {}
        self._load_sessions(sessions)
        self._load_messages(messages)
        norm = _normalised_links(links, messages)
        self.out = _Adjacency(norm, "src", "dst")
        self.inc = _Adjacency(norm, "dst", "src")

    def _load_sessions(self, s: pl.DataFrame) -> None:
        ips = s.select("server", "direction", ip_of(pl.col("local_ep")).alias("ip")).filter(
            (pl.col("direction") == "receive") & pl.col("ip").is_not_null()
        )
        self.ip_server = dict(zip(ips["ip"].to_list(), ips["server"].to_list(), strict=True))
        keys = s["key"].to_list()
        self.sess_row = {k: i for i, k in enumerate(keys)}
        for key, sid in zip(keys, s["session_id"].to_list(), strict=True):
            self.by_sid[sid].append(key)

    def _load_messages(self, m: pl.DataFrame) -> None:
        keys = m["key"].to_list()
        msgs = m["msg"].to_list()
        self.msg_row = dict(zip(zip(keys, msgs, strict=True), range(len(keys)), strict=True))
        per_key = m.group_by("key", maintain_order=True).agg(pl.col("msg"))
        self.msgs_of = dict(zip(per_key["key"].to_list(), per_key["msg"].to_list(), strict=True))
        for key in self.msgs_of:
            if key not in self.sess_row:  # segments of a session SESSIONS does not list
                self.by_sid[key.rsplit("|", 1)[-1]].append(key)

    def has_session(self, key: str) -> bool:
        """True when ``key`` is a logged session (or has segments)."""
        return key in self.sess_row or key in self.msgs_of

    def session_info(self, key: str) -> Info | None:
        """The whole-session attributes of a logged session."""
        i = self.sess_row.get(key)
        if i is None:
            return None
        conn, start, end, reply, code, rep, outcome = self._sessions.row(i)
        return Info(
            conn or "",
            start,
            end,
            reply or "",
            code,
            None,
            None,
            [],
            rep or "",
            False,
            outcome or "",
            -1,
        )

    def _segment_info(self, node: Node) -> Info | None:
        i = self.msg_row.get(node)
        if i is None:
            return None
        row: dict[str, Any] = self._messages.row(i, named=True)
        sess = self.session_info(node[0])
        mail_ord = row.get("mail_ord")
        return Info(
            sess.connector if sess else "",
            row["start"],
            row["end"],
            row["reply"] or "",
            row["code"],
            row["message_id"],
            row["mail_from"],
            row["rcpt_to"] or [],
            sess.remote_ep if sess else "",
            row.get("xproxy_sid") is not None,
            sess.outcome if sess else "",
            -1 if mail_ord is None else mail_ord,
        )

    def node_info(self, node: Node) -> Info | None:
        """Attributes of a node: its segment, else its session; None if never logged."""
        if node in self._cache:
            return self._cache[node]
        got = self._segment_info(node) if node[1] >= 0 else self.session_info(node[0])
        self._cache[node] = got
        return got

    def nodes_of_session(self, key: str) -> list[Node]:
        """The segments of a session, or the whole session when it has none."""
        msgs = self.msgs_of.get(key)
        if msgs:
            return [(key, m) for m in msgs]
        return [(key, -1)] if key in self.sess_row else []

    def component(self, start: Node, *, side: bool = False, limit: int = 256) -> set[Node]:
        """Nodes reachable from ``start`` through links of the given kind (either way)."""
        seen = {start}
        todo = [start]
        while todo and len(seen) < limit:
            node = todo.pop()
            if node != start and node[1] < 0 and not self.has_session(node[0]):
                # A session seen only in connectivity/tracking (e.g. a cached send session
                # carrying many messages) is a leaf: it must not join unrelated messages.
                continue
            for edge in (*self.out.get(node, ()), *self.inc.get(node, ())):
                if edge.side == side and edge.other not in seen:
                    seen.add(edge.other)
                    todo.append(edge.other)
        return seen
