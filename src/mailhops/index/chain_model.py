"""The result types of a trace (hops, gaps, chain) and the stream knowledge behind gaps:
which stream logs a hop, and the exact command that enables it (log-formats.md §10)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from mailhops.index import schema

RECEIVE_CMD: Final = "Get-ReceiveConnector | Set-ReceiveConnector -ProtocolLoggingLevel Verbose"
SEND_CMD: Final = "Get-SendConnector | Set-SendConnector -ProtocolLoggingLevel Verbose"
HUB_SEND_CMD: Final = (
    "Get-TransportService | Set-TransportService -IntraOrgConnectorProtocolLoggingLevel Verbose"
)
FE_SEND_CMD: Final = (
    "Get-FrontendTransportService | "
    "Set-FrontendTransportService -IntraOrgConnectorProtocolLoggingLevel Verbose"
)
MD_RECEIVE_CMD: Final = (
    "Get-MailboxTransportService | "
    "Set-MailboxTransportService -MailboxDeliveryConnectorProtocolLoggingLevel Verbose"
)

#: (service, direction) -> the generator's / admin's name of the log stream.
STREAM_OF: Final[dict[tuple[str, str], str]] = {
    (schema.FRONTEND, schema.RECEIVE): "fe-receive",
    (schema.FRONTEND, schema.SEND): "fe-send",
    (schema.HUB, schema.RECEIVE): "hub-receive",
    (schema.HUB, schema.SEND): "hub-send",
    (schema.MAILBOX_DELIVERY, schema.RECEIVE): "mbx-delivery-receive",
    (schema.MAILBOX_SUBMISSION, schema.SEND): "mbx-submission-send",
    (schema.EDGE, schema.RECEIVE): "edge-receive",
    (schema.EDGE, schema.SEND): "edge-send",
}

#: stream -> the command that turns its protocol logging on.
HINTS: Final[dict[str, str]] = {
    "fe-receive": RECEIVE_CMD,
    "fe-send": FE_SEND_CMD,
    "hub-receive": RECEIVE_CMD,
    "hub-send": HUB_SEND_CMD,
    "mbx-delivery-receive": MD_RECEIVE_CMD,
    "mbx-submission-send": HUB_SEND_CMD,
    "edge-receive": RECEIVE_CMD,
    "edge-send": SEND_CMD,
}

#: Receive stream behind a well-known destination port of a lab server.
PORT_STREAM: Final[dict[str, str]] = {
    "2525": "hub-receive",
    "465": "hub-receive",
    "475": "mbx-delivery-receive",
    "717": "fe-receive",
}


@dataclass(frozen=True)
class Hop:
    """One session (message segment) of a chain."""

    server: str
    service: str
    direction: str
    connector: str
    session_id: str
    start: datetime | None
    end: datetime | None
    rule: str = ""
    evidence: str = ""
    latency_ms: int | None = None
    key: str = ""
    msg: int = -1  # ordinal of this message's MAIL FROM in the session, -1: none logged
    segment: int = -1  # the node's segment ordinal (MESSAGES.msg), -1: whole session
    reply: str = ""
    code: int | None = None

    @property
    def stream(self) -> str:
        """The log stream this hop was read from (``hub-send``, ...)."""
        return STREAM_OF.get((self.service, self.direction), f"{self.service}-{self.direction}")

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``mailhops trace --json`` (plus key, msg, reply, code)."""
        return {
            "server": self.server,
            "service": self.service,
            "direction": self.direction,
            "connector": self.connector,
            "session_id": self.session_id,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "rule": self.rule,
            "evidence": self.evidence,
            "latency_ms": self.latency_ms,
            "key": self.key,
            "msg": self.msg,
            "segment": self.segment,
            "reply": self.reply,
            "code": self.code,
        }


@dataclass(frozen=True)
class Gap:
    """A hop that must exist but whose stream was not logged."""

    after: int  # index of the hop the gap follows; -1 = before the first hop
    stream: str
    server: str  # "" when unknown
    hint: str
    session_id: str = ""  # known from the connectivity or tracking log, else ""

    def to_json(self) -> dict[str, Any]:
        """The JSON object of a gap."""
        return {
            "after": self.after,
            "stream": self.stream,
            "server": self.server,
            "hint": self.hint,
            "session_id": self.session_id,
        }


@dataclass(frozen=True)
class TrackingEvent:
    """One message tracking log event of a traced message (schema.TRACKING_EVENT)."""

    ts: datetime | None
    server: str
    event_id: str
    source: str
    connector_id: str
    client_hostname: str
    server_hostname: str
    sender_address: str
    recipient_address: str  # recipients as logged, ";"-separated
    recipient_status: str
    internal_message_id: str

    def to_json(self) -> dict[str, Any]:
        """The JSON object of an event in ``mailhops trace --json`` ("tracking")."""
        out: dict[str, Any] = {k: getattr(self, k) or "" for k in schema.TRACKING_EVENT}
        out["ts"] = _iso(self.ts)
        return out


@dataclass
class Chain:
    """The answer of ``chain(index, ident)``: hops in order, or an error/ambiguity."""

    ident: str
    hops: list[Hop] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    side: list[Hop] = field(default_factory=list)
    message_id: str | None = None
    mail_from: str | None = None
    rcpt_to: list[str] = field(default_factory=list)
    outcome: str = ""
    outcome_detail: str = ""
    error: str = ""  # "" when the chain was found
    candidates: list[str] = field(default_factory=list)  # several matches: ``KEY#N`` idents
    candidate_details: list[str] = field(default_factory=list)  # "ident  time  Message-ID"
    #: When no SMTP protocol log has the message: its message tracking events.
    tracking: list[TrackingEvent] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when exactly one message matched."""
        return not self.error

    def to_json(self) -> dict[str, Any]:
        """The ``mailhops trace --json`` object."""
        out: dict[str, Any] = {
            "hops": [h.to_json() for h in self.hops],
            "gaps": [g.to_json() for g in self.gaps],
            "side": [h.to_json() for h in self.side],
            "message_id": self.message_id,
            "outcome": self.outcome,
            "outcome_detail": self.outcome_detail,
            "sender": self.mail_from,
            "recipients": self.rcpt_to,
            "tracking": [e.to_json() for e in self.tracking],
        }
        if self.error:
            out["error"] = self.error
            out["candidates"] = self.candidates
            out["candidate_details"] = self.candidate_details
        return out


def _iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
