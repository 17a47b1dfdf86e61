"""The adjacency of the links table, built once per index so a trace costs O(hops).

Nodes are ``(session key, msg)``: a message segment, or ``msg == -1`` for a whole session
(sessions without a transaction, or seen only in the connectivity/tracking logs).

Nothing becomes a Python object up front (a dict per node took 25 s and gigabytes at a
million sessions): the build hashes the key columns of SESSIONS, MESSAGES and both ends of
the links and sorts the hashes, in polars (~2 s at a million sessions). A trace then reads
what it touches by binary search, a batch of keys at a time (the component walk asks for
its whole frontier at once), and keeps it: per key its session row, its segments and its
links both ways, per node its attributes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import polars as pl

from mailhops.index import schema
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


_SEED, _CHECK_SEED = 0x6D61696C, 0x686F7073  # any fixed seeds, the index's and a query's
_SOURCES = 4  # rows naming a key: 0 SESSIONS, 1 MESSAGES, 2 a link's src, 3 a link's dst
_ROW_BITS = 30  # a row number below 2**30, the source above it


def _hashes(key: pl.Expr) -> list[pl.Expr]:
    """The hash a key is sorted by, and a second one (32 bits) that confirms a match."""
    check = (key.hash(_CHECK_SEED) % (1 << 32)).cast(pl.UInt32)
    return [key.hash(_SEED).alias("h"), check.alias("check")]


class _KeyIndex:
    """Every row that names a session key (in SESSIONS, MESSAGES, either end of a link),
    found by binary search over the sorted hashes of the keys.

    Integers sort several times faster than strings, and one index answers the four
    lookups of a batch of keys in three polars calls. A row is the key's when both its
    hashes are the key's (96 bits: a false match is out of reach).
    """

    def __init__(self, columns: Sequence[pl.Series]) -> None:
        if max(len(c) for c in columns) >= 1 << _ROW_BITS:
            raise ValueError("too many rows for the chain index")
        parts = [
            pl.LazyFrame({"key": column}).select(
                *_hashes(pl.col("key")),
                (pl.int_range(pl.len(), dtype=pl.UInt32) | (source << _ROW_BITS)).alias("code"),
            )
            for source, column in enumerate(columns)
        ]
        index = pl.concat(parts).sort("h", maintain_order=True).collect()
        self._sorted = index.get_column("h")
        self._entries = index.select("check", "code")
        self._sources = len(columns)

    def find(self, keys: Sequence[str]) -> list[list[list[int]]]:
        """For each key, for each source, the rows naming it in ascending order."""
        found: list[list[list[int]]] = [[[] for _ in range(self._sources)] for _ in keys]
        query = pl.select(*_hashes(pl.lit(pl.Series(keys, dtype=pl.String))))
        hashes = query.get_column("h")
        checks = query.get_column("check").to_list()
        n, size = len(keys), len(self._sorted)
        bounds = self._sorted.search_sorted(pl.concat([hashes, hashes + 1]), side="left")
        edges = bounds.to_list()
        owners: list[int] = []
        positions: list[int] = []
        for i in range(n):
            lo, hi = edges[i], edges[n + i]
            if hi < lo:  # the largest hash: hash + 1 wrapped around
                hi = size
            positions.extend(range(lo, hi))
            owners.extend([i] * (hi - lo))
        if not positions:
            return found
        got = self._entries[positions]
        mask = (1 << _ROW_BITS) - 1
        entries = zip(owners, got["check"].to_list(), got["code"].to_list(), strict=True)
        for owner, check, code in entries:
            if check == checks[owner]:
                found[owner][code >> _ROW_BITS].append(code & mask)
        return found


class _Key(NamedTuple):
    """What the graph read of one session key."""

    session: int  # its SESSIONS row (the last one), -1: not a logged session
    msgs: list[int]  # its segments (``msg``), in MESSAGES order
    msg_rows: dict[int, int]  # msg -> MESSAGES row
    link_rows: list[int]  # the normalised links naming it (either end), in link order


class _Adjacency:
    """node -> its links as :class:`Edge` objects, seen from one end (``src``: out, ``dst``:
    in), worked out per key on first use."""

    def __init__(self, graph: ChainGraph, me: int) -> None:
        self._graph = graph
        self._me = me  # 0: the key is the link's src, 2: its dst (tuple positions)
        self._edges: dict[str, dict[int, list[Edge]]] = {}

    def get(self, node: Node, default: Any = ()) -> Any:
        """The edges of ``node`` (``default`` when it has none)."""
        edges = self._edges.get(node[0])
        if edges is None:
            edges = self._edges[node[0]] = self._of(node[0])
        return edges.get(node[1], default)

    def _of(self, key: str) -> dict[int, list[Edge]]:
        me, other = self._me, 2 - self._me
        edges: dict[int, list[Edge]] = {}
        for row in self._graph.links_of([key])[key]:
            if row[me] == key:
                rule, evidence, confidence, side = row[4:]
                edge = Edge(
                    (row[other], row[other + 1]), rule, evidence or "", confidence, bool(side)
                )
                edges.setdefault(row[me + 1], []).append(edge)
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

    def get_any_case(self, value: str) -> list[Node]:
        """The nodes whose column equals ``value`` ignoring case (a scan of every value)."""
        rows = self._frame.filter(pl.col(self._col).str.to_lowercase() == value.lower())
        return list(zip(rows["key"].to_list(), rows["msg"].to_list(), strict=True))


class _BySid:
    """session id -> session keys: the logged sessions with that id (SESSIONS order), then
    sessions only MESSAGES lists (their first segment's order); one filter a lookup."""

    def __init__(self, sessions: pl.DataFrame, messages: pl.DataFrame) -> None:
        self._sessions = sessions.select("key", "session_id")
        self._messages = messages.get_column("key")

    def get(self, sid: str, default: Any = ()) -> Any:
        """The keys of session id ``sid``."""
        keys = self._sessions.filter(pl.col("session_id") == sid).get_column("key").to_list()
        candidates = self._candidates(sid)
        logged = self._sessions.filter(pl.col("key").is_in(candidates)).get_column("key")
        known = set(logged.to_list())
        return (keys + [k for k in candidates if k not in known]) or default

    def keys_any_case(self, key: str) -> list[str]:
        """The logged session keys equal to ``key`` ignoring case."""
        folded = self._sessions.filter(pl.col("key").str.to_lowercase() == key.lower())
        return folded.get_column("key").to_list()

    def _candidates(self, sid: str) -> list[str]:
        ends = self._messages.filter(self._messages.str.ends_with(sid)).unique(maintain_order=True)
        return [k for k in ends.to_list() if k.rsplit("|", 1)[-1] == sid]


class _MsgsOf:
    """session key -> its segments (``msg`` values, MESSAGES order); keys without any are
    not in it (as a dict of the keys that have segments)."""

    def __init__(self, graph: ChainGraph) -> None:
        self._graph = graph

    def get(self, key: str, default: Any = None) -> Any:
        return self._graph.key(key).msgs or default

    def __getitem__(self, key: str) -> list[int]:
        msgs = self._graph.key(key).msgs
        if not msgs:
            raise KeyError(key)
        return msgs

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self._graph.key(key).msgs)


