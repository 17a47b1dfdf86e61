"""Internet mail through an Edge Transport server (log-formats.md §3.5).

Internet -> Edge ``Default internal receive connector <E>`` :25 (the Edge queues the message
under its own RecordId) -> Edge send ``EdgeSync - Inbound to <site>`` (a cached connection)
-> FE ``Default Frontend <S>`` :25 -> the usual inbound proxy chain. The FE relays the Hub's
``250 2.6.0 ... [InternalId=R, Hostname=<hub>]`` reply, so the Edge send log and the Edge
SEND tracking event show the Hub's identity.
"""

from __future__ import annotations

from mailhops.sample.dialog import envelope, queued_reply, quit_, reply, transaction
from mailhops.sample.legs import Link
from mailhops.sample.scenarios import Scenarios
from mailhops.sample.truth import Mail

EDGESYNC = "EdgeSync - Inbound to Default-First-Site-Name"


class EdgeScenarios(Scenarios):
    """Adds the Edge inbound path; used instead of ``inbound`` when Edge servers exist."""

    def edge_burst(self, t: int) -> None:
        """Several Internet mails through one Edge and FE within seconds (cached sessions)."""
        rng = self.sim.rng
        edge = self.sim.edges[rng.randrange(len(self.sim.edges))]
        fe, db_index = self._pick(), rng.randrange(len(self.lab.dbs))
        for _ in range(rng.randint(3, 5)):
            self.edge_inbound(t, edge=edge, fe=fe, db_index=db_index)
            t += rng.randint(1500, 6000)

    def edge_inbound(
        self, t: int, edge: str | None = None, fe: str | None = None, db_index: int | None = None
    ) -> None:
        """One Internet mail: Edge receive, Edge send to an FE, FE proxy, Hub, mailbox."""
        sim, rng, lab = self.sim, self.sim.rng, self.lab
        edge = edge or sim.edges[rng.randrange(len(sim.edges))]
        db = lab.user()[1] if db_index is None else lab.dbs[db_index]
        rcpts = lab.users_of(db, 1 if rng.random() < 0.8 else 2)
        conv, session, client = self._internet_session(edge, t)
        mail = lab.mail(lab.external()[0], rcpts, "inbound", client[2].strip("[]"))
        self.mails.append(mail)
        edge_id = sim.next_record_id(edge)
        text = queued_reply(sim, mail, edge_id, edge)
        _, s_ord = transaction(conv, mail, text, bdat=False, msgid_row=True)
        mail.hop(session, s_ord)
        mail.internal_ids[edge] = edge_id
        self.paths.track.receive(
            edge, conv.t, mail, session, edge_id, client[0], original_ip=client[0]
        )
        quit_(conv)
        session.outcome = "delivered"
        hub = db.server if rng.random() < 0.7 else self._pick()
        t = self._edge_to_frontend(
            edge, fe or self._pick(), hub, conv.t + rng.randint(20, 300), mail
        )
        self._route(hub, t, mail, db.name)

    def _edge_to_frontend(self, edge: str, fe: str, hub: str, t: int, mail: Mail) -> int:
        """The Edge's cached EdgeSync connection to an FE; the FE proxies to the Hub."""
        sim = self.sim
        spec = Link(
            edge,
            fe,
            "edge-send",
            EDGESYNC,
            "fe-receive",
            f"{fe}\\Default Frontend {fe}",
            25,
            "contoso.lab",
            f"DnsConnectorDelivery {self.lab.connector_guid};QueueLength=TQ=1;AN=1;. ",
        )
        ch = self.channels.get(("edge", edge, fe), spec, t)
        conv = ch.conv
        edge_id = mail.internal_ids[edge]
        conv.cli(
            "*",
            "",
            f"sending message with RecordId {edge_id} and InternetMessageId {mail.message_id}",
        )
        c_ord, s_ord = envelope(conv, mail)
        mail.hop(ch.send, c_ord)
        mail.hop(ch.receive, s_ord)
        conv.cli(">", f"BDAT {mail.size} LAST")
        conv.t += conv.net
        conv.srv("<", f"BDAT {mail.size} LAST")
        conv.t += 2 + mail.size // 4000
        conv.srv("*", "", "Proxy destination(s) obtained from OnProxyInboundMessage event")
        port = int(ch.send.local.rsplit(":", 1)[1])
        text, conv.t = self.paths.fe_proxy(
            fe, hub, conv.t, ch.receive, (sim.ip[edge], port, sim.fqdn[edge]), mail
        )
        reply(conv, [text])
        ch.send.add_message_id(mail.message_id)
        ch.receive.add_message_id(mail.message_id)
        self.paths.track.send(edge, conv.t, mail, edge_id, ch.send, text, fe)
        self.channels.release(ch, mail.size)
        return conv.t
