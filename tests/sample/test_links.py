"""The linking lines of log-formats.md §3 are in the files, consistent with the truth."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from tests.sample.conftest import Corpus
from tests.sample.readback import parse_file, protocol_sessions, read_bytes

Rows = list[list[str]]


@pytest.fixture(scope="module")
def big(make_corpus: Callable[..., Corpus]) -> Corpus:
    return make_corpus(size_mb=1.0)


def _rows(sessions: dict[tuple[str, str, str], Rows], hop: dict[str, object]) -> Rows:
    kind = "smtp-receive" if hop["direction"] == "receive" else "smtp-send"
    return sessions[str(hop["server"]), f"{hop['service']}/{kind}", str(hop["session_id"])]


def _mail_from(rows: Rows, msg: int) -> list[str]:
    mails = [r for r in rows if r[7].startswith("MAIL FROM:") and r[6] in "<>"]
    return mails[msg]


def _tracking(out, truth, prefix: str) -> Rows:  # type: ignore[no-untyped-def]
    rows: Rows = []
    for f in truth.files:
        if f["log_type"] == "message-tracking" and f["path"].rsplit("/", 1)[1].startswith(prefix):
            head, records = parse_file(read_bytes(out, f["path"]))
            names = head[4][len("#Fields: ") :].split(",")
            rows.extend([dict(zip(names, r, strict=True)) for r in records])  # type: ignore[misc]
    return rows


def test_inbound_chain_lines(big: Corpus) -> None:
    out, truth = big
    sessions = protocol_sessions(out, truth)
    inbound = [m for m in truth.messages if m["flow"] == "inbound" and m["outcome"] == "delivered"]
    assert len(inbound) >= 10
    for m in inbound:
        hops = m["hops"]
        kinds = [(h["service"], h["direction"]) for h in hops]
        assert kinds[:3] == [("FrontEnd", "receive"), ("FrontEnd", "send"), ("Hub", "receive")]
        assert kinds[-2:] == [("Hub", "send"), ("MailboxDelivery", "receive")]
        a, b, c = (_rows(sessions, h) for h in hops[:3])
        sid_a = hops[0]["session_id"]
        context_b = [r[8] for r in b]
        assert f"Proxying inbound session with session id {sid_a}" in context_b
        assert any(r[7].startswith(f"XPROXYFROM SID={sid_a} ") for r in b if r[6] == ">")
        assert any(r[7].startswith(f"XPROXYFROM SID={sid_a} ") for r in c if r[6] == "<")
        hub = hops[2]["server"]
        queued = f"{m['message_id']} [InternalId={m['internal_ids'][hub]}, Hostname={hub}."
        assert any(queued in r[7] for r in a if r[6] == ">")  # FE relays the Hub's reply
        assert any(queued in r[7] for r in c if r[6] == ">")
        for hop in hops:
            rows = _rows(sessions, hop)
            if hop["msg"] >= 0:
                assert f"<{m['sender']}>" in _mail_from(rows, hop["msg"])[7]
        d, e = _rows(sessions, hops[-2]), _rows(sessions, hops[-1])
        last_hub = hops[-2]["server"]
        assert any(
            r[8] == f"sending message with RecordId {m['internal_ids'][last_hub]} and "
            f"InternetMessageId {m['message_id']}"
            for r in d
        )
        assert any(re.fullmatch(r"XSESSIONPARAMS MDBGUID=[0-9a-f]{32}", r[7]) for r in e)
        for send, recv in ((b, c), (d, e)):  # TCP 4-tuple of both ends (L3)
            assert send[-1][4] == recv[0][5] and send[-1][5] == recv[0][4]


def test_tracking_receive_and_deliver_carry_ids(big: Corpus) -> None:
    out, truth = big
    receives = _tracking(out, truth, "MSGTRK2")
    delivers = _tracking(out, truth, "MSGTRKMD")
    assert receives and delivers
    by_internal = {
        (r["server-hostname"], r["internal-message-id"], r["event-id"]) for r in receives
    }
    delivered_ids = {r["internal-message-id"] for r in delivers if r["event-id"] == "DELIVER"}
    contexts = {r["source-context"] for r in receives if r["event-id"] == "RECEIVE"}
    for m in truth.messages:
        if m["flow"] != "inbound" or m["outcome"] != "delivered":
            continue
        hub_hop = m["hops"][2]
        rid = m["internal_ids"][hub_hop["server"]]
        assert (hub_hop["server"], rid, "RECEIVE") in by_internal
        assert any(
            c.startswith(hub_hop["session_id"] + ";") and c.endswith(f";{hub_hop['msg']}")
            for c in contexts
        )
        assert m["internal_ids"][m["hops"][-2]["server"]] in delivered_ids


def test_cached_sessions_carry_several_messages(big: Corpus) -> None:
    _, truth = big
    multi = [s for s in truth.sessions if len(s["message_ids"]) > 1]
    connectors = {s["connector"] for s in multi}
    assert "Intra-Organization SMTP Send Connector" in connectors
    assert "Inbound Proxy Internal Send Connector" in connectors


def test_outbound_proxy_and_client_proxy_lines(big: Corpus) -> None:
    out, truth = big
    sessions = protocol_sessions(out, truth)
    proxied = client = 0
    for m in truth.messages:
        hops = m["hops"]
        for i, hop in enumerate(hops):
            if hop["connector"] == "Outbound Proxy Internal Send Connector":
                d, g, h = hop, hops[i + 1], hops[i + 2]
                assert g["connector"].endswith(f"Outbound Proxy Frontend {g['server']}")
                first_h = _rows(sessions, h)[0][8]
                assert first_h.endswith(
                    f"with session id {d['session_id']}. Proxied session id {g['session_id']}"
                )
                assert any(
                    f"SESSIONID={d['session_id']} " in r[7]
                    for r in _rows(sessions, g)
                    if r[6] == "<"
                )
                proxied += 1
            if hop["connector"] == "Client Proxy Send Connector":
                a, c = hops[i - 1], hops[i + 1]
                assert _rows(sessions, hop)[0][8].endswith(f"Proxied session id {a['session_id']}")
                assert any(
                    r[7].startswith(f"XPROXY SID={a['session_id']} ") for r in _rows(sessions, c)
                )
                assert c["connector"] == f"{c['server']}\\Client Proxy {c['server']}"
                client += 1
    assert proxied and client


def test_failures_and_noise(big: Corpus) -> None:
    out, truth = big
    sessions = protocol_sessions(out, truth)
    outcomes = {s["outcome"] for s in truth.sessions}
    assert {"rejected", "tls_failed", "timeout", "proxy_error", "no_mail"} <= outcomes
    noise = [s for s in truth.sessions if s["noise"]]
    assert noise and all(s["outcome"] == "no_mail" and not s["message_ids"] for s in noise)
    for s in noise:
        rows = _rows(sessions, s)
        assert not any(r[7].startswith("MAIL FROM") for r in rows)
        assert rows[-1][6] == "-"
    text: dict[str, list[str]] = {}
    for s in truth.sessions:
        text.setdefault(s["outcome"], []).extend(",".join(r) for r in _rows(sessions, s))
    assert any(r.endswith(",-,,Timeout") for r in text["timeout"])
    assert any("PRX2" in r for r in text["proxy_error"])
    assert any(",>,550 5.1.1 " in r for r in text["rejected"])
    assert any("TLS negotiation failed" in r for r in text["tls_failed"])


def test_shadow_copies_are_side_branches(big: Corpus) -> None:
    out, truth = big
    sessions = protocol_sessions(out, truth)
    sided = [m for m in truth.messages if m["side"]]
    assert sided
    for m in sided:
        send, recv = m["side"]
        assert recv["service"] == "Hub" and recv["direction"] == "receive"
        assert any("Queued mail for redundancy" in r[7] for r in _rows(sessions, recv))
        main = {(h["server"], h["session_id"]) for h in m["hops"]}
        assert (send["server"], send["session_id"]) not in main


def test_greylisted_outbound_is_deferred_at_the_internet_hop(big: Corpus) -> None:
    out, truth = big
    sessions = protocol_sessions(out, truth)
    deferred = [m for m in truth.messages if m["outcome"] == "deferred"]
    assert deferred
    for m in deferred:
        last = m["hops"][-1]
        assert (last["service"], last["direction"], last["connector"]) == (
            "Hub",
            "send",
            "To Internet",
        )
        rows = _rows(sessions, last)
        assert any(r[6] == "<" and r[7].startswith("451 4.7.1 ") for r in rows)
    assert any(s["outcome"] == "deferred" for s in truth.sessions)


def test_ipv6_clients_and_utf8_senders_appear(make_corpus: Callable[..., Corpus]) -> None:
    out, truth = make_corpus(size_mb=3.0)
    sessions = protocol_sessions(out, truth)
    remotes = [rows[0][5] for key, rows in sessions.items() if key[1] == "FrontEnd/smtp-receive"]
    v6 = [r for r in remotes if r.startswith("[")]
    assert v6 and all(re.fullmatch(r"\[2001:db8:[0-9a-f:]+\]:\d+", r) for r in v6)
    mails = [r[7] for rows in sessions.values() for r in rows if r[7].startswith("MAIL FROM:")]
    utf8 = [m for m in mails if not m.isascii()]
    assert utf8 and all(m.endswith(" SMTPUTF8") for m in utf8)


def test_edge_inbound_path_and_relayed_hub_reply(make_corpus: Callable[..., Corpus]) -> None:
    out, truth = make_corpus(size_mb=1.0, edge=("EX19EDGE1",))
    sessions = protocol_sessions(out, truth)
    paths = {f["path"].rsplit("/", 1)[0] for f in truth.files if f["server"] == "EX19EDGE1"}
    assert "EX19EDGE1/V15/TransportRoles/Logs/Edge/ProtocolLog/SmtpReceive" in paths
    via_edge = [m for m in truth.messages if m["hops"] and m["hops"][0]["service"] == "Edge"]
    assert via_edge
    multi = [s for s in truth.sessions if s["service"] == "Edge" and len(s["message_ids"]) > 1]
    assert multi  # the EdgeSync connection to an FE is cached
    for m in via_edge:
        kinds = [(h["service"], h["direction"]) for h in m["hops"][:5]]
        assert kinds == [
            ("Edge", "receive"),
            ("Edge", "send"),
            ("FrontEnd", "receive"),
            ("FrontEnd", "send"),
            ("Hub", "receive"),
        ]
        edge_send, fe_recv, hub_recv = m["hops"][1], m["hops"][2], m["hops"][4]
        assert edge_send["connector"] == "EdgeSync - Inbound to Default-First-Site-Name"
        hub = hub_recv["server"]
        queued = f"[InternalId={m['internal_ids'][hub]}, Hostname={hub}."
        replies = [r[7] for r in _rows(sessions, edge_send) if r[6] == "<"]
        assert any(m["message_id"] in r and queued in r for r in replies)
        assert any(
            r[7].startswith(f"XPROXYFROM SID={fe_recv['session_id']} ")
            for r in _rows(sessions, m["hops"][3])
        )


def test_edge_requires_exchange_2013_or_later(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mailhops.sample import SampleOptions, generate

    with pytest.raises(ValueError):
        generate(tmp_path, size_mb=0.1, options=SampleOptions(version="2010", edge=("E1",)))
