"""Build Rich ``Text`` from log values: the only way log text becomes something drawable.

Every value goes through :func:`mailhops.safe_text.clean` and into ``Text(...)`` /
``Text.assemble``; nothing here builds a markup string, so ``[bold]`` or ``[@click=...]`` in a
log line is shown as the characters it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from rich.text import Text

from mailhops.safe_text import clean

OUTCOME_STYLES = {
    "delivered": "green",
    "rejected": "bold red",
    "deferred": "yellow",
    "proxy_error": "bold magenta",
    "tls_failed": "red",
    "timeout": "red",
    "no_mail": "dim",
    "incomplete": "italic yellow",
}
EVENT_STYLES = {"+": "green", "-": "red", ">": "cyan", "<": "yellow", "*": "magenta"}
#: Transcript lines carrying the evidence the linker uses (log-formats.md §3).
LINKING = re.compile(
    r"XPROXYFROM|Proxying inbound session|InternalId=|RecordId|XSESSIONPARAMS|"
    r"receiving message|Starting outbound connection for inbound session|XPROXYTO",
    re.IGNORECASE,
)
LINK_STYLE = "bold reverse"

#: (title, width) of the sessions pane columns, in display order.
SESSION_COLUMNS: tuple[tuple[str, int], ...] = (
    ("Start (UTC)", 18),
    ("Outcome", 11),
    ("Server", 10),
    ("Stream", 9),
    ("Session id", 16),
    ("Remote", 21),
    ("EHLO", 22),
    ("MAIL FROM", 26),
    ("RCPT TO", 28),
    ("Message-ID", 34),
)
_SERVICE_SHORT = {"FrontEnd": "FE", "MailboxDelivery": "MbxD", "MailboxSubmission": "MbxS"}


def to_text(value: object, style: str = "") -> Text:
    """Return ``value`` as a plain ``Text`` (cleaned, never parsed as markup)."""
    return Text(clean(None if value is None else str(value)), style=style, end="")


def fit(value: object, width: int, style: str = "") -> Text:
    """Return cleaned ``value`` cut or padded to exactly ``width`` cells (ellipsis when cut)."""
    text = to_text(value, style)
    text.truncate(width, overflow="ellipsis", pad=True)
    return text


def format_time(ts: datetime | None, zone: tzinfo | None = None, *, date: bool = True) -> str:
    """Return ``ts`` as ``MM-DD HH:MM:SS.mmm`` in UTC, or in ``zone`` when given."""
    if ts is None:
        return ""
    if zone is not None:
        ts = ts.astimezone(zone)
    pattern = "%m-%d %H:%M:%S" if date else "%H:%M:%S"
    return ts.strftime(pattern) + f".{ts.microsecond // 1000:03d}"


def service_label(service: str | None, direction: str | None) -> str:
    """Return e.g. ``FE recv`` / ``Hub send`` for a session's stream."""
    short = _SERVICE_SHORT.get(service or "", service or "?")
    arrow = "recv" if direction == "receive" else "send" if direction == "send" else "?"
    return f"{short} {arrow}"


def first_and_count(values: Sequence[str] | None) -> str:
    """Return the first value with ``+N`` for the others (``a@x +2``)."""
    if not values:
        return ""
    extra = f" +{len(values) - 1}" if len(values) > 1 else ""
    return f"{values[0]}{extra}"


def session_cells(row: Mapping[str, Any], zone: tzinfo | None = None) -> list[Text]:
    """Return one sessions-pane row as fixed-width cells, in SESSION_COLUMNS order."""
    outcome = row.get("outcome") or ""
    mail_from = row.get("mail_from")
    values: list[tuple[object, str]] = [
        (format_time(row.get("start"), zone), "dim"),
        (outcome, OUTCOME_STYLES.get(outcome, "")),
        (row.get("server"), "bold"),
        (service_label(row.get("service"), row.get("direction")), ""),
        (row.get("session_id"), ""),
        (row.get("remote_ep"), ""),
        (row.get("ehlo"), ""),
        ("<>" if mail_from == "" else mail_from, ""),
        (first_and_count(row.get("rcpt_to")), ""),
        (first_and_count(row.get("message_ids")), "dim"),
    ]
    return [
        fit(value, width, style)
        for (value, style), (_, width) in zip(values, SESSION_COLUMNS, strict=True)
    ]


def join_cells(cells: Sequence[Text], sep: str = " ") -> Text:
    """Join fixed-width cells into one line."""
    return Text(sep, end="").join(cells)


def session_header() -> Text:
    """Return the sessions pane header line."""
    return join_cells([fit(title, width, "bold") for title, width in SESSION_COLUMNS])


def transcript_line(row: Mapping[str, Any], zone: tzinfo | None = None) -> Text:
    """Return one transcript line: time, seq, event (coloured), data and context.

    Lines carrying linking evidence (XPROXYFROM, InternalId, ...) are highlighted.
    """
    event = row.get("event") or ""
    data = clean(row.get("data"))
    context = clean(row.get("context"))
    line = Text.assemble(
        (format_time(row.get("ts"), zone, date=False), "dim"),
        " ",
        (f"{row.get('seq') if row.get('seq') is not None else '':>4}", "dim"),
        " ",
        (clean(event) or " ", EVENT_STYLES.get(event, "")),
        " ",
        (data, EVENT_STYLES.get(event, "")),
        end="",
    )
    if context:
        line.append("  " if data else "")
        line.append(context, style="italic")
    if LINKING.search(data) or LINKING.search(context):
        line.stylize(LINK_STYLE, 19)
    return line


def hop_label(hop: Any, zone: tzinfo | None = None, *, connector: bool = True) -> Text:
    """Return one hop of a chain: server, service, connector, session id, time and latency."""
    latency = getattr(hop, "latency_ms", None)
    sign = "+" if latency is not None and latency >= 0 else ""
    latency_text = f"{sign}{latency:,.0f} ms" if latency is not None else ""
    latency_text = latency_text.rjust(10)
    return Text.assemble(
        (clean(hop.server), "bold"),
        " ",
        service_label(hop.service, hop.direction),
        " ",
        (clean(hop.session_id), "cyan"),
        " ",
        (format_time(hop.start, zone), "dim"),
        " ",
        (latency_text, "yellow"),
        (" " + clean(hop.connector) if connector else "", "dim italic"),
        end="",
    )
