"""Failures, noise and the event schedule that drives a generation run."""

from __future__ import annotations

from collections.abc import Callable

from mailhops.sample.core import ConnLog, Session
from mailhops.sample.dialog import (
    KW_FRONTEND,
    PERMS_ANON,
    Conv,
    banner,
    connect,
    ehlo,
    envelope,
    quit_,
    reply,
)
from mailhops.sample.edge import EdgeScenarios
from mailhops.sample.lab import LB_IPS, endpoint
from mailhops.sample.legs import NO_COUNTS, UNDEFINED, Channel
from mailhops.sample.model import HUB
from mailhops.sample.scenarios import PRX

# Share of each event kind after the opening round (which has one of each).
_WEIGHTS_MODERN: tuple[tuple[str, float], ...] = (
    ("inbound", 0.52),
    ("burst", 0.04),
    ("outbound", 0.11),
    ("internal", 0.08),
    ("client", 0.06),
    ("defer", 0.01),
    ("reject", 0.03),
    ("tls", 0.02),
    ("timeout", 0.02),
    ("prx", 0.02),
    ("probe", 0.06),
    ("lb", 0.03),
)
_WEIGHTS_2010: tuple[tuple[str, float], ...] = (
    ("inbound", 0.58),
    ("burst", 0.04),
    ("outbound", 0.13),
    ("defer", 0.01),
    ("internal", 0.06),
    ("client", 0.06),
    ("reject", 0.03),
    ("tls", 0.02),
    ("timeout", 0.02),
    ("lb", 0.05),
)
_OPENING_MODERN = (
    "inbound",
    "burst",
    "outbound",
    "internal",
    "client",
    "reject",
    "tls",
    "timeout",
    "prx",
    "probe",
    "lb",
    "defer",
    "inbound",
    "outbound",
    "client",
    "inbound",
)


