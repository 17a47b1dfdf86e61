"""Options, constants and the static description of the simulated lab.

The lab is the one of log-formats.md §9: Exchange mailbox servers that each run Front End
Transport, Transport (Hub) and Mailbox Transport, in the ``contoso.lab`` organisation.
Everything here is data; the simulation lives in :mod:`mailhops.sample.flows`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

DOMAIN: Final = "contoso.lab"
FRONTEND: Final = "FrontEnd"
HUB: Final = "Hub"
MAILBOX_DELIVERY: Final = "MailboxDelivery"
MAILBOX_SUBMISSION: Final = "MailboxSubmission"
EDGE: Final = "Edge"
PROCESSES: Final = (FRONTEND, HUB, MAILBOX_DELIVERY, MAILBOX_SUBMISSION)

SMTP_RECEIVE: Final = "smtp-receive"
SMTP_SEND: Final = "smtp-send"
CONNECTIVITY: Final = "connectivity"
TRACKING: Final = "message-tracking"


@dataclass(frozen=True)
class Stream:
    """One log stream of one transport process (a folder of files sharing a prefix)."""

    name: str  # e.g. "hub-send"; the names used by SampleOptions.disabled
    process: str  # FrontEnd|Hub|MailboxDelivery|MailboxSubmission (schema.SERVICES value)
    log_type: str  # schema.LOG_TYPES value
    prefix: str  # file name prefix: RECV, SEND, CONNECTLOG, MSGTRK, MSGTRKMD, MSGTRKMS


STREAMS: Final[dict[str, Stream]] = {
    s.name: s
    for s in (
        Stream("fe-receive", FRONTEND, SMTP_RECEIVE, "RECV"),
        Stream("fe-send", FRONTEND, SMTP_SEND, "SEND"),
        Stream("fe-connectivity", FRONTEND, CONNECTIVITY, "CONNECTLOG"),
        Stream("hub-receive", HUB, SMTP_RECEIVE, "RECV"),
        Stream("hub-send", HUB, SMTP_SEND, "SEND"),
        Stream("hub-connectivity", HUB, CONNECTIVITY, "CONNECTLOG"),
        Stream("hub-tracking", HUB, TRACKING, "MSGTRK"),
        Stream("mbx-delivery-receive", MAILBOX_DELIVERY, SMTP_RECEIVE, "RECV"),
        Stream("mbx-delivery-connectivity", MAILBOX_DELIVERY, CONNECTIVITY, "CONNECTLOG"),
        Stream("mbx-delivery-tracking", MAILBOX_DELIVERY, TRACKING, "MSGTRKMD"),
        Stream("mbx-submission-send", MAILBOX_SUBMISSION, SMTP_SEND, "SEND"),
        Stream("mbx-submission-connectivity", MAILBOX_SUBMISSION, CONNECTIVITY, "CONNECTLOG"),
        Stream("mbx-submission-tracking", MAILBOX_SUBMISSION, TRACKING, "MSGTRKMS"),
        Stream("edge-receive", EDGE, SMTP_RECEIVE, "RECV"),
        Stream("edge-send", EDGE, SMTP_SEND, "SEND"),
        Stream("edge-connectivity", EDGE, CONNECTIVITY, "CONNECTLOG"),
        Stream("edge-tracking", EDGE, TRACKING, "MSGTRK"),
    )
}

LOG_TYPE_HEADER: Final = {
    SMTP_RECEIVE: "SMTP Receive Protocol Log",
    SMTP_SEND: "SMTP Send Protocol Log",
    CONNECTIVITY: "Transport Connectivity Log",
    TRACKING: "Message Tracking Log",
}

PROTOCOL_FIELDS: Final = (
    "date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,"
    "event,data,context"
)
CONNECTIVITY_FIELDS: Final = "date-time,session,source,Destination,direction,description"
TRACKING_FIELDS_2019: Final = (
    "date-time",
    "client-ip",
    "client-hostname",
    "server-ip",
    "server-hostname",
    "source-context",
    "connector-id",
    "source",
    "event-id",
    "internal-message-id",
    "message-id",
    "network-message-id",
    "recipient-address",
    "recipient-status",
    "total-bytes",
    "recipient-count",
    "related-recipient-address",
    "reference",
    "message-subject",
    "sender-address",
    "return-path",
    "message-info",
    "directionality",
    "tenant-id",
    "original-client-ip",
    "original-server-ip",
    "custom-data",
    "transport-traffic-type",
    "log-id",
    "schema-version",
)


def tracking_fields(version: str) -> tuple[str, ...]:
    """The tracking ``#Fields`` of one Exchange version (30, 27 or 26 fields)."""
    if version == "2010":
        return tuple(f for f in TRACKING_FIELDS_2019[:27] if f != "network-message-id")
    if version == "2013":
        return TRACKING_FIELDS_2019[:27]
    return TRACKING_FIELDS_2019


