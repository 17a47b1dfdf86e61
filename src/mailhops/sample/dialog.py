"""SMTP dialogue building blocks: both ends of a conversation logged row by row.

A :class:`Conv` pairs the client side (an SMTP Send log session) with the server side (an
SMTP Receive log session); either may be ``None`` when that end is not an Exchange server of
the lab (an Internet client or server). Commands and replies are logged from each side's
point of view (``>`` = what this server sent), with a small network delay between the ends.
"""

from __future__ import annotations

from typing import Final, Protocol

from mailhops.sample.core import Session, Sim
from mailhops.sample.fmt import rfc2822

PERMS_ANON: Final = (
    "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders"
)
PERMS_SERVER: Final = (
    "SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender "
    "BypassAntiSpam BypassMessageSizeLimit SMTPSendEXCH50 SMTPAcceptEXCH50 AcceptRoutingHeaders "
    "AcceptForestHeaders AcceptOrganizationHeaders SendRoutingHeaders SendForestHeaders "
    "SendOrganizationHeaders SendAs SMTPSendXShadow SMTPAcceptXShadow SMTPAcceptXProxyFrom "
    "SMTPAcceptXSessionParams SMTPAcceptXMessageContextADRecipientCache "
    "SMTPAcceptXMessageContextExtendedProperties SMTPAcceptXMessageContextFastIndex "
    "SMTPAcceptXAttr SMTPAcceptXSysProbe"
)
PERMS_USER: Final = (
    "SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAuthenticationFlag SMTPAcceptAnySender "
    "SMTPAcceptAuthoritativeDomainSender BypassAntiSpam BypassMessageSizeLimit AcceptRoutingHeaders"
)
KW_FRONTEND: Final = (
    "SIZE 37748736",
    "PIPELINING",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "STARTTLS",
    "8BITMIME",
    "BINARYMIME",
    "CHUNKING",
    "SMTPUTF8",
)
KW_CLIENT: Final = (
    "SIZE 37748736",
    "PIPELINING",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "STARTTLS",
    "AUTH GSSAPI NTLM LOGIN",
    "8BITMIME",
    "BINARYMIME",
    "CHUNKING",
    "SMTPUTF8",
)
KW_TRANSPORT: Final = (
    "SIZE 37748736",
    "PIPELINING",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "STARTTLS",
    "X-ANONYMOUSTLS",
    "X-EXPS GSSAPI NTLM",
    "8BITMIME",
    "BINARYMIME",
    "CHUNKING",
    "XEXCH50",
    "XSHADOWREQUEST",
    "XPROXYFROM",
    "XSESSIONPARAMS",
)
KW_INTERNET: Final = (
    "PIPELINING",
    "SIZE 52428800",
    "STARTTLS",
    "ENHANCEDSTATUSCODES",
    "8BITMIME",
    "SMTPUTF8",
)
TLS_SERVER: Final = (
    "TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm "
    "CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits "
    "and key exchange algorithm CALG_ECDH_EPHEM with strength 384 bits"
)
TLS_CLIENT: Final = TLS_SERVER.replace("_SERVER ", "_CLIENT ")
CERT_CONTEXT: Final = (
    "Sending certificate Subject Issuer name Serial number Thumbprint Not before Not after "
    "Subject alternate names"
)
QUIT_REPLY: Final = "221 2.0.0 Service closing transmission channel"


class MailLike(Protocol):
    """What a transaction needs to know about a message."""

    message_id: str
    sender: str
    recipients: list[str]
    size: int


def ehlo_lines(host: str, client_ip: str, keywords: tuple[str, ...]) -> list[str]:
    """The multi-line EHLO reply (``250-host Hello [ip]`` ... ``250 LAST``)."""
    lines = [f"250-{host} Hello [{client_ip}]"]
    lines.extend(f"250-{kw}" for kw in keywords[:-1])
    lines.append(f"250 {keywords[-1]}")
    return lines


def flatten(lines: list[str]) -> str:
    """A multi-line reply as 2016+ receive logs write it: ``250  host Hello [ip] KW ...``."""
    return "250  " + " ".join(line[4:] for line in lines)


