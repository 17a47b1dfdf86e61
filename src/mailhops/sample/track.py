"""Message tracking rows (MSGTRK, MSGTRKMD, MSGTRKMS), log-formats.md §5."""

from __future__ import annotations

from mailhops.sample.core import Session, Sim
from mailhops.sample.fmt import tq
from mailhops.sample.lab import Database, Lab, guid
from mailhops.sample.truth import Mail

_SCHEMA = {"2019": "15.02.1118.007", "2016": "15.01.2375.007"}


class Tracker:
    """Writes tracking events; every event carries the message's common fields."""

    def __init__(self, sim: Sim, lab: Lab) -> None:
        self.sim = sim
        self.lab = lab
        self._network_ids: dict[str, str] = {}

    def _common(self, mail: Mail, record_id: str, event: str, source: str) -> dict[str, str]:
        net = self._network_ids.get(mail.message_id)
        if net is None:
            net = self._network_ids[mail.message_id] = guid(self.sim)
        return {
            "event-id": event,
            "source": source,
            "internal-message-id": record_id,
            "message-id": mail.message_id,
            "network-message-id": net,
            "recipient-address": ";".join(tq(r) for r in mail.recipients),
            "total-bytes": str(mail.size),
            "recipient-count": str(len(mail.recipients)),
            "message-subject": mail.subject,
            "sender-address": mail.sender,
            "return-path": mail.sender,
            "transport-traffic-type": "Email",
            "log-id": guid(self.sim) if self.sim.version in _SCHEMA else "",
            "schema-version": _SCHEMA.get(self.sim.version, ""),
        }

    def receive(
        self,
        hub: str,
        t: int,
        mail: Mail,
        session: Session,
        record_id: str,
        client: str,
        *,
        original_ip: str = "",
        custom: str = "",
        originating: bool = False,
    ) -> None:
        """RECEIVE (source SMTP): source-context ``sid;start;n-1`` (L7)."""
        sim = self.sim
        values = self._common(mail, record_id, "RECEIVE", "SMTP")
        client_ip = sim.ip.get(client, client)
        values.update(
            {
                "client-ip": client_ip,
                "client-hostname": sim.fqdn.get(client, client),
                "server-ip": sim.ip[hub],
                "server-hostname": hub,
                "source-context": f"{session.session_id};{sim.clock.ts(session.start)};"
                f"{session.mails - 1}",
                "connector-id": session.connector,
                "message-info": "04I:",
                "directionality": "Originating" if originating else "Incoming",
                "original-client-ip": original_ip,
                "custom-data": custom + (";" if custom else "") + "S:DeliveryPriority=Normal",
            }
        )
        sim.track(hub, "hub-tracking", t, values)

    def send(
        self,
        hub: str,
        t: int,
        mail: Mail,
        record_id: str,
        session: Session,
        reply: str,
        target: str | None,
        host: str = "",
        ip: str = "",
    ) -> None:
        """SEND (source SMTP): source-context ``sid;reply;ClientSubmitTime:``."""
        sim = self.sim
        values = self._common(mail, record_id, "SEND", "SMTP")
        values.update(
            {
                "client-ip": sim.ip[hub],
                "client-hostname": hub,
                "server-ip": sim.ip[target] if target else ip,
                "server-hostname": sim.fqdn[target] if target else host,
                "source-context": f"{session.session_id};{reply.replace(';', ' ')[:512]};"
                "ClientSubmitTime:",
                "connector-id": session.connector,
                "directionality": "Originating" if mail.flow != "inbound" else "Incoming",
            }
        )
        sim.track(hub, "hub-tracking", t, values)

    def deliver(
        self,
        mbx: str,
        stream: str,
        t: int,
        mail: Mail,
        record_id: str,
        hub: str,
        db: Database,
        context: str,
    ) -> None:
        """DELIVER (source STOREDRIVER) with the Hub's RecordId as internal-message-id (L13)."""
        sim = self.sim
        values = self._common(mail, record_id, "DELIVER", "STOREDRIVER")
        values.update(
            {
                "client-hostname": sim.fqdn[hub],
                "server-ip": sim.ip[mbx],
                "server-hostname": mbx,
                "source-context": context,
                "recipient-status": ";".join("Inbox" for _ in mail.recipients),
                "directionality": "Incoming",
                "custom-data": f"S:MailboxDatabaseName={db.name};S:ToEntity=Hosted;"
                "S:DatabaseHealth=-1",
            }
        )
        sim.track(mbx, stream, t, values)

    def submit(self, mbx: str, t: int, mail: Mail, db: Database, mailbox: str) -> None:
        """SUBMIT (MSGTRKMS, or MSGTRK with source STOREDRIVER on 2010)."""
        sim = self.sim
        stream = "hub-tracking" if sim.version == "2010" else "mbx-submission-tracking"
        values = self._common(mail, "0", "SUBMIT", "STOREDRIVER")
        values.update(
            {
                "server-ip": sim.ip[mbx],
                "server-hostname": mbx,
                "source-context": f"MDB:{db.guid}, Mailbox:{mailbox}, "
                f"Event:{sim.rng.randrange(10**6, 10**8)}, MessageClass:IPM.Note, "
                f"CreationTime:{sim.clock.ts(t - 900)}, ClientType:OWA",
                "directionality": "Originating",
                "custom-data": f"S:MailboxDatabaseGuid={db.guid}",
            }
        )
        sim.track(mbx, stream, t, values)

    def event(
        self,
        server: str,
        t: int,
        mail: Mail,
        record_id: str,
        event: str,
        source: str,
        *,
        context: str = "",
        status: str = "",
    ) -> None:
        """A bare event (HAREDIRECT, HARECEIVE, DEFER, ...) on a Hub."""
        values = self._common(mail, record_id, event, source)
        values.update({"server-ip": self.sim.ip[server], "server-hostname": server})
        if context:
            values["source-context"] = context
        if status:
            values["recipient-status"] = ";".join(tq(status) for _ in mail.recipients)
        self.sim.track(server, "hub-tracking", t, values)