# Folder of each stream, per layout, relative to <out>/<SERVER>/. 2010 has no role folders.
_DEFAULT_2013: Final = {
    "fe-receive": "FrontEnd/ProtocolLog/SmtpReceive",
    "fe-send": "FrontEnd/ProtocolLog/SmtpSend",
    "fe-connectivity": "FrontEnd/Connectivity",
    "hub-receive": "Hub/ProtocolLog/SmtpReceive",
    "hub-send": "Hub/ProtocolLog/SmtpSend",
    "hub-connectivity": "Hub/Connectivity",
    "hub-tracking": "MessageTracking",
    "mbx-delivery-receive": "Mailbox/ProtocolLog/SmtpReceive/Delivery",
    "mbx-delivery-connectivity": "Mailbox/Connectivity/Delivery",
    "mbx-delivery-tracking": "MessageTracking",
    "mbx-submission-send": "Mailbox/ProtocolLog/SmtpSend/Submission",
    "mbx-submission-connectivity": "Mailbox/Connectivity/Submission",
    "mbx-submission-tracking": "MessageTracking",
    "edge-receive": "Edge/ProtocolLog/SmtpReceive",
    "edge-send": "Edge/ProtocolLog/SmtpSend",
    "edge-connectivity": "Edge/Connectivity",
    "edge-tracking": "MessageTracking",
}
_COLLECTOR: Final = {
    "fe-receive": "FE_Receive_Protocol_Logs",
    "fe-send": "FE_Send_Protocol_Logs",
    "fe-connectivity": "FE_Connectivity_Logs",
    "hub-receive": "Hub_Receive_Protocol_Logs",
    "hub-send": "Hub_Send_Protocol_Logs",
    "hub-connectivity": "Hub_Connectivity_Logs",
    "hub-tracking": "Message_Tracking_Logs",
    "mbx-delivery-receive": "MBX_Receive_Protocol_Logs/Delivery",
    "mbx-delivery-connectivity": "MBX_Delivery_Connectivity_Logs",
    "mbx-delivery-tracking": "Message_Tracking_Logs",
    "mbx-submission-send": "MBX_Send_Protocol_Logs/Submission",
    "mbx-submission-connectivity": "MBX_Submission_Connectivity_Logs",
    "mbx-submission-tracking": "Message_Tracking_Logs",
    "edge-receive": "Edge_Receive_Protocol_Logs",
    "edge-send": "Edge_Send_Protocol_Logs",
    "edge-connectivity": "Edge_Connectivity_Logs",
    "edge-tracking": "Message_Tracking_Logs",
}
_V14: Final = {
    "hub-receive": "ProtocolLog/SmtpReceive",
    "hub-send": "ProtocolLog/SmtpSend",
    "hub-connectivity": "Connectivity",
    "hub-tracking": "MessageTracking",
}
LAYOUTS: Final = ("custom", "default", "collector")


