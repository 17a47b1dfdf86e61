"""One inbound Internet message through FE -> Hub -> Mailbox Delivery, hand-written
(log-formats.md §3.1), used by several link tests."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from frames import T0, session

FE, HUB, MD = "FrontEnd", "Hub", "MailboxDelivery"
A, B, C, D, E = (f"08D00000000000{x}1" for x in "ABCDE")
XFROM = "IP=198.51.100.7 PORT=50001 DOMAIN=mail.example.com SEQNUM=1"
QUEUED = "250 2.6.0 <m1@x.com> [InternalId=4242, Hostname=EX2.contoso.lab] Queued mail for delivery"


def fe_receive(sid: str = A, t0=T0, client: str = "198.51.100.7:50001") -> pl.DataFrame:
    return session(
        "EX1",
        FE,
        "receive",
        sid,
        [
            ("+", "", ""),
            (">", "220 EX1.contoso.lab Microsoft ESMTP MAIL Service ready", ""),
            ("<", "EHLO mail.example.com", ""),
            ("<", "MAIL FROM:<a@example.com>", ""),
            (">", "250 2.1.0 Sender OK", ""),
            ("<", "RCPT TO:<b@contoso.lab>", ""),
            (">", "250 2.1.5 Recipient OK", ""),
            ("<", "DATA", ""),
            (">", "354 Start mail input; end with <CRLF>.<CRLF>", ""),
            ("*", "", "Proxy destination(s) obtained from OnProxyInboundMessage event"),
            (">", QUEUED, ""),
            ("-", "", "Remote"),
        ],
        connector="EX1\\Default Frontend EX1",
        local_ep="10.0.3.4:25",
        remote_ep=client,
        t0=t0,
    )


def fe_send(sid: str = B, proxied: str = A, t0=T0, port: int = 40001) -> pl.DataFrame:
    return session(
        "EX1",
        FE,
        "send",
        sid,
        [
            ("*", "", "attempting to connect"),
            ("+", "", ""),
            ("<", "220 EX2.contoso.lab Microsoft ESMTP MAIL Service ready", ""),
            ("*", "", f"Proxying inbound session with session id {proxied}"),
            (
                ">",
                f"XPROXYFROM SID={proxied} " + XFROM,
                "",
            ),
            ("<", "250 XProxyFrom accepted", ""),
            (">", "MAIL FROM:<a@example.com>", ""),
            ("<", "250 2.1.0 Sender OK", ""),
            (">", "RCPT TO:<b@contoso.lab>", ""),
            ("<", "250 2.1.5 Recipient OK", ""),
            (">", "DATA", ""),
            ("<", "354 Start mail input", ""),
            ("<", QUEUED, ""),
            ("-", "", "Local"),
        ],
        connector="Inbound Proxy Internal Send Connector",
        local_ep=f"10.0.3.4:{port}",
        remote_ep="10.0.3.5:2525",
        t0=t0 + timedelta(milliseconds=700),
    )


def hub_receive(
    sid: str = C, proxied: str = A, t0=T0, port: int = 40001, skew_s: float = 0
) -> pl.DataFrame:
    return session(
        "EX2",
        HUB,
        "receive",
        sid,
        [
            ("+", "", ""),
            (">", "220 EX2.contoso.lab Microsoft ESMTP MAIL Service ready", ""),
            (
                "<",
                f"XPROXYFROM SID={proxied} " + XFROM,
                "",
            ),
            (">", "250 XProxyFrom accepted", ""),
            ("<", "MAIL FROM:<a@example.com>", ""),
            ("*", f"{sid};2026-03-02T09:00:00.000Z;1", "receiving message"),
            (">", "250 2.1.0 Sender OK", ""),
            ("<", "RCPT TO:<b@contoso.lab>", ""),
            ("<", "DATA", ""),
            (">", "354 Start mail input", ""),
            ("*", "", "receiving message with InternetMessageId <m1@x.com>"),
            (">", QUEUED, ""),
            ("-", "", "Remote"),
        ],
        connector="EX2\\Default EX2",
        local_ep="10.0.3.5:2525",
        remote_ep=f"10.0.3.4:{port}",
        t0=t0 + timedelta(milliseconds=900, seconds=skew_s),
    )


def hub_send(sid: str = D, t0=T0, record: str = "4242") -> pl.DataFrame:
    return session(
        "EX2",
        HUB,
        "send",
        sid,
        [
            ("*", "", "attempting to connect"),
            ("+", "", ""),
            ("<", "220 EX3.contoso.lab Microsoft ESMTP MAIL Service ready", ""),
            (">", "XSESSIONPARAMS MDBGUID=0123456789abcdef0123456789abcdef", ""),
            ("<", "250 2.0.0 XSESSIONPARAMS OK", ""),
            ("*", "", f"sending message with RecordId {record} and InternetMessageId <m1@x.com>"),
            (">", "MAIL FROM:<a@example.com>", ""),
            (">", "RCPT TO:<b@contoso.lab>", ""),
            (">", "DATA", ""),
            ("<", "354 Start mail input", ""),
            ("<", "250 2.0.0 OK", ""),
            ("-", "", "Local"),
        ],
        connector="Intra-Organization SMTP Send Connector",
        local_ep="10.0.3.5:41000",
        remote_ep="10.0.3.6:475",
        t0=t0 + timedelta(seconds=3),
    )


def md_receive(
    sid: str = E, t0=T0, local: str = "10.0.3.6:475", remote: str = "10.0.3.5:41000"
) -> pl.DataFrame:
    return session(
        "EX3",
        MD,
        "receive",
        sid,
        [
            ("+", "", ""),
            (">", "220 EX3.contoso.lab Microsoft ESMTP MAIL Service ready", ""),
            ("<", "XSESSIONPARAMS MDBGUID=0123456789abcdef0123456789abcdef", ""),
            (">", "250 2.0.0 XSESSIONPARAMS OK", ""),
            ("<", "MAIL FROM:<a@example.com>", ""),
            ("<", "RCPT TO:<b@contoso.lab>", ""),
            ("<", "DATA", ""),
            (">", "354 Start mail input", ""),
            (">", "250 2.0.0 OK", ""),
            ("-", "", "Remote"),
        ],
        connector="EX3\\Default Mailbox Delivery EX3",
        local_ep=local,
        remote_ep=remote,
        t0=t0 + timedelta(seconds=3, milliseconds=100),
    )


def key(server: str, service: str, direction: str, sid: str) -> str:
    return f"{server}|{service}|{direction}|{sid}"
