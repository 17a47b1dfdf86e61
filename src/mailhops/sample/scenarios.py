"""Whole message paths and connection events: what happens when one event arrives.

2013+ paths start at a Front End (Internet mail, client submission on 587) or at Mailbox
Transport Submission; 2010 paths start at the Hub (no Front End role).
"""

from __future__ import annotations

from mailhops.sample.core import Session, Sim
from mailhops.sample.dialog import (
    KW_CLIENT,
    KW_FRONTEND,
    PERMS_ANON,
    PERMS_USER,
    Conv,
    banner,
    connect,
    ehlo,
    envelope,
    queued_reply,
    quit_,
    reply,
    starttls,
    transaction,
)
from mailhops.sample.lab import Lab, endpoint
from mailhops.sample.legs import Channel, Channels, Link
from mailhops.sample.paths import Paths
from mailhops.sample.truth import Mail

PRX = "451 4.7.0 Temporary server error. Please try again later. PRX2 "


class Scenarios:
    """One method per kind of event; each appends its messages to ``self.mails``."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.lab = Lab(sim)
        self.channels = Channels(sim, self.lab)
        self.paths = Paths(sim, self.lab, self.channels)
        self.mails: list[Mail] = []
        self.modern = sim.version != "2010"

    # --- helpers --------------------------------------------------------------------------

    def _pick(self) -> str:
        return self.sim.servers[self.sim.rng.randrange(len(self.sim.servers))]

    def _peer(self, server: str) -> str | None:
        others = [s for s in self.sim.servers if s != server]
        return others[self.sim.rng.randrange(len(others))] if others else None

    def _entry(self, server: str) -> tuple[str, str]:
        """(stream, connector) of the Internet-facing receive connector on port 25."""
        if server in self.sim.edges:
            return "edge-receive", f"{server}\\Default internal receive connector {server}"
        if self.modern:
            return "fe-receive", f"{server}\\Default Frontend {server}"
        return "hub-receive", f"{server}\\Default {server}"

    def _internet_session(
        self, server: str, t: int, tls: bool = True, port: int = 25
    ) -> tuple[Conv, Session, tuple[str, int, str]]:
        """An Internet client connects to ``server`` and says EHLO (and STARTTLS)."""
        sim = self.sim
        client = self.lab.internet_client()
        ip, cport, helo = client
        stream, connector = self._entry(server)
        session = Session(
            sim, server, stream, connector, f"{sim.ip[server]}:{port}", endpoint(ip, cport)
        )
        conv = Conv(sim, None, session, t, lan=False)
        connect(conv, banner(sim, server, t), PERMS_ANON, "", "")
        host = sim.fqdn[server]
        ehlo(conv, helo, host, ip, KW_FRONTEND)
        if tls and sim.rng.random() < 0.75:
            starttls(conv, sim, server, helo, host, ip, KW_FRONTEND, PERMS_ANON)
        return conv, session, client

    def _route(self, hub: str, t: int, mail: Mail, db_name: str | None) -> int:
        """After the Hub queued ``mail``: shadow copy, optional relay, then delivery."""
        rng = self.sim.rng
        t += rng.randint(20, 400)
        peer = self._peer(hub)
        if self.modern and peer is not None and rng.random() < 0.3:
            self.paths.relay(hub, peer, t, mail, shadow=True)
            t += rng.randint(5, 50)
        if db_name is None:
            proxied = self.modern and mail.outcome != "deferred" and rng.random() < 0.4
            fe = self._pick() if proxied else None
            return self.paths.internet(hub, t, mail, fe)
        db = next(d for d in self.lab.dbs if d.name == db_name)
        target = db.server if not self.modern else self._peer(hub)
        if target is not None and target != hub and rng.random() < (0.12 if self.modern else 1):
            t = self.paths.relay(hub, target, t, mail)
            hub = target
            t += rng.randint(20, 300)
        return self.paths.deliver(hub, db, t, mail)

    # --- message paths ----------------------------------------------------------------------

    def burst(self, t: int) -> None:
        """Several Internet mails for one database through the same FE within seconds (the
        cached FE inbound-proxy and Hub-to-Mailbox connections then carry several messages)."""
        rng = self.sim.rng
        db = self.lab.user()[1]
        server = self._pick()
        for _ in range(rng.randint(3, 5)):
            self.inbound(t, server=server, db_index=self.lab.dbs.index(db), hub=db.server)
            t += rng.randint(1500, 6000)

    def inbound(
        self, t: int, server: str | None = None, db_index: int | None = None, hub: str | None = None
    ) -> None:
        """Internet mail to local recipients through FE, Hub and Mailbox Delivery."""
        sim, rng, lab = self.sim, self.sim.rng, self.lab
        db = lab.user()[1] if db_index is None else lab.dbs[db_index]
        rcpts = lab.users_of(db, 1 if rng.random() < 0.8 else rng.randint(2, 3))
        sender = lab.external()[0]
        server = server or self._pick()
        conv, session, client = self._internet_session(server, t)
        mail = lab.mail(sender, rcpts, "inbound", client[2].strip("[]"))
        self.mails.append(mail)
        if not self.modern:
            record_id = sim.next_record_id(server)
            text = queued_reply(sim, mail, record_id, server)
            _, s_ord = transaction(conv, mail, text, bdat=False, msgid_row=True)
            mail.hop(session, s_ord)
            mail.internal_ids[server] = record_id
            self.paths.track.receive(
                server, conv.t, mail, session, record_id, client[0], original_ip=client[0]
            )
            quit_(conv)
            session.outcome = "delivered"
            self._route(server, conv.t, mail, db.name)
            return
        hub = hub or (db.server if rng.random() < 0.7 else self._pick())
        _, s_ord = envelope(conv, mail)
        mail.hop(session, s_ord)
        conv.cmd("DATA", "354 Start mail input; end with <CRLF>.<CRLF>")
        conv.t += 5 + mail.size // 400
        conv.srv("*", "", "Proxy destination(s) obtained from OnProxyInboundMessage event")
        text, conv.t = self.paths.fe_proxy(server, hub, conv.t, session, client, mail)
        reply(conv, [text])
        session.add_message_id(mail.message_id)  # the FE relays the Hub's 250 2.6.0 reply
        quit_(conv)
        session.outcome = "delivered"
        self._route(hub, conv.t, mail, db.name)

    def submission(self, t: int, external: bool, defer: bool = False) -> None:
        """A mailbox user sends: Mailbox Transport Submission -> Hub -> Internet or mailbox."""
        sim, rng, lab = self.sim, self.sim.rng, self.lab
        sender, db, mailbox = lab.user()
        if external:
            rcpts = [lab.external()[0]]
            target_db = None
        else:
            target = lab.user()[1]
            rcpts = lab.users_of(target, 1 if rng.random() < 0.7 else 2)
            target_db = target.name
        mbx = db.server
        mail = lab.mail(sender, rcpts, "outbound" if external else "internal", sim.fqdn[mbx])
        if defer:
            mail.outcome = "deferred"
        self.mails.append(mail)
        if self.modern:
            hub = mbx if rng.random() < 0.5 else self._pick()
            t = self.paths.submit(mbx, hub, t, mail, db, mailbox)
        else:
            hub = mbx
            self.paths.track.submit(mbx, t, mail, db, mailbox)
            mail.internal_ids[hub] = sim.next_record_id(hub)
        self._route(hub, t, mail, target_db)

    def client(self, t: int) -> None:
        """Client submission on 587 (FE ``Client Frontend`` -> Hub ``Client Proxy`` 465)."""
        rng, lab = self.sim.rng, self.lab
        sender = lab.user()[0]
        external = rng.random() < 0.5
        target = lab.user()[1]
        rcpts = [lab.external()[0]] if external else lab.users_of(target, 1)
        fe = self._pick()
        client = (
            f"10.0.5.{rng.randrange(10, 250)}",
            rng.randrange(49152, 65535),
            f"WS{rng.randrange(1000, 9999)}.{sender.split('@')[1]}",
        )
        conv = self._client_login(fe, t, client, sender)
        front = conv.server
        assert front is not None
        mail = lab.mail(sender, rcpts, "client", client[2])
        self.mails.append(mail)
        proxy: Channel | None = None
        hub, hub_session = fe, front
        if self.modern:
            hub = self._pick()
            proxy = self._client_proxy(fe, hub, conv.t, front, client, sender)
            conv.t = proxy.conv.t
            hub_session = proxy.receive
            mail.hop(front, -1)
            mail.hop(proxy.send, -1)
            conv.srv(
                "*",
                "",
                f"Proxy session was successfully set up. Session for{sender} will now be proxied",
            )
        conv.srv(">", "235 2.7.0 Authentication successful")
        t = self._client_message(hub, hub_session, conv.t + 30, mail, client, proxy is not None)
        if proxy is not None:
            front.row(t, "-", "", "Remote")
            proxy.send.row(t + 1, "-", "", "Local")
            proxy.conn.row(t + 1, "-", f"Messages: 1 Bytes: {mail.size}")
            front.outcome = proxy.send.outcome = "delivered"
        self._route(hub, t, mail, None if external else target.name)

    def _client_login(self, fe: str, t: int, client: tuple[str, int, str], user: str) -> Conv:
        """The mail client connects to 587, EHLO, STARTTLS, AUTH LOGIN."""
        sim = self.sim
        ip, port, helo = client
        stream = "fe-receive" if self.modern else "hub-receive"
        name = "Client Frontend" if self.modern else "Client"
        front = Session(sim, fe, stream, f"{fe}\\{name} {fe}", f"{sim.ip[fe]}:587", f"{ip}:{port}")
        conv = Conv(sim, None, front, t, lan=False)
        host = sim.fqdn[fe]
        connect(conv, banner(sim, fe, t), PERMS_ANON, "", "")
        ehlo(conv, helo, host, ip, KW_CLIENT)
        starttls(conv, sim, fe, helo, host, ip, KW_CLIENT, PERMS_ANON)
        conv.cmd("AUTH LOGIN", "334 <authentication response>")
        conv.cmd("<authentication response>", "334 <authentication response>")
        conv.srv("*", f"CONTOSO\\{user.split('@')[0]}", "authenticated")
        conv.srv("*", PERMS_USER, "Set Session Permissions")
        return conv

    def _client_message(
        self,
        hub: str,
        session: Session,
        t: int,
        mail: Mail,
        client: tuple[str, int, str],
        proxied: bool,
    ) -> int:
        """The client's own transaction, logged by the Hub (proxied) or the 2010 Hub."""
        sim = self.sim
        ip, _, helo = client
        blind = Conv(sim, None, session, t, lan=False)
        record_id = sim.next_record_id(hub)
        text = queued_reply(sim, mail, record_id, hub)
        _, s_ord = transaction(blind, mail, text, bdat=False, msgid_row=True)
        mail.hop(session, s_ord)
        mail.internal_ids[hub] = record_id
        custom = f"S:ProxiedClientIPAddress={ip};S:ProxiedClientHostname={helo}" if proxied else ""
        self.paths.track.receive(
            hub, blind.t, mail, session, record_id, ip, custom=custom, originating=True
        )
        quit_(blind)
        session.outcome = "delivered"
        return blind.t

    def _client_proxy(
        self, fe: str, hub: str, t: int, front: Session, client: tuple[str, int, str], user: str
    ) -> Channel:
        """FE ``Client Proxy Send Connector`` session to the Hub's ``Client Proxy`` 465."""
        text = f"Client proxy session for {user}. Proxied session id {front.session_id}"
        spec = Link(
            fe,
            hub,
            "fe-send",
            "Client Proxy Send Connector",
            "hub-receive",
            f"{hub}\\Client Proxy {hub}",
            465,
            "client proxy",
            text,
            attempt=f"attempting to connect. {text}",
        )
        ch = self.channels.open(spec, t)
        self.channels.secure(ch)
        ip, port, helo = client
        ch.conv.cmd(
            f"XPROXY SID={front.session_id} IP={ip} PORT={port} DOMAIN={helo} UNAME={user}",
            "250 XProxy accepted and authenticated",
        )
        ch.conv.cli(
            "*",
            "",
            f"Proxy session successfully set up for {user}. Inbound session "
            "will now be blindly proxied",
        )
        return ch
