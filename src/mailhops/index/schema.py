"""Column names and dtypes of every table of the index, in one place.

Every table the index builds or persists is described here; tests compare
``collect_schema()`` of the real tables against these mappings. Keep this module free of
logic: it is the contract between discovery/parsing, the index builder, the linker, the CLI
and the app.

Keys
----
A session id is unique only within one server's one log stream, so a session is keyed by
``(server, service, direction, session_id)``. The string form of that key (``session_key``)
is the ``key`` column of ``sessions`` and the ``src``/``dst`` columns of ``links``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

TS: Final = pl.Datetime("ms", "UTC")

# --- vocabularies -----------------------------------------------------------------------

# Exchange transport services (the process that wrote the log).
FRONTEND: Final = "FrontEnd"
HUB: Final = "Hub"
MAILBOX_DELIVERY: Final = "MailboxDelivery"
MAILBOX_SUBMISSION: Final = "MailboxSubmission"
EDGE: Final = "Edge"
UNKNOWN: Final = "Unknown"
SERVICES: Final = (FRONTEND, HUB, MAILBOX_DELIVERY, MAILBOX_SUBMISSION, EDGE, UNKNOWN)

# Log types (from the ``#Log-type`` header, never from the path).
SMTP_RECEIVE: Final = "smtp-receive"
SMTP_SEND: Final = "smtp-send"
CONNECTIVITY: Final = "connectivity"
TRACKING: Final = "message-tracking"
LOG_TYPES: Final = (SMTP_RECEIVE, SMTP_SEND, CONNECTIVITY, TRACKING)

# Session direction.
RECEIVE: Final = "receive"
SEND: Final = "send"

# Session outcomes, worst first is not implied; the app colours them.
OUTCOME_DELIVERED: Final = "delivered"  # at least one message accepted (250 after DATA/BDAT)
OUTCOME_REJECTED: Final = "rejected"  # a 5xx reply ended the transaction
OUTCOME_DEFERRED: Final = "deferred"  # a 4xx reply ended the transaction (PRX errors excluded)
OUTCOME_PROXY_ERROR: Final = "proxy_error"  # FE PRX/CPRX 4xx, "No proxy destinations"
OUTCOME_TLS_FAILED: Final = "tls_failed"
OUTCOME_TIMEOUT: Final = "timeout"  # disconnect reason Timeout / connect failure
OUTCOME_NO_MAIL: Final = "no_mail"  # connected and left without a MAIL FROM (probes, LB checks)
OUTCOME_INCOMPLETE: Final = "incomplete"  # no disconnect row (yet): still open or cut off
OUTCOMES: Final = (
    OUTCOME_DELIVERED,
    OUTCOME_REJECTED,
    OUTCOME_DEFERRED,
    OUTCOME_PROXY_ERROR,
    OUTCOME_TLS_FAILED,
    OUTCOME_TIMEOUT,
    OUTCOME_NO_MAIL,
    OUTCOME_INCOMPLETE,
)
FAILED_OUTCOMES: Final = (
    OUTCOME_REJECTED,
    OUTCOME_DEFERRED,
    OUTCOME_PROXY_ERROR,
    OUTCOME_TLS_FAILED,
    OUTCOME_TIMEOUT,
)

# Problem severities.
ERROR: Final = "error"  # a line or file that could not be indexed (counted in bad_lines)
WARNING: Final = "warning"  # indexed, but something was repaired (e.g. undecodable bytes)
INFO: Final = "info"  # nothing lost (e.g. partial last line held back until complete)


def session_key(server: str, service: str, direction: str, session_id: str) -> str:
    """Return the string key of one session: ``SERVER|service|direction|SESSIONID``."""
    return f"{server}|{service}|{direction}|{session_id}"


def is_message_id(text: str) -> bool:
    """``text`` reads as a Message-ID (it has an ``@`` or starts with ``<``), not a
    session key, id or InternalId."""
    text = text.strip()
    return "@" in text or text.startswith("<")


def message_id(text: str) -> str:
    """``text`` as a Message-ID is logged: in angle brackets."""
    text = text.strip()
    return text if text.startswith("<") else f"<{text}>"


def session_key_expr() -> pl.Expr:
    """The polars expression that builds :func:`session_key` from the four key columns."""
    return pl.concat_str(
        [pl.col("server"), pl.col("service"), pl.col("direction"), pl.col("session_id")],
        separator="|",
    ).alias("key")


# --- tables -------------------------------------------------------------------------------

#: One row per source file (a file on disk, or a member of a .zip).
FILES: Final[dict[str, pl.DataType]] = {
    "file_id": pl.UInt32(),  # stable for a path within one cache directory
    "path": pl.String(),  # display path; zip members as "archive.zip!member/path"
    "server": pl.String(),  # short NetBIOS-style name, upper case; "" when unknown
    # how the server was learned: connector|banner|tracking|path|ip|unknown
    "server_source": pl.String(),
    "service": pl.String(),  # one of SERVICES
    "log_type": pl.String(),  # one of LOG_TYPES, or "" for unknown files
    "version": pl.String(),  # #Version header
    "size": pl.Int64(),  # bytes on disk (or uncompressed member size)
    "mtime_ns": pl.Int64(),
    "read_bytes": pl.Int64(),  # bytes consumed up to the last complete line: resume offset
    "read_lines": pl.UInt32(),  # physical lines consumed (incl. headers): resume line number
    "fields": pl.String(),  # the #Fields line, comma separated, as written
    "root": pl.String(),  # the folder that holds one server's logs (path hint), "" if none
    "first_ts": TS,
    "last_ts": TS,
    "lines": pl.UInt32(),  # data lines indexed
    "bad_lines": pl.UInt32(),  # data lines that could not be indexed
}

#: One row per SMTP protocol log line (receive and send).
LINES: Final[dict[str, pl.DataType]] = {
    "file_id": pl.UInt32(),
    "line_no": pl.UInt32(),  # 1-based physical line number in the file (headers count)
    "ts": TS,
    "server": pl.String(),
    "service": pl.String(),
    "direction": pl.String(),  # receive|send
    "connector": pl.String(),  # connector-id as written (receive: "SERVER\\Name")
    "session_id": pl.String(),
    "seq": pl.Int32(),
    "local_ep": pl.String(),
    "remote_ep": pl.String(),
    "event": pl.String(),  # + - > < *
    "data": pl.String(),
    "context": pl.String(),
}

#: One row per connectivity log line.
CONNECTIVITY_LINES: Final[dict[str, pl.DataType]] = {
    "file_id": pl.UInt32(),
    "line_no": pl.UInt32(),
    "ts": TS,
    "server": pl.String(),
    "service": pl.String(),
    "session_id": pl.String(),  # same id as the SMTP send session for source=SMTP
    "source": pl.String(),  # SMTP, MapiDelivery, MapiSubmission, Transport, ...
    "destination": pl.String(),
    "event": pl.String(),  # + > * -
    "description": pl.String(),
}

#: Message tracking fields, as named in #Fields (2010 lacks some: they are null).
TRACKING_FIELDS: Final = (
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

#: One row per message tracking log line; tracking field "a-b" becomes column "a_b".
TRACKING_LINES: Final[dict[str, pl.DataType]] = {
    "file_id": pl.UInt32(),
    "line_no": pl.UInt32(),
    "ts": TS,
    "server": pl.String(),
    "service": pl.String(),
    **{name.replace("-", "_"): pl.String() for name in TRACKING_FIELDS},
}

#: What a trace shows of one message tracking event (LogIndex.tracking_events).
TRACKING_EVENT: Final[dict[str, pl.DataType]] = {
    "ts": TS,
    "server": pl.String(),
    "event_id": pl.String(),
    "source": pl.String(),
    "connector_id": pl.String(),
    "client_hostname": pl.String(),
    "server_hostname": pl.String(),
    "sender_address": pl.String(),
    "recipient_address": pl.String(),
    "recipient_status": pl.String(),
    "internal_message_id": pl.String(),
}

#: One row per problem found while indexing.
PROBLEMS: Final[dict[str, pl.DataType]] = {
    "path": pl.String(),
    "line": pl.UInt32(),  # 0 for a whole-file problem
    "severity": pl.String(),  # error|warning|info
    "reason": pl.String(),
}

#: One row per session; keyed by (server, service, direction, session_id).
SESSIONS: Final[dict[str, pl.DataType]] = {
    "key": pl.String(),
    "server": pl.String(),
    "service": pl.String(),
    "direction": pl.String(),
    "session_id": pl.String(),
    "connector": pl.String(),
    "start": TS,
    "end": TS,
    "local_ep": pl.String(),  # first non-empty
    "remote_ep": pl.String(),
    "ehlo": pl.String(),  # receive: the client's HELO/EHLO argument; send: our EHLO argument
    "banner": pl.String(),  # the 220 greeting text
    "tls": pl.Boolean(),
    "auth": pl.String(),  # authenticated identity, or null
    "mail_from": pl.String(),  # first MAIL FROM address (without <>), "" for null sender
    "rcpt_to": pl.List(pl.String()),  # distinct RCPT TO addresses in order
    "message_ids": pl.List(pl.String()),  # Internet Message-IDs (with <>)
    "internal_ids": pl.List(pl.String()),  # InternalId / RecordId values
    "messages": pl.UInt32(),  # MAIL FROM commands
    "last_reply": pl.String(),  # last SMTP reply line (3-digit code first)
    "last_code": pl.Int16(),
    "error_code": pl.Int16(),  # last 4xx/5xx reply code, null when none
    "line_count": pl.UInt32(),
    "outcome": pl.String(),  # one of OUTCOMES
    "detail": pl.String(),  # the line behind a failed outcome (reply, PRX, TLS, timeout)
    "noise": pl.Boolean(),  # health probe / load-balancer connect-quit
    "file_ids": pl.List(pl.UInt32()),
}

#: One row per message transaction inside a session (MAIL FROM up to its final reply, RSET
#: or disconnect). ``msg`` is the 0-based ordinal of the transaction within its session.
#: Built by the linker (mailhops.index.segments); the linker may add columns.
MESSAGES: Final[dict[str, pl.DataType]] = {
    "key": pl.String(),  # session key
    "msg": pl.Int32(),
    "start": TS,
    "end": TS,
    "mail_from": pl.String(),
    "rcpt_to": pl.List(pl.String()),
    "message_id": pl.String(),  # Internet Message-ID with <>, null when not logged
    "internal_id": pl.String(),  # InternalId from the 250 reply / RecordId on send
    "reply": pl.String(),  # final reply to the transaction
    "code": pl.Int16(),
}

#: One row per edge between two sessions (message-level when msg >= 0, whole session at -1).
LINKS: Final[dict[str, pl.DataType]] = {
    "src": pl.String(),  # session key, upstream side
    "src_msg": pl.Int32(),
    "dst": pl.String(),  # session key, downstream side
    "dst_msg": pl.Int32(),
    "rule": pl.String(),  # name of the linking rule that matched (one function each)
    "evidence": pl.String(),  # the key or the line that matched
    "confidence": pl.Float32(),  # 0..1
    "side": pl.Boolean(),  # shadow-redundancy copy: a side branch, not a hop
}
