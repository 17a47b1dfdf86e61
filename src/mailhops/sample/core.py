"""The simulation context: row buffers, session-id counters, ports and logged sessions.

Every row is produced as a finished log line with its (skewed) timestamp; the writer sorts
each stream's rows by time and cuts them into files. Sessions of disabled streams still
consume ids and sequence numbers but write nothing.
"""

from __future__ import annotations

import random
from typing import Final

from mailhops.sample.fmt import Clock, dotnet_ticks, q, to_ms
from mailhops.sample.model import (
    DOMAIN,
    EDGE,
    PROCESSES,
    SMTP_RECEIVE,
    STREAMS,
    SampleOptions,
    fqdn,
    server_ip,
    tracking_fields,
)

Row = tuple[int, int, str]  # (skewed ms, emission order, line)

# Process start: days before the corpus start, so ids decode to a plausible start time.
_MAX_UPTIME_MS: Final = 20 * 86_400_000


class Sim:
    """Shared state of one generation run (deterministic given the seed)."""

    def __init__(self, options: SampleOptions, seed: int) -> None:
        self.options = options
        self.version = options.version
        self.rng = random.Random(seed)
        self.clock = Clock()
        self.start_ms = to_ms(options.start)
        self.buffers: dict[tuple[str, str], list[Row]] = {}
        self.order = 0
        self.bytes = 0
        self.sessions: list[Session] = []
        self.servers = options.servers
        self.ip = {s: server_ip(i) for i, s in enumerate(options.servers)}
        self.fqdn = {s: fqdn(s) for s in options.servers}
        self.skew = {s: round(options.clock_skew_s.get(s, 0.0) * 1000) for s in options.servers}
        self._counters: dict[tuple[str, str], int] = {}
        for server in options.servers:
            for process in PROCESSES:
                started = self.start_ms - self.rng.randrange(3_600_000, _MAX_UPTIME_MS)
                self._counters[server, process] = dotnet_ticks(started)
        self._ports = {s: self.rng.randrange(options.ephemeral_ports) for s in options.servers}
        self.edges = options.edge
        self.tracking_fields = tracking_fields(self.version)[1:]
        self.record_ids = {s: 42_842_298_000_000 + self.rng.randrange(10**9) for s in self.servers}
        self._add_edges()

    def _add_edges(self) -> None:
        """Edge Transport servers (perimeter network 172.16.0.x, one ``Edge`` process each).

        Nothing (not even the rng) is touched when there are none, so corpora without Edge
        servers stay byte-identical to those of earlier generator versions."""
        for i, edge in enumerate(self.edges):
            self.ip[edge] = f"172.16.0.{10 + i}"
            self.fqdn[edge] = f"{edge}.{DOMAIN}"
            self.skew[edge] = round(self.options.clock_skew_s.get(edge, 0.0) * 1000)
            started = self.start_ms - self.rng.randrange(3_600_000, _MAX_UPTIME_MS)
            self._counters[edge, EDGE] = dotnet_ticks(started)
            self._ports[edge] = self.rng.randrange(self.options.ephemeral_ports)
            self.record_ids[edge] = 42_842_298_000_000 + self.rng.randrange(10**9)

    def next_sid(self, server: str, process: str) -> str:
        """Next session id of one process: ``ulong.ToString("X16")`` of a ticks-seeded counter."""
        value = self._counters[server, process] + 1
        self._counters[server, process] = value
        return f"{value:016X}"

    def restart_process(self, server: str, process: str, ms: int) -> None:
        """A process restart: its session-id counter starts again from the new ticks."""
        self._counters[server, process] = dotnet_ticks(ms)

    def next_port(self, server: str) -> int:
        """Next ephemeral source port of a server (wraps, so ports are reused later)."""
        n = self._ports[server] + 1 + self.rng.randrange(3)
        self._ports[server] = n
        return 49152 + n % self.options.ephemeral_ports

    def next_record_id(self, server: str) -> str:
        """Next transport RecordId (= InternalId, tracking internal-message-id) of a Hub."""
        value = self.record_ids[server] + 1 + self.rng.randrange(4)
        self.record_ids[server] = value
        return str(value)

    def buffer(self, server: str, stream: str) -> list[Row] | None:
        """The row list of a stream, or None when the stream is disabled on that server."""
        if self.options.is_disabled(server, stream):
            return None
        key = (server, stream)
        rows = self.buffers.get(key)
        if rows is None:
            rows = self.buffers[key] = []
        return rows

    def emit(self, rows: list[Row], ms: int, line: str) -> None:
        """Append one finished line (``ms`` already skewed)."""
        rows.append((ms, self.order, line))
        self.order += 1
        self.bytes += len(line) + 2

    def track(self, server: str, stream: str, t: int, values: dict[str, str]) -> None:
        """Write one message tracking row (fields missing from this version are dropped)."""
        if server in self.edges:  # an Edge's transport writes MSGTRK into its own stream
            stream = "edge-tracking"
        rows = self.buffer(server, stream)
        if rows is None:
            return
        ms = t + self.skew[server]
        parts = [self.clock.ts(ms)]
        parts.extend(q(values.get(name, "")) for name in self.tracking_fields)
        self.emit(rows, ms, ",".join(parts))