class Conv:
    """A conversation between a logged client session and/or a logged server session."""

    def __init__(
        self, sim: Sim, client: Session | None, server: Session | None, t: int, lan: bool = True
    ) -> None:
        self.sim = sim
        self.client = client
        self.server = server
        self.t = t
        self.net = 1 if lan else 35
        self.think = (0, 3) if lan else (15, 400)
        self.flat = sim.version in ("2016", "2019")

    def pause(self, lo: int, hi: int) -> None:
        """Advance the clock by a random number of milliseconds in [lo, hi]."""
        self.t += self.sim.rng.randint(lo, hi)

    def srv(self, event: str, data: str = "", context: str = "") -> None:
        """Log one row on the server side at the current time."""
        if self.server is not None:
            self.server.row(self.t, event, data, context)

    def cli(self, event: str, data: str = "", context: str = "") -> None:
        """Log one row on the client side at the current time."""
        if self.client is not None:
            self.client.row(self.t, event, data, context)

    def cmd(
        self,
        command: str,
        reply: list[str] | str,
        before: tuple[tuple[str, str, str], ...] = (),
        work: int = 0,
        client_reply: str | None = None,
    ) -> None:
        """Client sends ``command``; server logs ``before`` rows, then the reply lines."""
        lines = [reply] if isinstance(reply, str) else reply
        self.cli(">", command)
        self.t += self.net
        self.srv("<", command)
        for event, data, context in before:
            self.srv(event, data, context)
        self.t += work
        if self.server is not None:
            if self.flat and len(lines) > 1:
                self.server.row(self.t, ">", flatten(lines))
            else:
                for line in lines:
                    self.server.row(self.t, ">", line)
        self.t += self.net
        if self.client is not None:
            if client_reply is not None:
                lines = [client_reply]
            for line in lines:
                self.client.row(self.t, "<", line)
        self.pause(*self.think)


def banner(sim: Sim, server: str, t: int) -> str:
    """The 220 greeting of a lab server (its local time is its skewed UTC clock)."""
    when = rfc2822(t + sim.skew[server])
    return f"220 {sim.fqdn[server]} Microsoft ESMTP MAIL Service ready at {when}"


def connect(conv: Conv, greeting: str, perms: str | None, local: str, attempt: str) -> None:
    """TCP connect: client ``attempting to connect`` (no local endpoint), ``+``, banner."""
    if conv.client is not None:
        conv.cli("*", "", attempt)
        conv.t += 1 + conv.sim.rng.randrange(3)
        conv.client.set_endpoints(local, conv.client.remote)
        conv.cli("+")
    conv.t += conv.net
    conv.srv("+")
    if perms is not None:
        conv.srv("*", perms, "Set Session Permissions")
    conv.srv(">", greeting)
    conv.t += conv.net
    conv.cli("<", greeting)
    conv.pause(*conv.think)


def ehlo(conv: Conv, helo: str, host: str, client_ip: str, keywords: tuple[str, ...]) -> None:
    """EHLO and its multi-line reply."""
    conv.cmd(f"EHLO {helo}", ehlo_lines(host, client_ip, keywords))


def starttls(
    conv: Conv,
    sim: Sim,
    server: str | None,
    helo: str,
    host: str,
    ip: str,
    keywords: tuple[str, ...],
    perms: str | None,
) -> None:
    """STARTTLS, certificate and TLS rows, then the second EHLO."""
    conv.cmd("STARTTLS", "220 2.0.0 SMTP server ready")
    if server is not None and conv.server is not None:
        for data, context in cert_rows(sim, server):
            conv.srv("*", data, context)
    conv.srv("*", "", TLS_SERVER)
    conv.cli("*", "", TLS_CLIENT)
    conv.pause(2, 20)
    before = (("*", perms, "Set Session Permissions"),) if perms else ()
    conv.cmd(
        f"EHLO {helo}",
        ehlo_lines(host, ip, tuple(k for k in keywords if k != "STARTTLS")),
        before=before,
    )


def cert_rows(sim: Sim, server: str) -> list[tuple[str, str]]:
    """Certificate rows: one row on 2016+, one row per attribute on 2013, none on 2010."""
    serial = _hexid(server, 32)
    thumb = _hexid(server + "t", 40)
    cn = f"CN={server}"
    alt = f"{server};{sim.fqdn[server]}"
    if sim.version in ("2016", "2019"):
        data = (
            f" {cn} {cn} {serial} {thumb} 2025-01-17T15:15:33.000Z 2030-01-17T15:15:33.000Z {alt}"
        )
        return [(data, CERT_CONTEXT)]
    if sim.version == "2013":
        return [
            ("", "Sending certificate"),
            (cn, "Certificate subject"),
            (cn, "Certificate issuer name"),
            (serial, "Certificate serial number"),
            (thumb, "Certificate thumbprint"),
            (alt, "Certificate alternate names"),
        ]
    return []


def _hexid(text: str, width: int) -> str:
    """A stable pseudo-random upper-case hex string derived from ``text`` (no hash seed)."""
    value = 0
    for ch in text:
        value = (value * 1_000_003 + ord(ch)) % (16**width)
    value = (value * 2_654_435_761 + 97) % (16**width)
    return f"{value:0{width}X}"


def exps(conv: Conv, client_server: str) -> None:
    """Exchange server authentication (X-EXPS) and the server's new permissions."""
    # Each side logs its own redaction of the 235 reply (log-formats.md §1.4).
    conv.cmd(
        "X-EXPS EXCHANGEAUTH SHA256 ",
        "235 <authentication response>",
        client_reply="235 <authentication information>",
    )
    conv.srv("*", f"CONTOSO\\{client_server}$", "authenticated")
    conv.srv("*", PERMS_SERVER, "Set Session Permissions")


