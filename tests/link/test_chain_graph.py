"""ChainGraph reads keys on demand (app speed at a million sessions): what it answers, on
hand-written frames (link order, whole-session ends, leaves, session ids, collisions)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from mailhops.index.chain_graph import ChainGraph, Edge, _KeyIndex, _normalised_links

T = datetime(2026, 3, 2, 10, tzinfo=UTC)
FE = "EX1|FrontEnd|receive|A0000000000000A1"
PX = "EX1|FrontEnd|send|B0000000000000B2"
HUB = "EX2|Hub|receive|C0000000000000C3"
TWO = "EX2|Hub|send|D0000000000000D4"  # two segments
LEAF = "EX3|Hub|send|E0000000000000E5"  # seen in connectivity only
ORPHAN = "EX4|Hub|receive|F0000000000000F6"  # segments, no SESSIONS row


def _sessions() -> pl.DataFrame:
    keys = [FE, PX, HUB, TWO]
    return pl.DataFrame(
        {
            "key": keys,
            "session_id": [k.rsplit("|", 1)[-1] for k in keys],
            "server": [k.split("|")[0] for k in keys],
            "direction": [k.split("|")[2] for k in keys],
            "connector": ["c"] * 4,
            "start": [T] * 4,
            "end": [T] * 4,
            "local_ep": ["10.0.0.1:25", "10.0.0.1:1234", "10.0.0.2:25", "10.0.0.2:4321"],
            "last_reply": ["250 ok"] * 4,
            "last_code": pl.Series([250] * 4, dtype=pl.Int16),
            "remote_ep": ["203.0.113.9:5000"] * 4,
            "outcome": ["delivered"] * 4,
            "detail": pl.Series([None] * 4, dtype=pl.String),
        }
    )


def _messages() -> pl.DataFrame:
    rows = [(FE, 0), (PX, 0), (HUB, 0), (TWO, 0), (TWO, 1), (ORPHAN, 0)]
    return pl.DataFrame(
        {
            "key": [k for k, _ in rows],
            "msg": pl.Series([m for _, m in rows], dtype=pl.Int32),
            "start": [T] * len(rows),
            "end": [T] * len(rows),
            "reply": ["250 ok"] * len(rows),
            "code": pl.Series([250] * len(rows), dtype=pl.Int16),
            "message_id": ["<m@x>", "<m@x>", "<m@x>", "<a@x>", "<b@x>", None],
            "internal_id": [None, None, "42", None, None, None],
            "mail_from": ["s@x"] * len(rows),
            "rcpt_to": [["r@y"]] * len(rows),
            "mail_ord": pl.Series([0] * len(rows), dtype=pl.Int32),
        }
    )


def _links() -> pl.DataFrame:
    rows = [
        (FE, -1, PX, 0, "proxy_session_id", True),  # whole-session end, one segment: FE#0
        (PX, 0, HUB, 0, "xproxy_sid", False),
        (PX, 0, HUB, 0, "tcp_endpoint", False),  # a second rule between the same nodes
        (HUB, 0, TWO, -1, "record_id", False),  # TWO has two segments: dropped
        (TWO, 0, LEAF, -1, "connectivity_cached", False),  # LEAF has none: stays whole
        (HUB, -1, HUB, 0, "self", False),  # becomes HUB#0 -> HUB#0: dropped
    ]
    return pl.DataFrame(
        {
            "src": [r[0] for r in rows],
            "src_msg": pl.Series([r[1] for r in rows], dtype=pl.Int32),
            "dst": [r[2] for r in rows],
            "dst_msg": pl.Series([r[3] for r in rows], dtype=pl.Int32),
            "rule": [r[4] for r in rows],
            "evidence": ["e"] * len(rows),
            "confidence": pl.Series([1.0] * len(rows), dtype=pl.Float32),
            "side": [False, False, False, False, False, False],
        }
    )


def _graph() -> ChainGraph:
    return ChainGraph(_messages(), _links(), _sessions())


def test_links_are_normalised_in_link_order() -> None:
    norm = _normalised_links(_links(), _messages())
    assert norm.select("src", "src_msg", "dst", "dst_msg", "rule").rows() == [
        (FE, 0, PX, 0, "proxy_session_id"),
        (PX, 0, HUB, 0, "xproxy_sid"),
        (PX, 0, HUB, 0, "tcp_endpoint"),
        (TWO, 0, LEAF, -1, "connectivity_cached"),
    ]


def test_edges_both_ways_in_link_order() -> None:
    graph = _graph()
    assert graph.out.get((PX, 0)) == [
        Edge((HUB, 0), "xproxy_sid", "e", 1.0, False),
        Edge((HUB, 0), "tcp_endpoint", "e", 1.0, False),
    ]
    assert [e.rule for e in graph.inc.get((HUB, 0))] == ["xproxy_sid", "tcp_endpoint"]
    assert graph.inc.get((PX, 0)) == [Edge((FE, 0), "proxy_session_id", "e", 1.0, False)]
    assert graph.out.get((HUB, 0), "none") == "none"  # its link to TWO was dropped
    assert graph.inc.get((LEAF, -1)) == [Edge((TWO, 0), "connectivity_cached", "e", 1.0, False)]


def test_sessions_segments_and_leaves() -> None:
    graph = _graph()
    assert graph.msgs_of.get(TWO) == [0, 1] and graph.msgs_of[FE] == [0]
    assert graph.msgs_of.get(LEAF, []) == [] and LEAF not in graph.msgs_of
    assert graph.has_session(ORPHAN) and not graph.has_session(LEAF)
    assert graph.nodes_of_session(TWO) == [(TWO, 0), (TWO, 1)]
    assert graph.nodes_of_session(LEAF) == [] and graph.nodes_of_session("nope") == []
    assert graph.component((FE, 0)) == {(FE, 0), (PX, 0), (HUB, 0)}
    assert graph.component((TWO, 0)) == {(TWO, 0), (LEAF, -1)}  # not walked past the leaf
    info = graph.node_info((HUB, 0))
    assert info is not None and info.message_id == "<m@x>" and info.connector == "c"
    assert graph.node_info((LEAF, -1)) is None and graph.session_info(ORPHAN) is None


def test_session_ids_message_ids_and_server_ips() -> None:
    graph = _graph()
    assert graph.by_sid.get("C0000000000000C3") == [HUB]
    assert graph.by_sid.get("F0000000000000F6") == [ORPHAN]  # only MESSAGES lists it
    assert graph.by_sid.get("0000000000000000", []) == []
    assert graph.by_mid.get("<m@x>") == [(FE, 0), (PX, 0), (HUB, 0)]
    assert graph.by_iid.get("42") == [(HUB, 0)]
    assert graph.ip_server == {"10.0.0.1": "EX1", "10.0.0.2": "EX2"}


def test_key_index_finds_every_row_of_a_key_in_each_source() -> None:
    first = pl.Series(["b", "a", "b", "c"])
    second = pl.Series(["a", "b", "b", "b"])
    index = _KeyIndex([first, second])
    assert index.find(["b", "a", "zz", "b"]) == [
        [[0, 2], [1, 2, 3]],
        [[1], [0]],
        [[], []],
        [[0, 2], [1, 2, 3]],
    ]


def test_key_index_keeps_a_row_only_when_both_hashes_match(monkeypatch: Any) -> None:
    # Every key sorted under one hash: only the second hash tells them apart.
    import mailhops.index.chain_graph as module

    real = module._hashes

    def colliding(key: pl.Expr) -> list[pl.Expr]:
        _, check = real(key)
        return [(key.hash(0) * 0 + 7).alias("h"), check]

    monkeypatch.setattr(module, "_hashes", colliding)
    index = _KeyIndex([pl.Series(["x", "y", "x", "z"])])
    assert index.find(["x", "z", "w"]) == [[[0, 2]], [[3]], [[]]]
