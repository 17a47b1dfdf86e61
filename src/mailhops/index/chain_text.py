"""The ticket-ready plain-text summary of a chain. Every log-derived string goes through
:func:`mailhops.safe_text.clean` (log text is hostile input)."""

from __future__ import annotations

from datetime import datetime

from mailhops.index.chain_model import (
    FE_SEND_CMD,
    HUB_SEND_CMD,
    MD_RECEIVE_CMD,
    RECEIVE_CMD,
    SEND_CMD,
    Chain,
    Hop,
    TrackingEvent,
)
from mailhops.safe_text import clean


def _when(ts: datetime | None) -> str:
    """A UTC time stamp to the millisecond, or question marks when unknown."""
    if ts is None:
        return "????-??-?? ??:??:??.???Z"
    return ts.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _hop_line(n: int, hop: Hop) -> str:
    # A proxied hop can open a few ms before the previous hop logs its own opener
    # ("will now be proxied" follows the proxy handshake): the sign is shown as it is.
    lat = "" if hop.latency_ms is None else f"  {hop.latency_ms:+d} ms"
    via = f"  [{clean(hop.rule)}]" if hop.rule else ""
    return (
        f"{n:>2}. {_when(hop.start)}  {clean(hop.server)}  {hop.service} {hop.direction}  "
        f"{clean(hop.connector) or '-'}  session {clean(hop.session_id)}{lat}{via}"
    )


def _tracking_lines(events: list[TrackingEvent]) -> list[str]:
    """A message no protocol log has: its tracking events, and how to log its sessions."""
    out = ["  No SMTP protocol log has this message; message tracking saw:"]
    for e in events:
        status = f"  [{clean(e.recipient_status)}]" if e.recipient_status else ""
        rcpt = f"  to {clean(e.recipient_address)}" if e.recipient_address else ""
        out.append(
            f"  - {_when(e.ts)}  {clean(e.server) or '-'}  {clean(e.event_id)} {clean(e.source)}  "
            f"{clean(e.connector_id) or '-'}{rcpt}{status}"
        )
    first, *more = tracking_hints(events)
    out.append(f"    .. sessions not logged; enable with: {first}")
    out += [f"       and: {cmd}" for cmd in more]
    return out


def tracking_hints(events: list[TrackingEvent]) -> list[str]:
    """The commands that log the sessions these tracking events went through: receive
    connectors for SMTP RECEIVE (and the Front End's proxy send when a Hub's default
    connector received it), the intra-organisation or a send connector for SMTP SEND,
    Mailbox Transport Delivery for DELIVER, the Hub's send for a mailbox submission."""
    cmds: list[str] = []
    # A Hub's default connector gets a message from a Front End's proxy unless a mailbox
    # submitted it (then Mailbox Transport Submission sent it there).
    submitted = any(e.event_id.upper() == "SUBMIT" for e in events)
    for e in events:
        kind, source = e.event_id.upper(), e.source.upper()
        connector = e.connector_id.lower()
        if kind == "RECEIVE" and source == "SMTP":
            cmds.append(RECEIVE_CMD)
            via_fe = "\\default " in connector and "frontend" not in connector
            cmds += [FE_SEND_CMD] if via_fe and not submitted else []
        elif kind == "SEND" and source == "SMTP":
            cmds.append(HUB_SEND_CMD if "intra-organization" in connector else SEND_CMD)
        elif kind == "DELIVER":
            cmds.append(MD_RECEIVE_CMD)
        elif kind == "SUBMIT" or (kind == "RECEIVE" and source == "STOREDRIVER"):
            cmds.append(HUB_SEND_CMD)
    return list(dict.fromkeys(cmds)) or [RECEIVE_CMD, HUB_SEND_CMD]


def render_text(c: Chain) -> str:
    """Each hop on a line (UTC time, server, service, connector, session id), the gaps with
    the command that enables the missing log, then sender, recipients, Message-ID, outcome."""
    if not c.ok:
        lines = [clean(c.error)]
        lines += [f"  {clean(x)}" for x in (c.candidate_details or c.candidates)]
        return "\n".join(lines) + "\n"
    gaps_after: dict[int, list[str]] = {}
    for g in c.gaps:
        where = f" on {clean(g.server)}" if g.server else ""
        sid = f" (session {clean(g.session_id)})" if g.session_id else ""
        gaps_after.setdefault(g.after, []).append(
            f"    .. hop not logged: {g.stream}{where}{sid}; enable with: {g.hint}"
        )
    out = [f"Trace of {clean(c.ident)}"]
    if c.tracking:
        out += _tracking_lines(c.tracking)
    out += gaps_after.get(-1, [])
    for i, hop in enumerate(c.hops):
        out.append(_hop_line(i + 1, hop))
        out += gaps_after.get(i, [])
    for hop in c.side:
        out.append(f"    side (shadow copy): {_hop_line(0, hop)[4:]}")
    out.append(f"Sender:     {clean(c.mail_from) if c.mail_from is not None else '-'}")
    out.append(f"Recipients: {', '.join(clean(r) for r in c.rcpt_to) or '-'}")
    out.append(f"Message-ID: {clean(c.message_id) or '-'}")
    detail = f" ({clean(c.outcome_detail)})" if c.outcome_detail else ""
    out.append(f"Outcome:    {c.outcome}{detail}")
    return "\n".join(out) + "\n"
