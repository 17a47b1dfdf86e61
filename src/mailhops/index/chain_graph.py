"""The adjacency of the links table, built once per index so a trace costs O(hops).

Nodes are ``(session key, msg)``: a message segment, or ``msg == -1`` for a whole session
(sessions without a transaction, or seen only in the connectivity/tracking logs). Every
lookup a trace needs (session id, Message-ID, InternalId -> nodes; node -> edges; node ->
attributes) is a dict built here from whole columns, never per query.
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


def _col(frame: pl.DataFrame, name: str, default: Any = None) -> list[Any]:
    if name in frame.columns:
        return frame[name].to_list()
    return [default] * frame.height


class ChainGraph:
    """Dict-based adjacency and lookups over messages, links and sessions."""

    def __init__(self, messages: pl.DataFrame, links: pl.DataFrame, sessions: pl.DataFrame):
        self.sessions: dict[str, Info] = {}
        self.info: dict[Node, Info] = {}
        self.msgs_of: dict[str, list[int]] = defaultdict(list)
        self.by_sid: dict[str, list[str]] = defaultdict(list)
        self.by_mid: dict[str, list[Node]] = defaultdict(list)
        self.by_iid: dict[str, list[Node]] = defaultdict(list)
        self.out: dict[Node, list[Edge]] = defaultdict(list)
        self.inc: dict[Node, list[Edge]] = defaultdict(list)
        self.ip_server: dict[str, str] = {}
        self._load_sessions(sessions)
        self._load_messages(messages)
        self._load_links(links)

    def _load_sessions(self, s: pl.DataFrame) -> None:
        ips = s.select("server", "direction", ip_of(pl.col("local_ep")).alias("ip")).filter(
            (pl.col("direction") == "receive") & pl.col("ip").is_not_null()
        )
        self.ip_server = dict(zip(ips["ip"].to_list(), ips["server"].to_list(), strict=True))
        cols = zip(
            s["key"].to_list(),
            s["session_id"].to_list(),
            s["connector"].to_list(),
            s["start"].to_list(),
            s["end"].to_list(),
            s["last_reply"].to_list(),
            s["last_code"].to_list(),
            s["remote_ep"].to_list(),
            s["outcome"].to_list(),
            strict=True,
        )
        for key, sid, conn, start, end, reply, code, rep, outcome in cols:
            self.sessions[key] = Info(
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
            self.by_sid[sid].append(key)

    def _load_messages(self, m: pl.DataFrame) -> None:
        xproxy = _col(m, "xproxy_sid")
        mail_ord = _col(m, "mail_ord")
        cols = zip(
            m["key"].to_list(),
            m["msg"].to_list(),
            m["start"].to_list(),
            m["end"].to_list(),
            m["reply"].to_list(),
            m["code"].to_list(),
            m["message_id"].to_list(),
            m["mail_from"].to_list(),
            m["rcpt_to"].to_list(),
            m["internal_id"].to_list(),
            xproxy,
            mail_ord,
            strict=True,
        )
        for key, msg, start, end, reply, code, mid, mfrom, rcpt, iid, xp, mo in cols:
            sess = self.sessions.get(key)
            if sess is None:
                self.by_sid[key.rsplit("|", 1)[-1]].append(key)
            node = (key, msg)
            self.info[node] = Info(
                sess.connector if sess else "",
                start,
                end,
                reply or "",
                code,
                mid,
                mfrom,
                rcpt or [],
                sess.remote_ep if sess else "",
                xp is not None,
                sess.outcome if sess else "",
                -1 if mo is None else mo,
            )
            self.msgs_of[key].append(msg)
            if mid:
                self.by_mid[mid].append(node)
            if iid:
                self.by_iid[iid].append(node)

    def norm(self, node: Node) -> Node | None:
        """A whole-session end of a link, mapped to its only segment; None if ambiguous."""
        key, msg = node
        if msg >= 0:
            return node
        msgs = self.msgs_of.get(key)
        if not msgs:
            return node
        return (key, msgs[0]) if len(msgs) == 1 else None

    def _load_links(self, lk: pl.DataFrame) -> None:
        cols = zip(
            lk["src"].to_list(),
            lk["src_msg"].to_list(),
            lk["dst"].to_list(),
            lk["dst_msg"].to_list(),
            lk["rule"].to_list(),
            lk["evidence"].to_list(),
            lk["confidence"].to_list(),
            lk["side"].to_list(),
            strict=True,
        )
        for src, sm, dst, dm, rule, ev, conf, side in cols:
            a, b = self.norm((src, sm)), self.norm((dst, dm))
            if a is None or b is None or a == b:
                continue
            self.out[a].append(Edge(b, rule, ev or "", conf, bool(side)))
            self.inc[b].append(Edge(a, rule, ev or "", conf, bool(side)))

    def node_info(self, node: Node) -> Info | None:
        """Attributes of a node: its segment, else its session; None if never logged."""
        got = self.info.get(node)
        if got is not None:
            return got
        return self.sessions.get(node[0]) if node[1] < 0 else None

    def nodes_of_session(self, key: str) -> list[Node]:
        """The segments of a session, or the whole session when it has none."""
        msgs = self.msgs_of.get(key)
        if msgs:
            return [(key, m) for m in msgs]
        return [(key, -1)] if key in self.sessions else []

    def component(self, start: Node, *, side: bool = False, limit: int = 256) -> set[Node]:
        """Nodes reachable from ``start`` through links of the given kind (either way)."""
        seen = {start}
        todo = [start]
        while todo and len(seen) < limit:
            node = todo.pop()
            if node != start and self.node_info(node) is None:
                # A session seen only in connectivity/tracking (e.g. a cached send session
                # carrying many messages) is a leaf: it must not join unrelated messages.
                continue
            for edge in (*self.out.get(node, ()), *self.inc.get(node, ())):
                if edge.side == side and edge.other not in seen:
                    seen.add(edge.other)
                    todo.append(edge.other)
        return seen