def stream_folder(layout: str, version: str, stream: str) -> str:
    """The folder (posix, relative to the server's folder) that holds one stream's files."""
    if layout == "collector":
        return _COLLECTOR[stream]
    if version == "2010":
        base = "V14/TransportRoles/Logs" if layout == "default" else "ExchangeLogs"
        return f"{base}/{_V14[stream]}"
    if layout == "custom":
        # Set-*TransportService -...LogPath D:\ExchangeLogs\Frontend\..., as in the §9 lab.
        return "ExchangeLogs/" + _DEFAULT_2013[stream].replace("FrontEnd/", "Frontend/")
    return "V15/TransportRoles/Logs/" + _DEFAULT_2013[stream]


def _default_start() -> datetime:
    return datetime(2026, 11, 2, 8, 0, 0, tzinfo=UTC)


DEFAULT_SERVERS: Final = ("EX19MBX1", "EX19MBX2", "EX19MBX3")


@dataclass
class SampleOptions:
    """What to simulate and how to write it (see the package docstring for each option)."""

    servers: tuple[str, ...] = DEFAULT_SERVERS
    layouts: dict[str, str] = field(default_factory=dict)  # server -> custom|default|collector
    version: str = "2019"  # 2019|2016 hourly, 2013 daily protocol names, 2010 Hub only
    max_file_bytes: int = 10 * 1024 * 1024
    disabled: frozenset[str] = frozenset()  # "hub-send" (all servers) or "EX19MBX2:hub-send"
    clock_skew_s: dict[str, float] = field(default_factory=dict)
    start: datetime = field(default_factory=_default_start)
    zip_servers: tuple[str, ...] = ()
    ephemeral_ports: int = 16384  # size of each server's source-port range (small = reuse)
    restart: tuple[str, ...] = ()  # servers whose Transport service restarts halfway through
    edge: tuple[str, ...] = ()  # Edge Transport servers (2013+): Internet mail arrives there

    def layout(self, server: str) -> str:
        """The layout of one server: explicit, else custom for the first server."""
        if server in self.layouts:
            return self.layouts[server]
        if server in self.edge:
            return "default"
        return "custom" if server == self.servers[0] else "default"

    def is_disabled(self, server: str, stream: str) -> bool:
        """True when ``stream`` is not logged on ``server``."""
        return stream in self.disabled or f"{server}:{stream}" in self.disabled

    def validate(self) -> None:
        """Raise ValueError for options the generator cannot honour."""
        if self.version not in ("2010", "2013", "2016", "2019"):
            raise ValueError(f"unknown Exchange version {self.version!r}")
        if not self.servers or len(set(self.servers)) != len(self.servers):
            raise ValueError("servers must be non-empty and distinct")
        if len(self.servers) > 200:
            raise ValueError("at most 200 servers")
        for server, layout in self.layouts.items():
            if layout not in LAYOUTS:
                raise ValueError(f"unknown layout {layout!r} for {server}")
        for name in self.disabled:
            server, _, stream = name.rpartition(":")
            if stream not in STREAMS:
                raise ValueError(f"unknown stream {name!r}; known: {', '.join(STREAMS)}")
            if server and server not in (*self.servers, *self.edge):
                raise ValueError(f"unknown server {server!r} in {name!r}")
        if self.max_file_bytes < 4096:
            raise ValueError("max_file_bytes must be at least 4096")
        unknown = [s for s in (*self.zip_servers, *self.restart) if s not in self.servers]
        if unknown:
            raise ValueError(f"unknown server {unknown[0]!r}")
        if self.edge and self.version == "2010":
            raise ValueError("Edge servers are simulated for Exchange 2013 and later only")
        if set(self.edge) & set(self.servers) or len(set(self.edge)) != len(self.edge):
            raise ValueError(
                "edge servers must be distinct from each other and the mailbox servers"
            )
        if self.ephemeral_ports < 8:
            raise ValueError("ephemeral_ports must be at least 8")


def server_ip(index: int) -> str:
    """IP of the index-th lab server: 10.0.3.4, 10.0.3.5, 10.0.3.6, ..."""
    return f"10.0.{3 + (index + 4) // 250}.{(index + 4) % 250}"


def fqdn(server: str) -> str:
    """The server's FQDN as written in banners and ``Hostname=``."""
    return f"{server}.{DOMAIN}"
