"""Server-to-server legs of a message path, with cached (reused) send connections.

A :class:`Channel` is one connected send session and the receive session at the other end;
it carries up to 20 messages (Exchange's MaxMessagesPerConnection) and is closed with QUIT
after an idle time. Reuse follows log-formats.md §3.1 and §3.7: the FE inbound proxy logs a new
``Proxying inbound session with session id`` row, RSET and a new XPROXYFROM; the Hub sends
another MAIL FROM; connectivity logs ``CachedSession Replacing`` / ``Using Cached Session``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailhops.sample.core import ConnLog, Session, Sim
from mailhops.sample.dialog import (
    KW_TRANSPORT,
    PERMS_ANON,
    Conv,
    banner,
    connect,
    ehlo,
    exps,
    quit_,
    starttls,
)
from mailhops.sample.lab import Lab
from mailhops.sample.model import EDGE, FRONTEND, STREAMS

MAX_MESSAGES = 20
NO_COUNTS = "<no priority counts>"
UNDEFINED = "Undefined 00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Link:
    """What a new connection between two lab servers looks like in the logs."""

    src: str
    dst: str
    send_stream: str
    connector: str
    recv_stream: str
    recv_connector: str
    port: int
    destination: str  # connectivity Destination (lower case)
    description: str  # connectivity "+" text
    attempt: str = "attempting to connect"

    @property
    def conn_stream(self) -> str:
        """The connectivity stream of the sending process."""
        return {
            "fe-send": "fe-connectivity",
            "hub-send": "hub-connectivity",
            "mbx-submission-send": "mbx-submission-connectivity",
            "edge-send": "edge-connectivity",
        }[self.send_stream]


@dataclass
class Channel:
    """A cached SMTP connection between two lab servers."""

    conv: Conv
    conn: ConnLog
    server: str  # the sending server (for new cache-hit session ids)
    process: str
    busy: int  # ms when the connection is free again
    idle: int  # ms it stays cached after its last use
    messages: int = 0
    bytes: int = 0
    closed: bool = False

    @property
    def send(self) -> Session:
        """The send-log session."""
        assert self.conv.client is not None
        return self.conv.client

    @property
    def receive(self) -> Session:
        """The receive-log session at the other end."""
        assert self.conv.server is not None
        return self.conv.server


class Channels:
    """Pools of cached connections keyed by (kind, from, to, ...)."""

    def __init__(self, sim: Sim, lab: Lab) -> None:
        self.sim = sim
        self.lab = lab
        self.pools: dict[tuple[str, ...], list[Channel]] = {}

    def acquire(self, key: tuple[str, ...], t: int) -> Channel | None:
        """A free cached channel for ``key`` at time ``t``, or None."""
        for ch in self.pools.get(key, ()):
            if not ch.closed and ch.busy <= t:
                ch.conv.t = max(ch.conv.t, t)
                return ch
        return None

    def add(self, key: tuple[str, ...], ch: Channel) -> None:
        """Put a newly opened channel in the pool."""
        self.pools.setdefault(key, []).append(ch)

    def release(self, ch: Channel, size: int) -> None:
        """End one message on the channel; close it when it reached its message limit."""
        ch.messages += 1
        ch.bytes += size
        ch.busy = ch.conv.t
        if ch.messages >= MAX_MESSAGES:
            self.close(ch, ch.conv.t + self.sim.rng.randint(1, 50))

    def cache_hit(self, ch: Channel, destination: str, message: str, t: int) -> None:
        """Connectivity rows of a cache hit: a fresh id is replaced by the cached session."""
        fresh = self.sim.next_sid(ch.server, ch.process)
        stream = {FRONTEND: "fe-connectivity", EDGE: "edge-connectivity"}.get(
            ch.process, "hub-connectivity"
        )
        old = ConnLog(self.sim, ch.server, stream, fresh, "SMTP", destination)
        head = message.split(";", 1)
        ch.conn.row(t, "+", f"{head[0]} CachedSession Replacing {fresh};{head[1]}")
        old.row(t, "-", f"Using Cached Session {ch.send.session_id}")

    def close(self, ch: Channel, t: int) -> None:
        """QUIT a cached connection at time ``t``."""
        if ch.closed:
            return
        ch.closed = True
        ch.conv.t = max(ch.conv.t, t)
        quit_(ch.conv)
        ch.conn.row(ch.conv.t, "-", f"Messages: {ch.messages} Bytes: {ch.bytes}")
        ch.send.outcome = "delivered" if ch.messages else "no_mail"
        ch.receive.outcome = ch.send.outcome

    def expire(self, t: int) -> None:
        """Close every channel idle past its timeout before ``t``; drop closed ones."""
        for key, pool in self.pools.items():
            for ch in pool:
                if not ch.closed and ch.busy + ch.idle <= t:
                    self.close(ch, ch.busy + ch.idle)
            self.pools[key] = [ch for ch in pool if not ch.closed]

    def drop(self, which: Callable[[Channel], bool], t: int) -> None:
        """Close (QUIT) every open channel ``which`` selects, once it is free after ``t``."""
        for pool in self.pools.values():
            for ch in pool:
                if not ch.closed and which(ch):
                    self.close(ch, max(t, ch.busy))
        self.expire(t)

    def low_water(self, t: int) -> int:
        """Earliest time a future row can have: min(t, last use of any open channel)."""
        low = t
        for pool in self.pools.values():
            for ch in pool:
                low = min(low, ch.busy)
        return low

    def close_all(self) -> None:
        """Close every open channel after its idle time (end of the simulation)."""
        for pool in self.pools.values():
            for ch in pool:
                self.close(ch, ch.busy + ch.idle)
        self.pools.clear()

    def open(self, spec: Link, t: int) -> Channel:
        """Connect ``spec.src`` to ``spec.dst``:port (banner only; see :meth:`secure`)."""
        sim = self.sim
        src, dst = spec.src, spec.dst
        ip_s, ip_d = sim.ip[src], sim.ip[dst]
        send = Session(sim, src, spec.send_stream, spec.connector, "", f"{ip_d}:{spec.port}")
        conn = ConnLog(sim, src, spec.conn_stream, send.session_id, "SMTP", spec.destination)
        conn.row(t, "+", spec.description)
        conn.row(t + 1, ">", f"{sim.fqdn[dst]}[{ip_d}]")
        local = f"{ip_s}:{sim.next_port(src)}"
        receive = Session(
            sim, dst, spec.recv_stream, spec.recv_connector, f"{ip_d}:{spec.port}", local
        )
        conv = Conv(sim, send, receive, t)
        conn.row(t + 2, ">", f"Established connection to {ip_d}")
        connect(conv, banner(sim, dst, t + 2), PERMS_ANON, local, spec.attempt)
        process = STREAMS[spec.send_stream].process
        return Channel(conv, conn, src, process, t, self.sim.rng.randint(60_000, 600_000))

    def get(
        self,
        key: tuple[str, ...],
        spec: Link,
        t: int,
        on_open: Callable[[Channel], None] | None = None,
        on_reuse: Callable[[Channel], None] | None = None,
    ) -> Channel:
        """A cached channel for ``key`` (cache-hit rows, ``on_reuse``) or a new secured one
        (``on_open`` runs before EHLO/TLS/auth)."""
        ch = self.acquire(key, t)
        if ch is None:
            ch = self.open(spec, t)
            if on_open is not None:
                on_open(ch)
            self.secure(ch)
            self.add(key, ch)
        else:
            self.cache_hit(ch, spec.destination, spec.description, ch.conv.t)
            if on_reuse is not None:
                on_reuse(ch)
        return ch

    def secure(self, ch: Channel) -> None:
        """EHLO, STARTTLS, EHLO and X-EXPS on a freshly opened channel."""
        sim, conv = self.sim, ch.conv
        src, dst = ch.send.server, ch.receive.server
        if sim.version == "2010":  # no Front End role yet: no proxy or session-params verbs
            keywords = tuple(k for k in KW_TRANSPORT if not k.startswith(("XPROXY", "XSESS")))
            ehlo(conv, sim.fqdn[src], sim.fqdn[dst], sim.ip[src], keywords)
        else:
            ehlo(conv, sim.fqdn[src], sim.fqdn[dst], sim.ip[src], KW_TRANSPORT)
            starttls(
                conv, sim, dst, sim.fqdn[src], sim.fqdn[dst], sim.ip[src], KW_TRANSPORT, PERMS_ANON
            )
            exps(conv, src)
