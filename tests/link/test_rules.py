# ruff: noqa: E501  (verbatim Exchange log lines are long)
"""One test (at least) per linking rule, on hand-written LINES frames (log-formats.md §3)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from chainfix import (
    FE,
    HUB,
    MD,
    A,
    B,
    C,
    D,
    E,
    fe_receive,
    fe_send,
    hub_receive,
    hub_send,
    key,
    md_receive,
)
from frames import T0, connectivity, session, tracking
from helpers import edges, link

from mailhops.index import links as L
from mailhops.index.engine import ENGINE

KA = key("EX1", FE, "receive", A)
KB = key("EX1", FE, "send", B)
KC = key("EX2", HUB, "receive", C)
KD = key("EX2", HUB, "send", D)
KE = key("EX3", MD, "receive", E)


def test_full_inbound_chain_links_each_hop_once() -> None:
    out = link(fe_receive(), fe_send(), hub_receive(), hub_send(), md_receive())
    assert edges(out) == {(KA, 0, KB, 0), (KB, 0, KC, 0), (KC, 0, KD, 0), (KD, 0, KE, 0)}
    assert out["side"].to_list() == [False] * 4


def test_proxy_session_id_line_links_fe_receive_to_fe_send() -> None:
    out = link(fe_receive(), fe_send())
    assert edges(out, "proxy_session_id") == {(KA, 0, KB, 0)}


def test_proxy_session_id_needs_the_same_server() -> None:
    other = fe_receive().with_columns(server=pl.lit("EX9"))
    assert edges(link(other, fe_send()), "proxy_session_id") == set()


def test_xproxyfrom_sid_links_fe_send_to_hub_receive_without_tcp_tuple() -> None:
    # Behind NAT the endpoints do not pair; the SID= of XPROXYFROM still does.
    c = hub_receive().with_columns(remote_ep=pl.lit("192.0.2.99:1234"))
    out = link(fe_send(), c)
    assert edges(out, "xproxy_sid") == {(KB, 0, KC, 0)}
    assert edges(out, "tcp_endpoint") == set()


def test_xproxyfrom_direct_from_fe_receive_when_fe_send_not_logged() -> None:
    out = link(fe_receive(), hub_receive())
    assert edges(out) == {(KA, 0, KC, 0)}
    assert out["rule"].to_list() == ["xproxy_sid"]


def test_xproxyfrom_direct_checks_the_client_endpoint() -> None:
    out = link(fe_receive(client="203.0.113.1:1111"), hub_receive())
    assert edges(out, "xproxy_sid") == set()


def test_tcp_endpoint_pairs_send_and_receive_with_clock_skew() -> None:
    e = md_receive(t0=T0 + timedelta(seconds=4))  # the mailbox server's clock runs 4 s ahead
    out = link(hub_send(), e)
    assert edges(out, "tcp_endpoint") == {(KD, 0, KE, 0)}


def test_tcp_endpoint_port_reused_later_picks_the_nearest_session() -> None:
    e_old = md_receive(sid="08D00000000000E0", t0=T0 - timedelta(minutes=40))
    out = link(hub_send(), e_old, md_receive())
    assert edges(out, "tcp_endpoint") == {(KD, 0, KE, 0)}


def test_tcp_endpoint_outside_tolerance_is_not_linked() -> None:
    e = md_receive(t0=T0 + timedelta(minutes=5))
    e = e.with_columns(data=pl.col("data").str.replace("MDBGUID=0123", "MDBGUID=ffff"))
    assert edges(link(hub_send(), e)) == set()


def test_record_id_links_hub_receive_to_hub_send() -> None:
    out = link(hub_receive(), hub_send())
    assert edges(out, "record_id") == {(KC, 0, KD, 0)}


def test_record_id_must_match() -> None:
    out = link(hub_receive(), hub_send(record="9999"))
    assert edges(out, "record_id") == set()


def test_mdbguid_links_when_endpoints_are_translated() -> None:
    e = md_receive(remote="192.0.2.50:6000")
    out = link(hub_send(), e)
    assert edges(out, "mdbguid") == {(KD, 0, KE, 0)}


def test_mdbguid_looks_on_the_peer_server_only() -> None:
    """The same database delivered to on another server a moment nearer in time (a
    switchover) must not hide the session on the server the Hub connected to."""
    e = md_receive(remote="192.0.2.50:6000")
    decoy = md_receive(
        sid="08D00000000000E9", t0=T0 - timedelta(milliseconds=50), remote="192.0.2.51:6001"
    ).with_columns(server=pl.lit("EX4"))
    out = link(hub_send(), decoy, e)
    assert edges(out, "mdbguid") == {(KD, 0, KE, 0)}


def test_reply_hostname_links_fe_receive_to_hub_when_nothing_else_does() -> None:
    # Neither FE send nor XPROXYFROM logged (e.g. a 2013 Hub with XPROXYFROM redacted):
    c = hub_receive().with_columns(data=pl.col("data").str.replace(r"^XPROXYFROM.*", "NOOP"))
    out = link(fe_receive(), c)
    assert edges(out) == {(KA, 0, KC, 0)}
    assert out["rule"].to_list() == ["reply_internal_id"]


def test_message_id_time_is_the_last_resort() -> None:
    d = hub_send().with_columns(
        local_ep=pl.lit(""), data=pl.col("data").str.replace("XSESSIONPARAMS.*", "NOOP")
    )
    e = session(
        "EX3",
        MD,
        "receive",
        E,
        [
            ("+", "", ""),
            ("<", "MAIL FROM:<a@example.com>", ""),
            ("*", "", "receiving message with InternetMessageId <m1@x.com>"),
            ("<", "DATA", ""),
            (">", "354 Start mail input", ""),
            (">", "250 2.0.0 OK", ""),
        ],
        local_ep="10.0.3.6:475",
        remote_ep="10.0.3.5:41000",
        t0=T0 + timedelta(seconds=3, milliseconds=100),
    )
    out = link(d, e)
    assert edges(out) == {(KD, 0, KE, 0)}
    assert out["rule"].to_list() == ["message_id_time"]
    assert out["confidence"].to_list()[0] < 0.9


def _xproxyto_sessions(g_logged: bool = True) -> list[pl.DataFrame]:
    d = session(
        "EX2",
        HUB,
        "send",
        D,
        [
            ("*", "", "attempting to connect"),
            ("+", "", ""),
            (
                "*",
                "",
                "This session is now being proxied through the next hop. The actual connector being used is: Internet",
            ),
            (">", f"XPROXYTO DESTINATIONS=mx.example.com SESSIONID={D} LAST=True", ""),
            ("*", "", "sending message with RecordId 77 and InternetMessageId <o@contoso.lab>"),
            (">", "MAIL FROM:<me@contoso.lab>", ""),
            (">", "RCPT TO:<you@example.com>", ""),
            (">", "DATA", ""),
            ("<", "354 go", ""),
            ("<", "250 2.0.0 OK queued", ""),
            ("-", "", "Local"),
        ],
        connector="Outbound Proxy Internal Send Connector",
        local_ep="10.0.3.5:42000",
        remote_ep="10.0.3.4:717",
    )
    g = session(
        "EX1",
        FE,
        "receive",
        "08D00000000000F1",
        [
            ("+", "", ""),
            ("<", f"XPROXYTO DESTINATIONS=mx.example.com SESSIONID={D} LAST=True", ""),
            (
                "*",
                "",
                "Proxy session was successfully set up. Outbound session will now be proxied",
            ),
            ("-", "", "Remote"),
        ],
        connector="EX1\\Outbound Proxy Frontend EX1",
        local_ep="10.0.3.4:717",
        remote_ep="10.0.3.5:42000",
        t0=T0 + timedelta(milliseconds=200),
    )
    h = session(
        "EX1",
        FE,
        "send",
        "08D00000000000F2",
        [
            (
                "*",
                "",
                f"attempting to connect. Outbound proxy from EX2.contoso.lab with session id {D}. Proxied session id 08D00000000000F1",
            ),
            ("+", "", ""),
            (
                "*",
                "",
                "Proxy session successfully set up for outbound proxy. Inbound session will now be blindly proxied",
            ),
            ("-", "", "Local"),
        ],
        connector="Internet",
        local_ep="10.0.3.4:50000",
        remote_ep="203.0.113.25:25",
        t0=T0 + timedelta(milliseconds=400),
    )
    return [d, g, h] if g_logged else [d, h]


def test_xproxyto_and_outbound_proxy_lines_link_hub_send_to_fe() -> None:
    kg = key("EX1", FE, "receive", "08D00000000000F1")
    kh = key("EX1", FE, "send", "08D00000000000F2")
    out = link(*_xproxyto_sessions())
    assert edges(out) == {(KD, 0, kg, 0), (kg, 0, kh, 0)}
    assert set(out["rule"].to_list()) == {"xproxyto_session_id", "proxy_session_id"}


def test_outbound_proxy_line_links_hub_send_to_fe_send_when_717_not_logged() -> None:
    kh = key("EX1", FE, "send", "08D00000000000F2")
    out = link(*_xproxyto_sessions(g_logged=False))
    assert edges(out) == {(KD, 0, kh, 0)}
    assert out["rule"].to_list() == ["outbound_proxy_session_id"]


def test_connectivity_inbound_session_names_an_unlogged_fe_send() -> None:
    conn = connectivity(
        [
            {
                "ts": T0,
                "server": "EX1",
                "service": FE,
                "session_id": B,
                "source": "SMTP",
                "destination": "internalproxy",
                "event": "+",
                "description": f"Undefined 00000000-0000-0000-0000-000000000000;QueueLength=<no priority counts>. Starting outbound connection for inbound session {A}",
            }
        ]
    )
    out = link(fe_receive(), conn=conn)
    assert edges(out, "connectivity_inbound") == {(KA, -1, KB, -1)}
    # When the FE send protocol log exists, the protocol rule is enough.
    assert edges(link(fe_receive(), fe_send(), conn=conn), "connectivity_inbound") == set()


def test_connectivity_failover_and_cached_session_lines() -> None:
    old, new, third = "08D0000000000011", "08D0000000000012", "08D0000000000013"
    conn = connectivity(
        [
            {
                "ts": T0,
                "server": "EX2",
                "service": HUB,
                "session_id": new,
                "source": "SMTP",
                "event": "*",
                "description": f"Session Failover; previous session id = {old}; reason = SocketError",
            },
            {
                "ts": T0,
                "server": "EX2",
                "service": HUB,
                "session_id": new,
                "source": "SMTP",
                "event": "-",
                "description": f"Using Cached Session {third}",
            },
        ]
    )
    out = link(hub_receive(), conn=conn)
    k_old, k_new = key("EX2", HUB, "send", old), key("EX2", HUB, "send", new)
    assert edges(out, "connectivity_failover") == {(k_old, -1, k_new, -1)}
    k_third = key("EX2", HUB, "send", third)
    assert edges(out, "connectivity_cached") == {(k_new, -1, k_third, -1)}


def test_tracking_send_links_hub_receive_to_unlogged_hub_send() -> None:
    trk = tracking(
        [
            {
                "ts": T0,
                "server": "EX2",
                "service": HUB,
                "event_id": "SEND",
                "source": "SMTP",
                "internal_message_id": "4242",
                "message_id": "<m1@x.com>",
                "source_context": f"{D};250 2.0.0 OK;ClientSubmitTime:",
            }
        ]
    )
    out = link(hub_receive(), trk=trk)
    assert edges(out, "tracking_internal_id") == {(KC, 0, KD, -1)}


def test_shadow_redundancy_copy_is_a_side_link() -> None:
    shadow_reply = (
        "250 2.6.0 <m1@x.com> [InternalId=EX1.contoso.lab, Hostname=555] Queued mail for redundancy"
    )
    d2 = hub_send(sid="08D00000000000D2").with_columns(
        data=pl.when(pl.col("data") == "250 2.0.0 OK")
        .then(pl.lit(shadow_reply))
        .otherwise(pl.col("data")),
        remote_ep=pl.lit("10.0.3.4:2525"),
    )
    out = link(hub_receive(), hub_send(), d2)
    side = out.filter(pl.col("side"))
    assert edges(side) == {(KC, 0, key("EX2", HUB, "send", "08D00000000000D2"), 0)}
    assert edges(out.filter(~pl.col("side"))) == {(KC, 0, KD, 0)}


def test_rules_are_listed_and_documented() -> None:
    for rule in (*L.PRIMARY, *L.FALLBACK):
        assert rule.__doc__ and len(rule.__doc__) > 40, rule.__name__


def _nodes(*frames: pl.DataFrame) -> pl.DataFrame:
    from mailhops.index.links_common import nodes_frame
    from mailhops.index.segments import build_messages
    from mailhops.index.servers import learn_servers

    lines = pl.concat(frames).lazy()
    servers = learn_servers(lines, None, None)
    return nodes_frame(lines, None, build_messages(lines), servers).collect()


def test_time_matching_rules_break_ties_by_key_not_row_order() -> None:
    """Receive sessions that fit a send session equally well: the same endpoints and start
    (one log folder indexed twice under two server names), or the same database and start
    (two delivery connections opened in the same millisecond). Every time-matching rule
    picks the same one whatever order its rows come in: a trace never changes between two
    builds of the same logs."""
    twin = md_receive(sid="08D00000000000E0").with_columns(server=pl.lit("EX4"))
    parallel = md_receive(sid="08D00000000000E2", remote="10.0.3.5:41999")
    # Other deliveries around them: enough rows for polars to sort them unstably.
    others = [
        md_receive(
            sid=f"08D00000000F{i:04X}",
            t0=T0 + timedelta(seconds=i % 7),
            remote=f"10.0.3.5:{42000 + i}",
        )
        for i in range(300)
    ]
    cases = {
        L.rule_tcp_endpoint: _nodes(hub_send(), md_receive(), twin, *others),
        L.rule_mdbguid: _nodes(hub_send(), md_receive(), parallel, *others),
    }
    for rule, nodes in cases.items():
        shuffled = [nodes.sample(fraction=1.0, shuffle=True, seed=s) for s in range(4)]
        picks = {
            frozenset(edges(rule(order.lazy()).collect(engine=ENGINE)))
            for order in (nodes, nodes.reverse(), *shuffled)
        }
        assert len(picks) == 1, rule.__name__
        assert len(next(iter(picks))) == 1, rule.__name__
