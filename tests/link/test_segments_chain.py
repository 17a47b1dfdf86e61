"""Segments (message transactions inside sessions) and chain(): ordering, gaps, ambiguity,
side branches, outcome and the ticket text, on hand-written frames."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from chainfix import (
    FE,
    HUB,
    XFROM,
    A,
    B,
    C,
    D,
    fe_receive,
    fe_send,
    hub_receive,
    hub_send,
    key,
    md_receive,
)
from frames import T0, session

from mailhops.index.chain import chain_from, render_text
from mailhops.index.chain_graph import ChainGraph
from mailhops.index.chain_model import FE_SEND_CMD, HUB_SEND_CMD
from mailhops.index.links import build_links
from mailhops.index.segments import build_messages
from mailhops.index.servers import learn_servers
from mailhops.index.sessions import build_sessions

A2 = "08D00000000000A2"


def _graph(*frames: pl.DataFrame) -> ChainGraph:
    lines = pl.concat(frames).lazy()
    messages = build_messages(lines)
    sessions = build_sessions(lines).collect()
    links = build_links(lines, None, None, sessions, messages, learn_servers(lines))
    return ChainGraph(messages, links, sessions)


def _cached_fe_send() -> pl.DataFrame:
    """One FE send session carrying two proxied inbound sessions (§3.1 cached sessions)."""
    rows = fe_send().rows(named=True)[:-1]
    more = [
        ("*", "", f"Proxying inbound session with session id {A2}"),
        (">", "RSET", ""),
        ("<", "250 2.0.0 Resetting", ""),
        (">", f"XPROXYFROM SID={A2} " + XFROM.replace("50001", "50002"), ""),
        ("<", "250 XProxyFrom accepted", ""),
        (">", "MAIL FROM:<z@example.com>", ""),
        (">", "RCPT TO:<y@contoso.lab>", ""),
        ("<", "550 5.1.10 RESOLVER.ADR.RecipientNotFound", ""),
        ("-", "", "Local"),
    ]
    base = [(r["event"], r["data"], r["context"]) for r in rows]
    return session(
        "EX1",
        FE,
        "send",
        B,
        base + more,
        connector="Inbound Proxy Internal Send Connector",
        local_ep="10.0.3.4:40001",
        remote_ep="10.0.3.5:2525",
        t0=T0 + timedelta(milliseconds=700),
    )


def _multiplexed_hub_receive() -> pl.DataFrame:
    rows = [(r["event"], r["data"], r["context"]) for r in hub_receive().rows(named=True)[:-1]]
    more = [
        ("<", "RSET", ""),
        (">", "250 2.0.0 Resetting", ""),
        ("<", f"XPROXYFROM SID={A2} " + XFROM.replace("50001", "50002"), ""),
        (">", "250 XProxyFrom accepted", ""),
        ("<", "MAIL FROM:<z@example.com>", ""),
        ("<", "RCPT TO:<y@contoso.lab>", ""),
        (">", "550 5.1.10 RESOLVER.ADR.RecipientNotFound", ""),
        ("-", "", "Remote"),
    ]
    return session(
        "EX2",
        HUB,
        "receive",
        C,
        rows + more,
        connector="EX2\\Default EX2",
        local_ep="10.0.3.5:2525",
        remote_ep="10.0.3.4:40001",
        t0=T0 + timedelta(milliseconds=900),
    )


def _fe_receive_2() -> pl.DataFrame:
    return session(
        "EX1",
        FE,
        "receive",
        A2,
        [
            ("+", "", ""),
            ("<", "MAIL FROM:<z@example.com>", ""),
            ("<", "RCPT TO:<y@contoso.lab>", ""),
            (">", "550 5.1.10 RESOLVER.ADR.RecipientNotFound", ""),
            ("-", "", "Remote"),
        ],
        connector="EX1\\Default Frontend EX1",
        local_ep="10.0.3.4:25",
        remote_ep="198.51.100.7:50002",
        t0=T0 + timedelta(seconds=2),
    )


def test_cached_send_session_yields_one_segment_per_proxied_session() -> None:
    m = build_messages(_cached_fe_send().lazy())
    assert m["msg"].to_list() == [0, 1]
    assert m["xproxy_sid"].to_list() == [A, A2]
    assert m["proxied_sid"].to_list() == [A, A2]
    assert m["mail_from"].to_list() == ["a@example.com", "z@example.com"]
    assert m["code"].to_list() == [250, 550]
    assert m["message_id"].to_list() == ["<m1@x.com>", None]


def test_segments_carry_reply_ids_record_id_and_mdbguid() -> None:
    m = build_messages(pl.concat([hub_receive(), hub_send()]).lazy()).sort("key")
    assert m["reply_iid"].to_list() == ["4242", None]
    assert m["reply_host"].to_list() == ["EX2.contoso.lab", None]
    assert m["record_id"].to_list() == [None, "4242"]
    assert m["temp_n"].to_list() == [1, None]
    assert m["mdbguid"].to_list() == [None, "0123456789abcdef0123456789abcdef"]


def test_chain_of_multiplexed_session_never_pulls_the_other_message() -> None:
    g = _graph(fe_receive(), _fe_receive_2(), _cached_fe_send(), _multiplexed_hub_receive())
    first = chain_from(g, A)
    assert [h.session_id for h in first.hops] == [A, B, C]
    assert [h.segment for h in first.hops] == [0, 0, 0]
    second = chain_from(g, A2)
    assert [h.session_id for h in second.hops] == [A2, B, C]
    assert [h.segment for h in second.hops] == [0, 1, 1]
    assert second.outcome == "rejected"
    assert "550 5.1.10" in second.outcome_detail


def test_a_session_with_several_messages_is_ambiguous_and_lists_them() -> None:
    g = _graph(fe_receive(), _fe_receive_2(), _cached_fe_send(), _multiplexed_hub_receive())
    c = chain_from(g, B)
    assert not c.ok
    assert len(c.candidates) == 2
    assert "2 messages" in c.error
    picked = chain_from(g, f"{B}#1")
    assert [h.session_id for h in picked.hops] == [A2, B, C]
    # Each candidate is itself an ident (the app and the CLI feed it back).
    traced = {tuple(h.session_id for h in chain_from(g, x).hops) for x in c.candidates}
    assert traced == {(A, B, C), (A2, B, C)}
    assert all(x.split()[0] in c.candidates for x in c.candidate_details)
    assert chain_from(g, c.candidate_details[0]).ok  # a pasted detail line still resolves
    beyond = chain_from(g, f"{B}#5")  # a number it does not have: the ones it has
    assert not beyond.ok and beyond.error.endswith("has no message #5 (it has #0, #1)")


def test_unknown_id_is_an_error() -> None:
    g = _graph(fe_receive())
    c = chain_from(g, "0000000000000000")
    assert not c.ok and "no session" in c.error
    assert not chain_from(g, "<nobody@nowhere>").ok


def test_chain_by_message_id_and_internal_id() -> None:
    g = _graph(fe_receive(), fe_send(), hub_receive(), hub_send(), md_receive())
    for ident in ("<m1@x.com>", "m1@x.com", "4242"):
        c = chain_from(g, ident)
        assert c.ok, c.error
        assert len(c.hops) == 5
        assert c.message_id == "<m1@x.com>"
        assert c.outcome == "delivered"


def test_gap_names_the_unlogged_stream_and_the_command() -> None:
    g = _graph(fe_receive(), hub_receive(), md_receive())  # FE send and Hub send not logged
    c = chain_from(g, A)
    assert [h.session_id for h in c.hops] == [A, C]  # MD receive cannot be reached
    streams = [(x.after, x.stream, x.server, x.hint) for x in c.gaps]
    assert (0, "fe-send", "EX1", FE_SEND_CMD) in streams
    assert (1, "hub-send", "EX2", HUB_SEND_CMD) in streams


def test_latency_and_rules_of_hops() -> None:
    g = _graph(fe_receive(), fe_send(), hub_receive(), hub_send(), md_receive())
    c = chain_from(g, key("EX2", HUB, "send", D))
    assert [h.rule for h in c.hops] == [
        "",
        "proxy_session_id",
        "xproxy_sid",
        "record_id",
        "tcp_endpoint",
    ]
    assert c.hops[0].latency_ms is None
    assert c.hops[1].latency_ms == 700
    assert c.gaps == []


def test_render_text_is_ticket_ready_and_strips_control_characters() -> None:
    evil = fe_receive().with_columns(
        data=pl.col("data").str.replace(
            "MAIL FROM:<a@example.com>", "MAIL FROM:<a\x1b[31m@example.com>"
        )
    )
    g = _graph(evil, fe_send(), hub_receive(), hub_send(), md_receive())
    text = render_text(chain_from(g, A))
    assert "\x1b" not in text
    assert "EX1\\Default Frontend EX1" in text and A in text and C in text
    assert "2026-03-02 09:00:00.300Z" in text
    assert "Outcome:    delivered" in text
    assert "Recipients: b@contoso.lab" in text