def quit_(conv: Conv, server_reason: str = "Local", client_reason: str = "Local") -> None:
    """QUIT, 221 and both disconnect rows."""
    conv.cmd("QUIT", QUIT_REPLY)
    conv.srv("-", "", server_reason)
    conv.cli("-", "", client_reason)


def reply(conv: Conv, lines: list[str], before: tuple[tuple[str, str, str], ...] = ()) -> None:
    """A reply that follows no logged command (the end of DATA): server rows, then client."""
    for event, data, context in before:
        conv.srv(event, data, context)
    for line in lines:
        conv.srv(">", line)
    conv.t += conv.net
    for line in lines:
        conv.cli("<", line)
    conv.pause(*conv.think)


def transaction(
    conv: Conv,
    mail: MailLike,
    final: str,
    *,
    record_id: str | None = None,
    bdat: bool = True,
    temp_id: bool = True,
    msgid_row: bool = False,
) -> tuple[int, int]:
    """MAIL FROM .. RCPT TO .. DATA/BDAT .. final reply; returns the (client, server) ordinals.

    The server logs the temporary message id at MAIL FROM (``sid;start;n``, L7) and, when
    ``msgid_row``, ``receiving message with InternetMessageId``. The client logs
    ``sending message with RecordId`` when ``record_id`` is given (L8).
    """
    if conv.client is not None and record_id is not None:
        conv.cli(
            "*",
            "",
            f"sending message with RecordId {record_id} and InternetMessageId {mail.message_id}",
        )
    c_ord, s_ord = envelope(conv, mail, temp_id=temp_id)
    transfer = 2 + mail.size // (4000 if conv.net == 1 else 400)
    got = (("*", "", f"receiving message with InternetMessageId {mail.message_id}"),)
    if bdat:
        conv.cmd(f"BDAT {mail.size} LAST", final, before=got if msgid_row else (), work=transfer)
    else:
        conv.cmd("DATA", "354 Start mail input; end with <CRLF>.<CRLF>")
        conv.t += transfer
        reply(conv, [final], got if msgid_row else ())
    # The truth lists a Message-ID for a session only where that session's rows show it.
    in_reply = mail.message_id in final
    if conv.client is not None and (record_id is not None or in_reply):
        conv.client.add_message_id(mail.message_id)
    if conv.server is not None and (msgid_row or in_reply):
        conv.server.add_message_id(mail.message_id)
    return c_ord, s_ord


def queued_reply(
    sim: Sim, mail: MailLike, record_id: str, hub: str, redundancy: bool = False
) -> str:
    """The Hub's ``250 2.6.0 <msgid> [InternalId=R, Hostname=H] ...`` reply (L6, §3.6, §6)."""
    what = "Queued mail for redundancy" if redundancy else "Queued mail for delivery"
    if sim.version == "2010":
        return f"250 2.6.0 {mail.message_id} [InternalId={record_id}] {what}"
    host = sim.fqdn[hub]
    if sim.version == "2013":
        if redundancy:  # 2013 CU23 swaps the two format arguments
            return f"250 2.6.0 {mail.message_id} [InternalId={host}, Hostname={record_id}] {what}"
        return f"250 2.6.0 {mail.message_id} [InternalId={record_id}, Hostname={host}] {what}"
    secs = 0.05 + mail.size / 2_000_000 + sim.rng.random() * 0.4
    rate = mail.size / 1024 / secs
    return (
        f"250 2.6.0 {mail.message_id} [InternalId={record_id}, Hostname={host}] "
        f"{mail.size} bytes in {secs:.3f}, {rate:.3f} KB/sec {what}"
    )


def envelope(
    conv: Conv, mail: MailLike, temp_id: bool = True, rcpt_reply: str = "250 2.1.5 Recipient OK"
) -> tuple[int, int]:
    """MAIL FROM (with the server's temporary message id row, L7) and RCPT TO commands."""
    client, server = conv.client, conv.server
    c_ord = s_ord = -1
    if client is not None:
        c_ord = client.mails
        client.mails += 1
    before: tuple[tuple[str, str, str], ...] = ()
    if server is not None:
        s_ord = server.mails
        server.mails += 1
        if temp_id:
            temp = f"{server.session_id};{conv.sim.clock.ts(server.start)};{server.mails}"
            before = (("*", temp, "receiving message"),)
    utf8 = "" if mail.sender.isascii() else " SMTPUTF8"
    conv.cmd(f"MAIL FROM:<{mail.sender}> SIZE={mail.size}{utf8}", "250 2.1.0 Sender OK", before)
    for rcpt in mail.recipients:
        conv.cmd(f"RCPT TO:<{rcpt}>", rcpt_reply)
    return c_ord, s_ord