class Events(EdgeScenarios):
    """Adds failures and noise to the message paths, and runs the schedule."""

    # --- failures -----------------------------------------------------------------------

    def _failed_mail(self, t: int, outcome: str) -> tuple[Conv, Session]:
        """An Internet client that gets as far as RCPT TO; the truth records a failed message."""
        lab = self.lab
        _, db, _ = lab.user()
        conv, session, client = self._internet_session(self._pick(), t)
        mail = lab.mail(lab.external()[0], lab.users_of(db, 1), "inbound", client[2].strip("[]"))
        mail.outcome, mail.id_logged = outcome, False
        self.mails.append(mail)
        return conv, session

    def reject(self, t: int) -> None:
        """RCPT TO an unknown recipient: 550 5.1.1, then QUIT."""
        conv, session = self._failed_mail(t, "rejected")
        mail = self.mails[-1]
        mail.recipients = [f"no.such.user{self.sim.rng.randrange(100)}@contoso.lab"]
        mail.hop(session, session.mails)
        session.mails += 1
        temp = f"{session.session_id};{self.sim.clock.ts(session.start)};{session.mails}"
        conv.cmd(
            f"MAIL FROM:<{mail.sender}> SIZE={mail.size}",
            "250 2.1.0 Sender OK",
            (("*", temp, "receiving message"),),
        )
        conv.cmd(f"RCPT TO:<{mail.recipients[0]}>", "550 5.1.1 User unknown")
        quit_(conv)
        session.outcome = "rejected"

    def tls(self, t: int) -> None:
        """STARTTLS fails; the client drops the connection."""
        sim = self.sim
        client = self.lab.internet_client()
        server = self._pick()
        stream, connector = self._entry(server)
        session = Session(
            sim, server, stream, connector, f"{sim.ip[server]}:25", endpoint(client[0], client[1])
        )
        conv = Conv(sim, None, session, t, lan=False)
        connect(conv, banner(sim, server, t), PERMS_ANON, "", "")
        ehlo(conv, client[2], sim.fqdn[server], client[0], KW_FRONTEND)
        conv.cmd("STARTTLS", "220 2.0.0 SMTP server ready")
        conv.srv("*", "", "TLS negotiation failed with error UnknownCredentials")
        conv.srv("-", "", "Remote")
        session.outcome = "tls_failed"

    def timeout(self, t: int) -> None:
        """The client stops talking after RCPT TO; the server times the session out."""
        conv, session = self._failed_mail(t, "timeout")
        mail = self.mails[-1]
        _, s_ord = envelope(conv, mail)
        mail.hop(session, s_ord)
        conv.t += 600_000
        conv.srv(">", "451 4.7.0 Timeout waiting for client input")
        conv.srv("-", "", "Timeout")
        session.outcome = "timeout"

    def prx(self, t: int) -> None:
        """FE inbound proxy cannot reach the Hub: PRX2 to the client (L6b)."""
        conv, session = self._failed_mail(t, "proxy_error")
        mail = self.mails[-1]
        _, s_ord = envelope(conv, mail)
        mail.hop(session, s_ord)
        conv.cmd("DATA", "354 Start mail input; end with <CRLF>.<CRLF>")
        conv.t += 5 + mail.size // 400
        conv.srv("*", "", "Proxy destination(s) obtained from OnProxyInboundMessage event")
        send = self._failed_proxy_connection(session, conv.t)
        conv.t += 21_000
        mail.hop(send, -1)
        acked = f"Message or connection acked with status Retry and response {PRX}"
        reply(conv, [PRX], (("*", "", acked),))
        quit_(conv)
        session.outcome = "proxy_error"

    def _failed_proxy_connection(self, inbound: Session, t: int) -> Session:
        """The FE's inbound-proxy send session that never connects (Winsock 10060)."""
        sim = self.sim
        fe = inbound.server
        hub = self._peer(fe) or fe
        ip = sim.ip[hub]
        send = Session(
            sim, fe, "fe-send", "Inbound Proxy Internal Send Connector", "", f"{ip}:2525"
        )
        conn = ConnLog(sim, fe, "fe-connectivity", send.session_id, "SMTP", "internalproxy")
        conn.row(
            t,
            "+",
            f"{UNDEFINED};QueueLength={NO_COUNTS}. Starting outbound connection "
            f"for inbound session {inbound.session_id}",
        )
        send.row(t, "*", "", "attempting to connect")
        conn.row(t + 1, ">", f"{sim.fqdn[hub]}[{ip}]")
        t += 21_000
        conn.row(t, ">", f"Failed connection to {ip}:2525 (TimedOut:8007274C)")
        send.row(
            t,
            "-",
            "",
            "Failed to connect. Winsock error code: 10060, Win32 error code: "
            "10060, Destination domain: internalproxy, Error Message: A connection attempt "
            "failed because the connected party did not properly respond after a period of "
            "time.",
        )
        conn.row(t + 1, "-", "Messages: 0 Bytes: 0")
        send.outcome = "timeout"
        return send

    # --- noise ------------------------------------------------------------------------------

    def probe(self, t: int) -> None:
        """Managed-availability probe: EHLO from the server's own IP, then QUIT."""
        sim = self.sim
        server = self._pick()
        stream, connector = self._entry(server)
        session = Session(
            sim,
            server,
            stream,
            connector,
            f"{sim.ip[server]}:25",
            f"{sim.ip[server]}:{sim.next_port(server)}",
        )
        conv = Conv(sim, None, session, t)
        connect(conv, banner(sim, server, t), PERMS_ANON, "", "")
        ehlo(conv, sim.fqdn[server], sim.fqdn[server], sim.ip[server], KW_FRONTEND)
        quit_(conv)
        session.outcome, session.noise = "no_mail", True

    def lb(self, t: int) -> None:
        """Load-balancer health check: connect and disconnect, nothing else."""
        sim = self.sim
        server = self._pick()
        stream, connector = self._entry(server)
        lb_ip = LB_IPS[sim.rng.randrange(len(LB_IPS))]
        session = Session(
            sim,
            server,
            stream,
            connector,
            f"{sim.ip[server]}:25",
            f"{lb_ip}:{sim.rng.randrange(1024, 65535)}",
        )
        session.row(t, "+")
        session.row(t + sim.rng.randint(0, 3), "-", "", "Remote")
        session.outcome, session.noise = "no_mail", True

    # --- service restart -------------------------------------------------------------------

    def restart(self, server: str, t: int) -> None:
        """Restart ``server``'s Transport service: its connections close, connectivity logs
        ``service stopped``/``service started`` and new session ids continue from the ticks of
        the new process start (log-formats.md §1.7, §4)."""
        sim = self.sim

        def involved(ch: Channel) -> bool:
            return server in (ch.send.server, ch.receive.server)

        busy = [ch.busy for pool in self.channels.pools.values() for ch in pool if involved(ch)]
        stop = max([t, *busy]) + 200
        self.channels.drop(involved, stop - 100)
        conn = ConnLog(sim, server, "hub-connectivity", "", "Transport", "")
        conn.row(stop, "*", "service stopped")
        started = stop + sim.rng.randint(1_500, 4_000)
        sim.restart_process(server, HUB, started)
        conn.row(
            started,
            "*",
            "service started; MaxConcurrentSubmissions=20; "
            "MaxConcurrentDeliveries=20; MaxSmtpOutConnections=Unlimited",
        )

    # --- schedule ---------------------------------------------------------------------------

    def handlers(self) -> dict[str, Callable[[int], None]]:
        """Event kind -> method."""
        return {
            "inbound": self.edge_inbound if self.sim.edges else self.inbound,
            "burst": self.edge_burst if self.sim.edges else self.burst,
            "outbound": lambda t: self.submission(t, external=True),
            "internal": lambda t: self.submission(t, external=False),
            "defer": lambda t: self.submission(t, external=True, defer=True),
            "client": self.client,
            "reject": self.reject,
            "tls": self.tls,
            "timeout": self.timeout,
            "prx": self.prx,
            "probe": self.probe,
            "lb": self.lb,
        }

    def kinds(self) -> tuple[tuple[str, ...], tuple[tuple[str, float], ...]]:
        """(opening round, weights) for this Exchange version."""
        if self.modern:
            return _OPENING_MODERN, _WEIGHTS_MODERN
        opening = tuple(k for k in _OPENING_MODERN if k not in ("prx", "probe"))
        return opening, _WEIGHTS_2010

    def choose(self, index: int) -> str:
        """The kind of the index-th event (opening round first, then weighted)."""
        opening, weights = self.kinds()
        if index < len(opening):
            return opening[index]
        x = self.sim.rng.random()
        for kind, weight in weights:
            x -= weight
            if x < 0:
                return kind
        return weights[0][0]