_MSG_COLS = ("start", "end", "reply", "code", "message_id", "mail_from", "rcpt_to")
_SESS_COLS = (
    "connector",
    "start",
    "end",
    "last_reply",
    "last_code",
    "remote_ep",
    "outcome",
    "detail",
)
_LINK_COLS = ("src", "src_msg", "dst", "dst_msg", "rule", "evidence", "confidence", "side")


def _normalised_links(links: pl.DataFrame, messages: pl.DataFrame) -> pl.DataFrame:
    """Map a whole-session end (msg -1) of a session that has segments to its only segment;
    drop the link when the session has several (it cannot say which message); drop a link
    from a node to itself. Links keep their order.

    Only the links with a whole-session end are joined with the segment counts, and only
    the sessions they name are counted (a third of the links, a tenth of the sessions).
    """
    whole = (pl.col("src_msg") < 0) | (pl.col("dst_msg") < 0)
    numbered = links.lazy().select(*_LINK_COLS).with_row_index("_row")
    part = numbered.filter(whole)
    ends = pl.concat(
        [
            part.filter(pl.col(f"{end}_msg") < 0).select(pl.col(end).alias("key"))
            for end in ("src", "dst")
        ]
    ).unique()
    counts = (
        messages.lazy()
        .select("key", "msg")
        .join(ends, on="key", how="semi")
        .group_by("key")
        .agg(pl.len().alias("_n"), pl.col("msg").min().alias("_m0"))
    )
    for end in ("src", "dst"):
        col = f"{end}_msg"
        part = (
            part.join(counts.rename({"key": end}), on=end, how="left", maintain_order="left")
            .filter(~((pl.col(col) < 0) & (pl.col("_n") > 1)).fill_null(False))
            .with_columns(
                pl.when((pl.col(col) < 0) & (pl.col("_n") == 1))
                .then(pl.col("_m0"))
                .otherwise(pl.col(col))
                .alias(col)
            )
            .drop("_n", "_m0")
        )
    same = (pl.col("src") == pl.col("dst")) & (pl.col("src_msg") == pl.col("dst_msg"))
    return (
        pl.concat([numbered.filter(~whole), part]).sort("_row").filter(~same).drop("_row").collect()
    )


