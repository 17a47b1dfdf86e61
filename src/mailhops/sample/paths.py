"""The hops of a message path: FE inbound proxy, Hub relay, shadow copy, mailbox delivery,
submission and sending to the Internet (directly or through the FE outbound proxy).

Each function logs both ends of its hop, the connectivity and message tracking evidence, and
appends the protocol sessions to the message's truth hops. Times are true ms.
"""

from __future__ import annotations

from mailhops.sample.core import ConnLog, Session, Sim
from mailhops.sample.dialog import (
    KW_INTERNET,
    PERMS_ANON,
    TLS_CLIENT,
    Conv,
    connect,
    ehlo,
    envelope,
    queued_reply,
    transaction,
)
from mailhops.sample.lab import Database, Lab
from mailhops.sample.legs import NO_COUNTS, UNDEFINED, Channels
from mailhops.sample.model import FRONTEND, HUB, MAILBOX_DELIVERY
from mailhops.sample.track import Tracker
from mailhops.sample.truth import Mail


class Paths:
    """Hop builders sharing the simulation, the lab, the channel pools and the tracker."""

    def __init__(self, sim: Sim, lab: Lab, channels: Channels) -> None:
        self.sim = sim
        self.lab = lab
        self.ch = channels
        self.track = Tracker(sim, lab)
        self._fe_conns: dict[str, ConnLog] = {}

    # --- FE inbound proxy (§3.1 L1, L2, L4) ----------------------------------------------

    def fe_proxy(
        self, fe: str, hub: str, t: int, inbound: Session, client: tuple[str, int, str], mail: Mail
    ) -> tuple[str, int]:
        """Proxy ``mail`` from FE receive session ``inbound`` to the Hub; returns (reply, t)."""
        sim, key = self.sim, ("feproxy", fe, hub)
        msg = f"Starting outbound connection for inbound session {inbound.session_id}"
        description = f"{UNDEFINED};QueueLength={NO_COUNTS}. {msg}"
        ch = self.ch.acquire(key, t)
        if ch is None:
            ch = self.ch.open(
                fe,
                hub,
                t,
                process=FRONTEND,
                send_stream="fe-send",
                connector="Inbound Proxy Internal Send Connector",
                recv_stream="hub-receive",
                recv_connector=f"{hub}\\Default {hub}",
                port=2525,
                destination="internalproxy",
                description=description,
            )
            ch.conv.cli("*", "", f"Proxying inbound session with session id {inbound.session_id}")
            self.ch.secure(ch)
            self.ch.add(key, ch)
        else:
            self.ch.cache_hit(ch, "internalproxy", description, ch.conv.t)
            ch.conv.cli("*", "", f"Proxying inbound session with session id {inbound.session_id}")
            ch.conv.cmd("RSET", "250 2.0.0 Resetting")
        conv = ch.conv
        ip, port, helo = client
        domain = "" if helo.startswith("[") else f" DOMAIN={helo}"
        conv.cmd(
            f"XPROXYFROM SID={inbound.session_id} IP={ip} PORT={port}{domain} SEQNUM=1 "
            "PERMS=1073 AUTHSRC=Anonymous",
            "250 XProxyFrom accepted",
            before=(("*", PERMS_ANON, "Set Session Permissions"),),
        )
        record_id = sim.next_record_id(hub)
        reply = queued_reply(sim, mail, record_id, hub)
        c_ord, s_ord = transaction(conv, mail, reply, msgid_row=True)
        mail.hop(ch.send, c_ord)
        mail.hop(ch.receive, s_ord)
        mail.internal_ids[hub] = record_id
        self.track.receive(
            hub,
            conv.t,
            mail,
            ch.receive,
            record_id,
            fe,
            original_ip=ip,
            custom=f"S:ProxyHop1={sim.fqdn[fe]}({sim.ip[fe]});S:FirstForestHop={sim.fqdn[fe]}",
        )
        self.ch.release(ch, mail.size)
        return reply, conv.t

    # --- Hub to Hub and shadow redundancy (§3.5, §3.6) --------------------------------------

    def relay(self, hub: str, peer: str, t: int, mail: Mail, shadow: bool = False) -> int:
        """Send ``mail`` from ``hub`` to ``peer``'s Transport (relay hop or shadow copy)."""
        sim = self.sim
        kind = "shadow" if shadow else "relay"
        key = (kind, hub, peer)
        destination = "shadowredundancy" if shadow else f"dag-{peer.lower()}"
        nexthop = "ShadowRedundancy" if shadow else "SmtpRelayWithinAdSite"
        description = f"{nexthop} {self.lab.connector_guid};QueueLength=TQ=1;AN=1;. "
        ch = self.ch.acquire(key, t)
        if ch is None:
            ch = self.ch.open(
                hub,
                peer,
                t,
                process=HUB,
                send_stream="hub-send",
                connector="Intra-Organization SMTP Send Connector",
                recv_stream="hub-receive",
                recv_connector=f"{peer}\\Default {peer}",
                port=2525 if sim.version != "2010" else 25,
                destination=destination,
                description=description,
            )
            self.ch.secure(ch)
            self.ch.add(key, ch)
        else:
            self.ch.cache_hit(ch, destination, description, ch.conv.t)
        conv = ch.conv
        record_id = mail.internal_ids[hub]
        peer_id = sim.next_record_id(peer)
        reply = queued_reply(sim, mail, peer_id, peer, redundancy=shadow)
        c_ord, s_ord = transaction(conv, mail, reply, record_id=record_id, msgid_row=True)
        target = mail.side if shadow else mail.hops
        target.append((ch.send, c_ord))
        target.append((ch.receive, s_ord))
        if shadow:
            self.track.event(hub, conv.t, mail, record_id, "HAREDIRECT", "REDUNDANCY")
            self.track.event(peer, conv.t, mail, peer_id, "HARECEIVE", "REDUNDANCY")
        else:
            mail.internal_ids[peer] = peer_id
            self.track.send(hub, conv.t, mail, record_id, ch.send, reply, peer)
            self.track.receive(peer, conv.t, mail, ch.receive, peer_id, hub)
        self.ch.release(ch, mail.size)
        return conv.t

    # --- Hub to Mailbox Transport Delivery (§3.1 L8-L13) -------------------------------------

    def deliver(self, hub: str, db: Database, t: int, mail: Mail) -> int:
        """Deliver ``mail`` from ``hub`` to the mailbox database ``db``."""
        sim = self.sim
        record_id = mail.internal_ids[hub]
        if sim.version == "2010":  # store driver on the Hub itself, no SMTP hop
            self.track.deliver(hub, "hub-tracking", t + 40, mail, record_id, hub, db, "")
            return t + 40
        mbx = db.server
        key = ("deliver", hub, db.name)
        description = f"SmtpDeliveryToMailbox {db.guid};QueueLength=TQ=1;AN=1;. "
        destination = db.name.lower()
        ch = self.ch.acquire(key, t)
        if ch is None:
            ch = self.ch.open(
                hub,
                mbx,
                t,
                process=HUB,
                send_stream="hub-send",
                connector="Intra-Organization SMTP Send Connector",
                recv_stream="mbx-delivery-receive",
                recv_connector=f"{mbx}\\Default Mailbox Delivery {mbx}",
                port=475,
                destination=destination,
                description=description,
            )
            self.ch.secure(ch)
            ch.conv.cmd(f"XSESSIONPARAMS MDBGUID={db.guid_n}", "250 2.0.0 XSESSIONPARAMS OK")
            self.ch.add(key, ch)
        else:
            self.ch.cache_hit(ch, destination, description, ch.conv.t)
        conv = ch.conv
        c_ord, s_ord = transaction(conv, mail, "250 2.0.0 OK", record_id=record_id)
        mail.hop(ch.send, c_ord)
        mail.hop(ch.receive, s_ord)
        self._mapi_delivery(mbx, db, conv.t - 5, mail, record_id, hub)
        self.track.send(hub, conv.t, mail, record_id, ch.send, "250 2.0.0 OK", mbx)
        self.ch.release(ch, mail.size)
        return conv.t

    def _mapi_delivery(
        self, mbx: str, db: Database, t: int, mail: Mail, record_id: str, hub: str
    ) -> None:
        """MapiDelivery connectivity session F and the MSGTRKMD DELIVER event (L12, L13)."""
        sim = self.sim
        sid = sim.next_sid(mbx, MAILBOX_DELIVERY)
        conn = ConnLog(sim, mbx, "mbx-delivery-connectivity", sid, "MapiDelivery", db.name)
        start = t - 30
        conn.row(start, "+", f"Delivery;MailboxServer={sim.fqdn[mbx]};Database={db.name}")
        conn.row(start + 1, ">", "Starting delivery")
        conn.row(start + 2, ">", f"Connecting to server {sim.fqdn[mbx]} session type Delivery")
        conn.row(t, "-", f"Messages: 1 Bytes: {mail.size} Recipients: {len(mail.recipients)}")
        context = f"{sid};{sim.clock.ts(start + sim.skew[mbx])};ClientSubmitTime:"
        self.track.deliver(mbx, "mbx-delivery-tracking", t, mail, record_id, hub, db, context)

    # --- Mailbox Transport Submission to the Hub (§3.4) -------------------------------------

    def submit(self, mbx: str, hub: str, t: int, mail: Mail, db: Database, mailbox: str) -> int:
        """Submission send (``Mailbox Proxy Send Connector``) to the Hub's ``Default`` 2525."""
        sim = self.sim
        self.track.submit(mbx, t, mail, db, mailbox)
        description = f"{UNDEFINED};QueueLength={NO_COUNTS}. "
        ch = self.ch.open(
            mbx,
            hub,
            t + 20,
            process="MailboxSubmission",
            send_stream="mbx-submission-send",
            connector="Mailbox Proxy Send Connector",
            recv_stream="hub-receive",
            recv_connector=f"{hub}\\Default {hub}",
            port=2525,
            destination="mailboxtransportsubmissioninternalproxy",
            description=description,
        )
        self.ch.secure(ch)
        conv = ch.conv
        record_id = sim.next_record_id(hub)
        reply = queued_reply(sim, mail, record_id, hub)
        c_ord, s_ord = transaction(conv, mail, reply, record_id="0", msgid_row=True)
        mail.hop(ch.send, c_ord)
        mail.hop(ch.receive, s_ord)
        mail.internal_ids[hub] = record_id
        self.track.receive(hub, conv.t, mail, ch.receive, record_id, mbx, originating=True)
        ch.messages, ch.bytes = 1, mail.size
        self.ch.close(ch, conv.t + 2)
        return conv.t

    # --- Hub to the Internet, directly or through the FE outbound proxy (§3.2) --------------

    def internet(self, hub: str, t: int, mail: Mail, fe: str | None) -> int:
        """Send ``mail`` to its external recipient's MX (through ``fe`` when given)."""
        sim, lab = self.sim, self.lab
        domain = mail.recipients[0].split("@", 1)[1]
        mx_host, mx_ip = lab.mx(domain)
        record_id = mail.internal_ids[hub]
        description = f"DnsConnectorDelivery {lab.connector_guid};QueueLength=TQ=1;AN=1;. "
        if fe is None:
            send = Session(sim, hub, "hub-send", "To Internet", "", f"{mx_ip}:25")
            conn = ConnLog(sim, hub, "hub-connectivity", send.session_id, "SMTP", domain)
            conn.row(t, "+", description)
            conn.row(t + 2, ">", f"{mx_host}[{mx_ip}]")
            conn.row(t + 40, ">", f"Established connection to {mx_ip}")
            conv = Conv(sim, send, None, t, lan=False)
            connect(
                conv,
                f"220 {mx_host} ESMTP Postfix",
                None,
                f"{sim.ip[hub]}:{sim.next_port(hub)}",
                "attempting to connect",
            )
            ehlo(conv, sim.fqdn[hub], mx_host, sim.ip[hub], KW_INTERNET)
            conv.cmd("STARTTLS", "220 2.0.0 Ready to start TLS")
            conv.cli("*", "", TLS_CLIENT)
            ehlo(conv, sim.fqdn[hub], mx_host, sim.ip[hub], KW_INTERNET)
            hops: list[Session] = [send]
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
        for extra in hops[1:]:
            extra.row(conv.t, "-", "", "Remote" if extra.direction == "receive" else "Local")
            extra.outcome = "delivered"
            fe_conn = self._fe_conns.pop(extra.session_id, None)
            if fe_conn is not None:
                fe_conn.row(conv.t, "-", f"Messages: 1 Bytes: {mail.size}")
        send.outcome = "delivered"
        conn.row(conv.t, "-", f"Messages: 1 Bytes: {mail.size}")
        self.track.send(hub, conv.t, mail, record_id, send, queued, None, mx_host, mx_ip)
        return conv.t

    def _deferred(
        self, hub: str, conv: Conv, conn: ConnLog, send: Session, mail: Mail, record_id: str
    ) -> int:
        """The remote MX greylists the recipient; QUIT; tracking DEFER (source-context = sid)."""
        text = (
            f"451 4.7.1 <{mail.recipients[0]}>: Recipient address rejected: Greylisted, "
            "see https://postgrey.schweikert.ch/help/"
        )
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
        values_reply = text.replace(";", " ")
        self.track.event(
            hub,
            conv.t,
            mail,
            record_id,
            "DEFER",
            "SMTP",
            context=send.session_id,
            status=values_reply,
        )
        return conv.t

    def _outbound_proxy(
        self, hub: str, fe: str, t: int, domain: str, mx_host: str, mx_ip: str, description: str
    ) -> tuple[Conv, ConnLog, list[Session]]:
        """Hub send to FE :717, XPROXYTO, and the FE's own send session to the MX."""
        sim = self.sim
        ch = self.ch.open(
            hub,
            fe,
            t,
            process=HUB,
            send_stream="hub-send",
            connector="Outbound Proxy Internal Send Connector",
            recv_stream="fe-receive",
            recv_connector=f"{fe}\\Outbound Proxy Frontend {fe}",
            port=717,
            destination=domain,
            description=description,
        )
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
        fe_send = self._fe_outbound_session(
            fe, hub, conv.t, hub_send, fe_recv, domain, mx_host, mx_ip
        )
        conv.t = fe_send[1]
        lines = [
            f"250-XPROXYTOTARGETIPADDRESS {mx_ip}",
            f"250-XPROXYTOTARGETHOSTNAME {mx_host}",
            f"250 XPROXYTODESTINATIONS {domain}",
        ]
        for line in lines:
            conv.srv(">", line)
        conv.srv(
            "*", "", "Proxy session was successfully set up. Outbound session will now be proxied"
        )
        conv.t += conv.net
        for line in lines:
            conv.cli("<", line)
        # From here on the FE relays bytes blindly: only the Hub logs the dialogue.
        blind = Conv(sim, hub_send, None, conv.t, lan=False)
        return blind, ch.conn, [hub_send, fe_recv, fe_send[0]]

    def _fe_outbound_session(
        self,
        fe: str,
        hub: str,
        t: int,
        hub_send: Session,
        fe_recv: Session,
        domain: str,
        mx_host: str,
        mx_ip: str,
    ) -> tuple[Session, int]:
        sim = self.sim
        text = (
            f"Outbound proxy from {sim.fqdn[hub]} with session id {hub_send.session_id}. "
            f"Proxied session id {fe_recv.session_id}"
        )
        send = Session(
            sim, fe, "fe-send", "Outbound Proxy External Send Connector", "", f"{mx_ip}:25"
        )
        conn = ConnLog(sim, fe, "fe-connectivity", send.session_id, "SMTP", domain)
        conn.row(t, "+", text)
        conn.row(t + 1, ">", f"{mx_host}[{mx_ip}]")
        conn.row(t + 40, ">", f"Established connection to {mx_ip}")
        conv = Conv(sim, send, None, t, lan=False)
        connect(
            conv,
            f"220 {mx_host} ESMTP Postfix",
            None,
            f"{sim.ip[fe]}:{sim.next_port(fe)}",
            f"attempting to connect. {text}",
        )
        ehlo(conv, sim.fqdn[fe], mx_host, sim.ip[fe], KW_INTERNET)
        conv.cmd("STARTTLS", "220 2.0.0 Ready to start TLS")
        conv.cli("*", "", TLS_CLIENT)
        ehlo(conv, sim.fqdn[fe], mx_host, sim.ip[fe], KW_INTERNET)
        conv.cli(
            "*",
            "",
            "Proxy session successfully set up for outbound proxy. Inbound "
            "session will now be blindly proxied",
        )
        self._fe_conns[send.session_id] = conn  # its "-" row comes when the Hub quits
        return send, conv.t
