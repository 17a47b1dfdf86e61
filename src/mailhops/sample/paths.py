"""The hops of a message path: FE inbound proxy, Hub relay, shadow copy, mailbox delivery,
submission and sending to the Internet (directly or through the FE outbound proxy).

Each function logs both ends of its hop, the connectivity and message tracking evidence, and
appends the protocol sessions to the message's truth hops. Times are true ms.
"""

from __future__ import annotations

from mailhops.sample.core import ConnLog, Session
from mailhops.sample.dialog import (
    PERMS_ANON,
    queued_reply,
    transaction,
)
from mailhops.sample.internet import InternetPaths
from mailhops.sample.lab import Database
from mailhops.sample.legs import NO_COUNTS, UNDEFINED, Channel, Link
from mailhops.sample.model import MAILBOX_DELIVERY
from mailhops.sample.truth import Mail


class Paths(InternetPaths):
    """Hop builders sharing the simulation, the lab, the channel pools and the tracker."""

    # --- FE inbound proxy (§3.1 L1, L2, L4) ----------------------------------------------

    def fe_proxy(
        self, fe: str, hub: str, t: int, inbound: Session, client: tuple[str, int, str], mail: Mail
    ) -> tuple[str, int]:
        """Proxy ``mail`` from FE receive session ``inbound`` to the Hub; returns (reply, t)."""
        sim = self.sim
        msg = f"Starting outbound connection for inbound session {inbound.session_id}"
        spec = Link(
            fe,
            hub,
            "fe-send",
            "Inbound Proxy Internal Send Connector",
            "hub-receive",
            f"{hub}\\Default {hub}",
            2525,
            "internalproxy",
            f"{UNDEFINED};QueueLength={NO_COUNTS}. {msg}",
        )
        proxying = f"Proxying inbound session with session id {inbound.session_id}"

        def reuse(ch: Channel) -> None:
            """A cached connection: new proxying row, then RSET (§3.1)."""
            ch.conv.cli("*", "", proxying)
            ch.conv.cmd("RSET", "250 2.0.0 Resetting")

        ch = self.ch.get(
            ("feproxy", fe, hub),
            spec,
            t,
            on_open=lambda c: c.conv.cli("*", "", proxying),
            on_reuse=reuse,
        )
        ch.conv.cmd(
            xproxyfrom(inbound.session_id, client),
            "250 XProxyFrom accepted",
            before=(("*", PERMS_ANON, "Set Session Permissions"),),
        )
        record_id = sim.next_record_id(hub)
        reply = queued_reply(sim, mail, record_id, hub)
        self._carry(ch, mail, reply)
        mail.internal_ids[hub] = record_id
        custom = f"S:ProxyHop1={sim.fqdn[fe]}({sim.ip[fe]});S:FirstForestHop={sim.fqdn[fe]}"
        self.track.receive(
            hub, ch.conv.t, mail, ch.receive, record_id, fe, original_ip=client[0], custom=custom
        )
        self.ch.release(ch, mail.size)
        return reply, ch.conv.t

    def _carry(
        self, ch: Channel, mail: Mail, reply: str, record_id: str | None = None, side: bool = False
    ) -> None:
        """One message over a channel; both sessions become hops (or side hops)."""
        c_ord, s_ord = transaction(
            ch.conv, mail, reply, record_id=record_id, msgid_row=ch.receive.stream == "hub-receive"
        )
        target = mail.side if side else mail.hops
        target.append((ch.send, c_ord))
        target.append((ch.receive, s_ord))

    # --- Hub to Hub and shadow redundancy (§3.5, §3.6) --------------------------------------

    def relay(self, hub: str, peer: str, t: int, mail: Mail, shadow: bool = False) -> int:
        """Send ``mail`` from ``hub`` to ``peer``'s Transport (relay hop or shadow copy)."""
        sim = self.sim
        destination = "shadowredundancy" if shadow else f"dag-{peer.lower()}"
        nexthop = "ShadowRedundancy" if shadow else "SmtpRelayWithinAdSite"
        spec = Link(
            hub,
            peer,
            "hub-send",
            "Intra-Organization SMTP Send Connector",
            "hub-receive",
            f"{peer}\\Default {peer}",
            2525 if sim.version != "2010" else 25,
            destination,
            f"{nexthop} {self.lab.connector_guid};QueueLength=TQ=1;AN=1;. ",
        )
        ch = self.ch.get(("shadow" if shadow else "relay", hub, peer), spec, t)
        record_id = mail.internal_ids[hub]
        peer_id = sim.next_record_id(peer)
        reply = queued_reply(sim, mail, peer_id, peer, redundancy=shadow)
        self._carry(ch, mail, reply, record_id, side=shadow)
        t = ch.conv.t
        if shadow:
            self.track.event(hub, t, mail, record_id, "HAREDIRECT", "REDUNDANCY")
            self.track.event(peer, t, mail, peer_id, "HARECEIVE", "REDUNDANCY")
        else:
            mail.internal_ids[peer] = peer_id
            self.track.send(hub, t, mail, record_id, ch.send, reply, peer)
            self.track.receive(peer, t, mail, ch.receive, peer_id, hub)
        self.ch.release(ch, mail.size)
        return t

    # --- Hub to Mailbox Transport Delivery (§3.1 L8-L13) -------------------------------------

    def deliver(self, hub: str, db: Database, t: int, mail: Mail) -> int:
        """Deliver ``mail`` from ``hub`` to the mailbox database ``db``."""
        sim = self.sim
        record_id = mail.internal_ids[hub]
        if sim.version == "2010":  # store driver on the Hub itself, no SMTP hop
            self.track.deliver(hub, "hub-tracking", t + 40, mail, record_id, hub, db, "")
            return t + 40
        mbx = db.server
        spec = Link(
            hub,
            mbx,
            "hub-send",
            "Intra-Organization SMTP Send Connector",
            "mbx-delivery-receive",
            f"{mbx}\\Default Mailbox Delivery {mbx}",
            475,
            db.name.lower(),
            f"SmtpDeliveryToMailbox {db.guid};QueueLength=TQ=1;AN=1;. ",
        )
        ch = self.ch.get(("deliver", hub, db.name), spec, t)
        if ch.messages == 0:  # XSESSIONPARAMS once per connection, right after X-EXPS (L9)
            ch.conv.cmd(f"XSESSIONPARAMS MDBGUID={db.guid_n}", "250 2.0.0 XSESSIONPARAMS OK")
        self._carry(ch, mail, "250 2.0.0 OK", record_id)
        self._mapi_delivery(mbx, db, ch.conv.t - 5, mail, record_id, hub)
        self.track.send(hub, ch.conv.t, mail, record_id, ch.send, "250 2.0.0 OK", mbx)
        self.ch.release(ch, mail.size)
        return ch.conv.t

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
        spec = Link(
            mbx,
            hub,
            "mbx-submission-send",
            "Mailbox Proxy Send Connector",
            "hub-receive",
            f"{hub}\\Default {hub}",
            2525,
            "mailboxtransportsubmissioninternalproxy",
            f"{UNDEFINED};QueueLength={NO_COUNTS}. ",
        )
        ch = self.ch.open(spec, t + 20)
        self.ch.secure(ch)
        record_id = sim.next_record_id(hub)
        self._carry(ch, mail, queued_reply(sim, mail, record_id, hub), "0")
        mail.internal_ids[hub] = record_id
        self.track.receive(hub, ch.conv.t, mail, ch.receive, record_id, mbx, originating=True)
        ch.messages, ch.bytes = 1, mail.size
        self.ch.close(ch, ch.conv.t + 2)
        return ch.conv.t


def xproxyfrom(sid: str, client: tuple[str, int, str]) -> str:
    """``XPROXYFROM SID= IP= PORT= [DOMAIN=] SEQNUM=1 PERMS= AUTHSRC=`` (L2)."""
    ip, port, helo = client
    domain = "" if helo.startswith("[") else f" DOMAIN={helo}"
    return f"XPROXYFROM SID={sid} IP={ip} PORT={port}{domain} SEQNUM=1 PERMS=1073 AUTHSRC=Anonymous"
