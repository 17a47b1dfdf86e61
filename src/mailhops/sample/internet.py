"""Hub to the Internet: directly (``To Internet``) or through the FE outbound proxy (§3.2),
and the greylisted (deferred) variant."""

from __future__ import annotations

from mailhops.sample.core import ConnLog, Session, Sim
from mailhops.sample.dialog import (
    KW_INTERNET,
    TLS_CLIENT,
    Conv,
    connect,
    ehlo,
    envelope,
    reply,
    transaction,
)
from mailhops.sample.lab import Lab
from mailhops.sample.legs import Channels, Link
from mailhops.sample.track import Tracker
from mailhops.sample.truth import Mail

GREYLISTED = "Recipient address rejected: Greylisted, see https://postgrey.schweikert.ch/help/"


class InternetPaths:
    """Base of :class:`mailhops.sample.paths.Paths`: the shared state and Internet hops."""

    def __init__(self, sim: Sim, lab: Lab, channels: Channels) -> None:
        self.sim = sim
        self.lab = lab
        self.ch = channels
        self.track = Tracker(sim, lab)
        self._fe_conns: dict[str, ConnLog] = {}

    def internet(self, hub: str, t: int, mail: Mail, fe: str | None) -> int:
        """Send ``mail`` to its external recipient's MX (through ``fe`` when given)."""
        sim, lab = self.sim, self.lab
        domain = mail.recipients[0].split("@", 1)[1]
        mx_host, mx_ip = lab.mx(domain)
        record_id = mail.internal_ids[hub]
        description = f"DnsConnectorDelivery {lab.connector_guid};QueueLength=TQ=1;AN=1;. "
        if fe is None:
            conv, conn, hops = self._direct(hub, t, domain, mx_host, mx_ip, description)
        else:
            conv, conn, hops = self._outbound_proxy(hub, fe, t, domain, mx_host, mx_ip, description)
        send = hops[0]
        if mail.outcome == "deferred":  # greylisted: 4xx to RCPT, the Hub will retry later
            return self._deferred(hub, conv, conn, send, mail, record_id)
        queued = f"250 2.0.0 Ok: queued as {sim.rng.getrandbits(40):010X}"
        c_ord, _ = transaction(conv, mail, queued, record_id=record_id, bdat=False)
        mail.hop(send, c_ord)
        for extra in hops[1:]:
            mail.hop(extra, -1)
        conv.cmd("QUIT", "221 2.0.0 Bye")
        conv.cli("-", "", "Local")
        for extra in hops[1:]:  # the FE's blind-proxy sessions end with the Hub's
            extra.row(conv.t, "-", "", "Remote" if extra.direction == "receive" else "Local")
            extra.outcome = "delivered"
            fe_conn = self._fe_conns.pop(extra.session_id, None)
            if fe_conn is not None:
                fe_conn.row(conv.t, "-", f"Messages: 1 Bytes: {mail.size}")
        send.outcome = "delivered"
        conn.row(conv.t, "-", f"Messages: 1 Bytes: {mail.size}")
        self.track.send(hub, conv.t, mail, record_id, send, queued, None, mx_host, mx_ip)
        return conv.t

    def _hello_mx(self, conv: Conv, server: str, mx_host: str, attempt: str) -> None:
        """Connect to an Internet MX, EHLO, STARTTLS (client-side rows only), EHLO."""
        sim = self.sim
        local = f"{sim.ip[server]}:{sim.next_port(server)}"
        connect(conv, f"220 {mx_host} ESMTP Postfix", None, local, attempt)
        ehlo(conv, sim.fqdn[server], mx_host, sim.ip[server], KW_INTERNET)
        conv.cmd("STARTTLS", "220 2.0.0 Ready to start TLS")
        conv.cli("*", "", TLS_CLIENT)
        ehlo(conv, sim.fqdn[server], mx_host, sim.ip[server], KW_INTERNET)

    def _mx_session(
        self,
        server: str,
        stream: str,
        connector: str,
        t: int,
        domain: str,
        mx: tuple[str, str],
        description: str,
    ) -> tuple[Session, ConnLog]:
        """A send session to an MX and its connectivity rows up to the connect."""
        mx_host, mx_ip = mx
        send = Session(self.sim, server, stream, connector, "", f"{mx_ip}:25")
        conn_stream = "fe-connectivity" if stream == "fe-send" else "hub-connectivity"
        conn = ConnLog(self.sim, server, conn_stream, send.session_id, "SMTP", domain)
        conn.row(t, "+", description)
        conn.row(t + 2, ">", f"{mx_host}[{mx_ip}]")
        conn.row(t + 40, ">", f"Established connection to {mx_ip}")
        return send, conn

    def _direct(
        self, hub: str, t: int, domain: str, mx_host: str, mx_ip: str, description: str
    ) -> tuple[Conv, ConnLog, list[Session]]:
        """Hub send connector ``To Internet`` straight to the MX."""
        send, conn = self._mx_session(
            hub, "hub-send", "To Internet", t, domain, (mx_host, mx_ip), description
        )
        conv = Conv(self.sim, send, None, t, lan=False)
        self._hello_mx(conv, hub, mx_host, "attempting to connect")
        return conv, conn, [send]

    def _deferred(
        self, hub: str, conv: Conv, conn: ConnLog, send: Session, mail: Mail, record_id: str
    ) -> int:
        """The remote MX greylists the recipient; QUIT; tracking DEFER (source-context = sid)."""
        text = f"451 4.7.1 <{mail.recipients[0]}>: {GREYLISTED}"
        conv.cli(
            "*",
            "",
            f"sending message with RecordId {record_id} and InternetMessageId {mail.message_id}",
        )
        send.add_message_id(mail.message_id)
        c_ord, _ = envelope(conv, mail, rcpt_reply=text)
        mail.hop(send, c_ord)
        conv.cmd("RSET", "250 2.0.0 Ok")
        conv.cmd("QUIT", "221 2.0.0 Bye")
        conv.cli("-", "", "Local")
        send.outcome = "deferred"
        conn.row(conv.t, "-", "Messages: 0 Bytes: 0")
        self.track.event(
            hub,
            conv.t,
            mail,
            record_id,
            "DEFER",
            "SMTP",
            context=send.session_id,
            status=text.replace(";", " "),
        )
        return conv.t

    def _outbound_proxy(
        self, hub: str, fe: str, t: int, domain: str, mx_host: str, mx_ip: str, description: str
    ) -> tuple[Conv, ConnLog, list[Session]]:
        """Hub send to FE :717, XPROXYTO, and the FE's own send session to the MX."""
        spec = Link(
            hub,
            fe,
            "hub-send",
            "Outbound Proxy Internal Send Connector",
            "fe-receive",
            f"{fe}\\Outbound Proxy Frontend {fe}",
            717,
            domain,
            description,
        )
        ch = self.ch.open(spec, t)
        self.ch.secure(ch)
        conv = ch.conv
        conv.cli(
            "*",
            "",
            "This session is now being proxied through the next hop. "
            "The actual connector being used is: To Internet",
        )
        hub_send, fe_recv = ch.send, ch.receive
        command = (
            f"XPROXYTO DESTINATIONS={domain} FORCEHELO=False SHOULDSKIPTLS=False PORT=25 "
            "REQUIRETLS=False REQUIREOORG=False RISK=Normal OUTBOUNDIPPOOL=0 "
            f"SESSIONID={hub_send.session_id} NEXTHOPDOMAIN={domain} LAST=True"
        )
        conv.cli(">", command)
        conv.t += conv.net
        conv.srv("<", command)
        fe_send = self._fe_outbound(conv, fe, hub, domain, (mx_host, mx_ip))
        lines = [
            f"250-XPROXYTOTARGETIPADDRESS {mx_ip}",
            f"250-XPROXYTOTARGETHOSTNAME {mx_host}",
            f"250 XPROXYTODESTINATIONS {domain}",
        ]
        reply(conv, lines)
        conv.srv(
            "*", "", "Proxy session was successfully set up. Outbound session will now be proxied"
        )
        # From here on the FE relays bytes blindly: only the Hub logs the dialogue.
        blind = Conv(self.sim, hub_send, None, conv.t, lan=False)
        return blind, ch.conn, [hub_send, fe_recv, fe_send]

    def _fe_outbound(
        self, conv: Conv, fe: str, hub: str, domain: str, mx: tuple[str, str]
    ) -> Session:
        """The FE's send session to the MX for the proxied Hub session (advances ``conv``)."""
        assert conv.client is not None and conv.server is not None
        text = (
            f"Outbound proxy from {self.sim.fqdn[hub]} with session id "
            f"{conv.client.session_id}. Proxied session id {conv.server.session_id}"
        )
        fe_send, conn = self._mx_session(
            fe, "fe-send", "Outbound Proxy External Send Connector", conv.t, domain, mx, text
        )
        self._fe_conns[fe_send.session_id] = conn  # its "-" row comes when the Hub quits
        fe_conv = Conv(self.sim, fe_send, None, conv.t, lan=False)
        self._hello_mx(fe_conv, fe, mx[0], f"attempting to connect. {text}")
        fe_conv.cli(
            "*",
            "",
            "Proxy session successfully set up for outbound proxy. Inbound "
            "session will now be blindly proxied",
        )
        conv.t = fe_conv.t
        return fe_send