class ChainGraph:
    """Adjacency and lookups over messages, links and sessions, read per key on demand."""

    def __init__(self, messages: pl.DataFrame, links: pl.DataFrame, sessions: pl.DataFrame):
        messages_shown = messages.select(
            [c for c in (*_MSG_COLS, "xproxy_sid", "mail_ord") if c in messages.columns]
        )
        # A list column in many chunks (a Parquet file's row groups) is walked whole by
        # every gather of a few rows (~30 ms at a million sessions); in one piece it is not.
        self._messages = messages_shown.with_columns(messages_shown["rcpt_to"].rechunk())
        self._msg_numbers = messages.get_column("msg")
        self._sessions = sessions.select(list(_SESS_COLS))
        self._links = _normalised_links(links, messages)
        self._index = _KeyIndex(
            [sessions["key"], messages["key"], self._links["src"], self._links["dst"]]
        )
        self._keys: dict[str, _Key] = {}
        self._links_of: dict[str, list[tuple[Any, ...]]] = {}
        self._cache: dict[Node, Info | None] = {}
        self._session_infos: dict[str, Info | None] = {}
        self.msgs_of = _MsgsOf(self)
        self.by_sid = _BySid(sessions, messages)
        self.by_mid = _Lookup(messages, "message_id")
        self.by_iid = _Lookup(messages, "internal_id")
        self.ip_server = _ip_servers(sessions)
        self.out = _Adjacency(self, 0)
        self.inc = _Adjacency(self, 2)

    def load(self, keys: Iterable[str]) -> None:
        """Read what the graph knows of ``keys`` not read yet, in one batch: session row,
        segments, which links name them (the links themselves: :meth:`links_of`)."""
        todo = list(dict.fromkeys(k for k in keys if k not in self._keys))
        if not todo:
            return
        found = self._index.find(todo)
        segments = [r for f in found for r in f[1]]
        numbers = self._msg_numbers.gather(segments).to_list() if segments else []
        at = 0
        for key, (sessions, messages, src, dst) in zip(todo, found, strict=True):
            msgs = numbers[at : at + len(messages)]
            at += len(messages)
            rows = dict(zip(msgs, messages, strict=True))  # the last row of a msg wins
            links = sorted({*src, *dst})
            self._keys[key] = _Key(sessions[-1] if sessions else -1, msgs, rows, links)

    def links_of(self, keys: Iterable[str]) -> dict[str, list[tuple[Any, ...]]]:
        """The links naming each of ``keys`` (``_LINK_COLS``, normalised), in link order;
        the ones not read yet in one batch."""
        keys = list(dict.fromkeys(keys))
        self.load(keys)
        todo = [k for k in keys if k not in self._links_of]
        rows = [r for k in todo for r in self._keys[k].link_rows]
        tuples = self._links[rows].rows() if rows else []
        at = 0
        for key in todo:
            count = len(self._keys[key].link_rows)
            self._links_of[key] = tuples[at : at + count]
            at += count
        return {k: self._links_of[k] for k in keys}

    def prefetch(self, nodes: Iterable[Node], limit: int = 512) -> None:
        """Read what the walks of a trace from ``nodes`` will read, a level of links at a
        time: one batch a level instead of one a node. It follows links of both kinds and
        walks past a node as :meth:`component` does; at most ``limit`` nodes."""
        starts = list(dict.fromkeys(nodes))
        frontier, seen = starts, set(starts)
        self.load(key for key, _ in frontier)
        while frontier and len(seen) < limit:
            walked = [n for n in frontier if n in starts or not self._leaf(n)]
            self.links_of(key for key, _ in walked)
            nxt: list[Node] = []
            for node in walked:
                for edge in (*self.out.get(node, ()), *self.inc.get(node, ())):
                    if edge.other not in seen and len(seen) < limit:
                        seen.add(edge.other)
                        nxt.append(edge.other)
            self.load(key for key, _ in nxt)
            frontier = nxt

    def _leaf(self, node: Node) -> bool:
        # A session only seen in connectivity/tracking (e.g. a cached send session carrying
        # many messages): a walk must not go through it to unrelated messages.
        return node[1] < 0 and not self.has_session(node[0])

    def key(self, key: str) -> _Key:
        """What the graph knows of session ``key`` (read on first use)."""
        got = self._keys.get(key)
        if got is None:
            self.load([key])
            got = self._keys[key]
        return got

    def has_session(self, key: str) -> bool:
        """True when ``key`` is a logged session (or has segments)."""
        got = self.key(key)
        return got.session >= 0 or bool(got.msgs)

    def session_info(self, key: str) -> Info | None:
        """The whole-session attributes of a logged session."""
        if key not in self._session_infos:
            self.infos([(key, -1)])
        return self._session_infos[key]

    def node_info(self, node: Node) -> Info | None:
        """Attributes of a node: its segment, else its session; None if never logged."""
        if node not in self._cache:
            self.infos([node])
        return self._cache[node]

    def infos(self, nodes: Iterable[Node]) -> None:
        """Read the attributes of ``nodes`` and of their sessions not read yet, a batch."""
        todo = [n for n in dict.fromkeys(nodes) if n not in self._cache]
        keys = [k for k in dict.fromkeys(n[0] for n in todo) if k not in self._session_infos]
        self.load([*keys, *(n[0] for n in todo)])
        logged = {k: self._keys[k].session for k in keys if self._keys[k].session >= 0}
        rows = self._sessions[list(logged.values())].rows() if logged else []
        for key in keys:
            self._session_infos[key] = None
        for key, row in zip(logged, rows, strict=True):
            self._session_infos[key] = _session_info(row)
        segments = [(n, self._keys[n[0]].msg_rows.get(n[1])) for n in todo if n[1] >= 0]
        found = [(n, i) for n, i in segments if i is not None]
        named = self._messages[[i for _, i in found]].rows(named=True) if found else []
        for node in todo:
            self._cache[node] = self._session_infos[node[0]] if node[1] < 0 else None
        for (node, _), segment in zip(found, named, strict=True):
            self._cache[node] = _segment_info(segment, self._session_infos[node[0]])

    def nodes_of_session(self, key: str) -> list[Node]:
        """The segments of a session, or the whole session when it has none."""
        got = self.key(key)
        if got.msgs:
            return [(key, m) for m in got.msgs]
        return [(key, -1)] if got.session >= 0 else []

    def component(self, start: Node, *, side: bool = False, limit: int = 256) -> set[Node]:
        """Nodes reachable from ``start`` through links of the given kind (either way)."""
        seen = {start}
        todo = [start]
        while todo and len(seen) < limit:
            node = todo.pop()
            if node[0] not in self._keys:  # read the whole frontier in one batch
                self.load([node[0], *(n[0] for n in todo)])
            if node != start and self._leaf(node):
                continue
            for edge in (*self.out.get(node, ()), *self.inc.get(node, ())):
                if edge.side == side and edge.other not in seen:
                    seen.add(edge.other)
                    todo.append(edge.other)
        return seen


def _session_info(row: tuple[Any, ...]) -> Info:
    """A whole session's attributes from its SESSIONS row (``_SESS_COLS``)."""
    conn, start, end, reply, code, rep, outcome, detail = row
    if outcome != schema.OUTCOME_DELIVERED and (code is None or code < 400):
        # The last reply of a session that carried no message (a 220 to STARTTLS before
        # TLS failed, a 221 to QUIT) answers no message: it must not read as accepted.
        code = None
    if detail:  # a failed session: the line that tells why, not the reply to QUIT
        reply = detail
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


def _segment_info(row: dict[str, Any], sess: Info | None) -> Info:
    """A segment's attributes from its MESSAGES row and its session's."""
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


def _ip_servers(sessions: pl.DataFrame) -> dict[str, str]:
    """IP address -> server, from the local endpoint of receive sessions (the last wins)."""
    ips = (
        sessions.select("server", "direction", ip_of(pl.col("local_ep")).alias("ip"))
        .filter((pl.col("direction") == "receive") & pl.col("ip").is_not_null())
        .unique(subset="ip", keep="last", maintain_order=True)
    )
    return dict(zip(ips["ip"].to_list(), ips["server"].to_list(), strict=True))