class Session:
    """One SMTP protocol-log session (receive or send) of one server's process."""

    __slots__ = (
        "_eps",
        "_prefix",
        "connector",
        "direction",
        "lines",
        "local",
        "logged",
        "mails",
        "message_ids",
        "noise",
        "outcome",
        "remote",
        "rows",
        "seq",
        "server",
        "service",
        "session_id",
        "sim",
        "skew",
        "start",
        "stream",
    )

    def __init__(
        self, sim: Sim, server: str, stream: str, connector: str, local: str, remote: str
    ) -> None:
        info = STREAMS[stream]
        self.sim = sim
        self.server = server
        self.stream = stream
        self.service = info.process
        self.direction = "receive" if info.log_type == SMTP_RECEIVE else "send"
        self.connector = connector
        self.session_id = sim.next_sid(server, info.process)
        self.rows = sim.buffer(server, stream)
        self.logged = self.rows is not None
        self.skew = sim.skew[server]
        self.seq = 0
        self.start = -1  # skewed ms of the first row (also for unlogged sessions)
        self.lines = 0
        self.mails = 0
        self.outcome = "incomplete"
        self.noise = False
        self.message_ids: list[str] = []
        self._prefix = f",{q(connector)},{self.session_id},"
        self.local = local
        self.remote = remote
        self._eps = f",{local},{remote},"
        if self.logged:
            sim.sessions.append(self)

    def set_endpoints(self, local: str, remote: str) -> None:
        """Change the endpoints (a send session learns its local endpoint on connect)."""
        self.local = local
        self.remote = remote
        self._eps = f",{local},{remote},"

    def row(self, t: int, event: str, data: str = "", context: str = "") -> None:
        """Log one row at true time ``t`` with the next sequence number."""
        seq = self.seq
        self.seq = seq + 1
        ms = t + self.skew
        if seq == 0:
            self.start = ms
        rows = self.rows
        if rows is None:
            return
        line = (
            f"{self.sim.clock.ts(ms)}{self._prefix}{seq}{self._eps}{event},{q(data)},{q(context)}"
        )
        self.lines += 1
        self.sim.emit(rows, ms, line)

    def add_message_id(self, message_id: str) -> None:
        """Remember a Message-ID this session logged (truth)."""
        if self.logged and message_id not in self.message_ids:
            self.message_ids.append(message_id)


class ConnLog:
    """One connectivity-log session (same id as its SMTP send session, or a MAPI session)."""

    __slots__ = ("_destination", "_prefix", "rows", "sim", "skew", "source")

    def __init__(
        self, sim: Sim, server: str, stream: str, session_id: str, source: str, dest: str
    ) -> None:
        self.sim = sim
        self.source = source
        self.rows = sim.buffer(server, stream)
        self.skew = sim.skew[server]
        self._prefix = f",{session_id},{source},{q(dest)},"
        self._destination = dest

    def row(self, t: int, event: str, description: str) -> None:
        """Log one connectivity row."""
        if self.rows is None:
            return
        ms = t + self.skew
        self.sim.emit(
            self.rows, ms, f"{self.sim.clock.ts(ms)}{self._prefix}{event},{q(description)}"
        )
