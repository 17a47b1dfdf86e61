"""Test helpers for the app tests: a small hand-written index with one linked chain.

The fake index has the attributes of ``mailhops.index.model.LogIndex`` the app uses
(files, sessions, problems, transcript, chain, summary) and a fixed chain: an Internet client
-> EX01 Front End receive -> EX01 proxy send -> EX02 Hub receive -> EX02 Hub send, with the
Mailbox Delivery receive log missing (a gap). Plus noise, failures and a hostile session.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from mailhops.index.chain_model import Chain, Gap, Hop, TrackingEvent
from mailhops.index.schema import LINES, SESSIONS, session_key

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
HOSTILE_EHLO = "\x1b]52;c;ZXZpbA==\x07[bold red]evil[/]\x1b[2J"
HOSTILE_FROM = "[link=https://evil.example]x[/link]@\u202emoc.live"
HOSTILE_DATA = "[@click=app.quit]boom[/] \x1b[31mred\x9b0m"


def _hop(
    server: str,
    service: str,
    direction: str,
    connector: str,
    sid: str,
    start: datetime,
    end: datetime,
    rule: str = "",
    evidence: str = "",
    latency: int | None = None,
) -> Hop:
    key = session_key(server, service, direction, sid)
    return Hop(
        server, service, direction, connector, sid, start, end, rule, evidence, latency, key=key
    )


def _session(i: int, server: str, service: str, direction: str, sid: str, **over: Any) -> dict:
    start = over.pop("start", T0 + timedelta(seconds=i))
    row = {
        "key": session_key(server, service, direction, sid),
        "server": server,
        "service": service,
        "direction": direction,
        "session_id": sid,
        "connector": over.pop("connector", f"{server}\\Default Frontend {server}"),
        "start": start,
        "end": start + timedelta(milliseconds=400),
        "local_ep": "10.0.0.1:25",
        "remote_ep": over.pop("remote_ep", f"203.0.113.{i % 250}:{40000 + i}"),
        "ehlo": over.pop("ehlo", f"client{i}.example.org"),
        "banner": "220 EX01 ready",
        "tls": True,
        "auth": None,
        "mail_from": over.pop("mail_from", f"sender{i}@example.org"),
        "rcpt_to": over.pop("rcpt_to", [f"user{i}@contoso.com"]),
        "message_ids": over.pop("message_ids", [f"<msg{i}@example.org>"]),
        "internal_ids": over.pop("internal_ids", []),
        "messages": 1,
        "last_reply": over.pop("last_reply", "250 2.6.0 Queued mail for delivery"),
        "last_code": over.pop("last_code", 250),
        "error_code": over.pop("error_code", None),
        "line_count": 6,
        "outcome": over.pop("outcome", "delivered"),
        "detail": over.pop("detail", None),
        "noise": over.pop("noise", False),
        "file_ids": [1],
    }
    assert not over, over
    return row


CHAIN_HOPS = [
    _hop(
        "EX01",
        "FrontEnd",
        "receive",
        "EX01\\Default Frontend EX01",
        "08DC000000000A01",
        T0 + timedelta(seconds=100),
        T0 + timedelta(seconds=101),
        "",
        "",
        None,
    ),
    _hop(
        "EX01",
        "FrontEnd",
        "send",
        "Inbound Proxy Internal Send Connector",
        "08DC000000000B02",
        T0 + timedelta(seconds=100, milliseconds=50),
        T0 + timedelta(seconds=101),
        "proxy_session_id",
        "Proxying inbound session with session id 08DC000000000A01",
        50,
    ),
    _hop(
        "EX02",
        "Hub",
        "receive",
        "EX02\\Default EX02",
        "08DC000000000C03",
        T0 + timedelta(seconds=100, milliseconds=80),
        T0 + timedelta(seconds=101),
        "xproxyfrom",
        "XPROXYFROM SID=08DC000000000A01",
        30,
    ),
    _hop(
        "EX02",
        "Hub",
        "send",
        "Intra-Organization SMTP Send Connector",
        "08DC000000000D04",
        T0 + timedelta(seconds=102),
        T0 + timedelta(seconds=103),
        "record_id",
        "sending message with RecordId 4242",
        1920,
    ),
]
CHAIN_GAP = Gap(
    3,
    "SMTP receive (Mailbox Delivery)",
    "EX02",
    "Set-MailboxTransportService EX02 -ReceiveProtocolLogLevel Verbose",
)


def build_sessions(extra: int = 40) -> pl.DataFrame:
    """Sessions: the chain's four, ``extra`` ordinary ones, noise, failures, one hostile."""
    rows = [_session(i, "EX01", "FrontEnd", "receive", f"08DC0000000{i:05X}") for i in range(extra)]
    for n, hop in enumerate(CHAIN_HOPS):
        rows.append(
            _session(
                100 + n,
                hop.server,
                hop.service,
                hop.direction,
                hop.session_id,
                start=hop.start,
                connector=hop.connector,
                mail_from="alice@example.org",
                message_ids=["<chain@example.org>"],
                internal_ids=["4242"] if n >= 2 else [],
            )
        )
    rows.append(
        _session(
            200,
            "EX02",
            "FrontEnd",
            "receive",
            "08DC00000000NO15",
            noise=True,
            outcome="no_mail",
            mail_from=None,
            rcpt_to=[],
            message_ids=[],
            remote_ep="10.9.9.9:5000",
            connector="EX02\\Default Frontend EX02",
        )
    )
    rows.append(
        _session(
            201,
            "EX02",
            "FrontEnd",
            "receive",
            "08DC0000000REJ55",
            outcome="rejected",
            last_code=221,
            last_reply="221 2.0.0 Bye",
            error_code=550,
            detail="550 5.1.1 User unknown",
            connector="EX02\\Default Frontend EX02",
        )
    )
    rows.append(
        _session(
            202,
            "EX01",
            "FrontEnd",
            "receive",
            "08DC0000000DEF44",
            outcome="deferred",
            last_code=221,
            last_reply="221 2.0.0 Bye",
            error_code=451,
            detail="451 4.7.0 try later",
        )
    )
    rows.append(
        _session(
            203,
            "EX01",
            "FrontEnd",
            "receive",
            "08DC000000BAD666",
            ehlo=HOSTILE_EHLO,
            mail_from=HOSTILE_FROM,
            rcpt_to=[HOSTILE_DATA],
            message_ids=["<\x1b[2Jx@evil>"],
        )
    )
    return pl.DataFrame(rows, schema=SESSIONS)


def _transcript(row: dict[str, Any]) -> pl.DataFrame:
    ts = row["start"]
    hostile = row["session_id"] == "08DC000000BAD666"
    lines = [
        ("+", "", ""),
        (">", "220 EX01 Microsoft ESMTP MAIL Service ready", ""),
        ("<", f"EHLO {row['ehlo']}", ""),
        ("<", f"MAIL FROM:<{row['mail_from'] or ''}>", ""),
        ("*", HOSTILE_DATA if hostile else "08DC;2024-05-01T10:00:00.000Z;1", "receiving message"),
        ("<", "XPROXYFROM SID=08DC000000000A01 IP=203.0.113.9 PORT=4000", ""),
        (">", row["last_reply"] or "", ""),
        ("-", "", "Local"),
    ]
    return pl.DataFrame(
        {
            "file_id": [1] * len(lines),
            "line_no": list(range(6, 6 + len(lines))),
            "ts": [ts + timedelta(milliseconds=10 * i) for i in range(len(lines))],
            "server": row["server"],
            "service": row["service"],
            "direction": row["direction"],
            "connector": row["connector"],
            "session_id": row["session_id"],
            "seq": list(range(len(lines))),
            "local_ep": row["local_ep"],
            "remote_ep": row["remote_ep"],
            "event": [e for e, _, _ in lines],
            "data": [d for _, d, _ in lines],
            "context": [c for _, _, c in lines],
        },
        schema=LINES,
    )


#: A Message-ID no session carries that the fake's message tracking saw.
TRACKED_ONLY = "tracked-only@example.org"
TRACKED_INTERNAL = "42840000000077"  # its InternalId, in no session (message tracking's)
TRACKED_EVENT = TrackingEvent(
    ts=datetime(2024, 5, 1, 10, 5, tzinfo=UTC),
    server="EX02",
    event_id="DELIVER",
    source="STOREDRIVER",
    connector_id="",
    client_hostname="",
    server_hostname="EX02",
    sender_address="carol@example.org",
    recipient_address="dave@contoso.com",
    recipient_status="Inbox",
    internal_message_id="77",
)


class FakeIndex:
    """The LogIndex attributes the app reads, over fixed data."""

    def __init__(self, sessions: pl.DataFrame | None = None) -> None:
        self.sessions = sessions if sessions is not None else build_sessions()
        self.files = pl.DataFrame({"path": ["/logs/EX01/a.LOG"], "server": ["EX01"]})
        self.problems = pl.DataFrame(
            {
                "path": ["/logs/EX01/a.LOG"],
                "line": [7],
                "severity": ["error"],
                "reason": ["unbalanced quote"],
            },
            schema={
                "path": pl.String,
                "line": pl.UInt32,
                "severity": pl.String,
                "reason": pl.String,
            },
        )
        self.chain_calls: list[str] = []

    def transcript(self, key: str) -> pl.DataFrame:
        rows = self.sessions.filter(pl.col("key") == key)
        return _transcript(rows.row(0, named=True)) if rows.height else pl.DataFrame(schema=LINES)

    def chain(self, ident: str) -> Chain:
        self.chain_calls.append(ident)
        keys = [h.key for h in CHAIN_HOPS]
        if ident == CHAIN_HOPS[2].key:
            # The hub session carried two messages: one chain each (like the real linker).
            return Chain(ident=ident, error="2 messages", candidates=[f"{ident}#0", f"{ident}#1"])
        if ident == f"{CHAIN_HOPS[2].key}#1":
            return Chain(ident=ident, hops=[CHAIN_HOPS[2]], message_id="<second@x>")
        if ident == f"{CHAIN_HOPS[2].key}#0":
            ident = CHAIN_HOPS[2].key
        if ident in keys:
            return Chain(
                ident=ident,
                hops=list(CHAIN_HOPS),
                gaps=[CHAIN_GAP],
                message_id="<chain@example.org>",
                mail_from="alice@example.org",
                rcpt_to=["bob@contoso.com"],
                outcome="delivered",
            )
        if ident.strip("<>") in (TRACKED_ONLY, TRACKED_INTERNAL):  # message tracking only
            return Chain(
                ident=ident,
                message_id=f"<{TRACKED_ONLY}>",
                outcome="delivered",
                tracking=[TRACKED_EVENT],
            )
        rows = self.sessions.filter(pl.col("key") == ident)
        if rows.is_empty():
            return Chain(ident=ident, error=f"no session or message {ident}")
        row = rows.row(0, named=True)
        hop = _hop(
            row["server"],
            row["service"],
            row["direction"],
            row["connector"],
            row["session_id"],
            row["start"],
            row["end"],
        )
        return Chain(
            ident=ident,
            hops=[hop],
            mail_from=row["mail_from"],
            rcpt_to=row["rcpt_to"],
            outcome=row["outcome"],
        )

    def summary(self) -> dict[str, object]:
        return {"sessions": self.sessions.height}


class FakeClipboard:
    """Stands in for pyperclip and records OSC 52 copies."""

    def __init__(self, works: bool) -> None:
        self.works = works
        self.system: list[str] = []
        self.osc52: list[str] = []


def install_clipboard(monkeypatch: pytest.MonkeyPatch, works: bool) -> FakeClipboard:
    import pyperclip
    from textual.app import App

    fake = FakeClipboard(works)

    def copy(text: str) -> None:
        if not fake.works:
            raise pyperclip.PyperclipException("Pyperclip could not find a copy/paste mechanism")
        fake.system.append(text)

    def copy_to_clipboard(self: App[Any], text: str) -> None:
        fake.osc52.append(text)

    monkeypatch.setattr(pyperclip, "copy", copy)
    monkeypatch.setattr(App, "copy_to_clipboard", copy_to_clipboard)
    return fake


def screen_text(app: Any) -> str:
    """The current screen as plain text (what the admin reads), from the compositor."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


def screen_segments(app: Any) -> list[Any]:
    """Every rendered segment of the current screen (text and style)."""
    segments = []
    for strip in app.screen._compositor.render_strips():
        segments.extend(strip)
    return segments


async def settle(pilot: Any) -> None:
    """Wait until workers are done and their results are on screen (never sleep).

    The servers and connectors summaries start after the first frame (they must not delay
    it), so this also waits for them to be shown.
    """
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    screen = getattr(pilot.app, "main", None)
    for _ in range(100):
        if screen is None or screen.summaries_shown:
            break
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    await pilot.pause()


async def goto(pilot: Any, ident: str) -> None:
    """Use the go-to prompt (key i) like a user would."""
    from textual.widgets import Input

    from mailhops.app.screens.dialogs import PromptScreen

    await pilot.press("i")
    await pilot.pause()
    assert isinstance(pilot.app.screen, PromptScreen)
    pilot.app.screen.query_one(Input).value = ident
    await pilot.press("enter")
    await settle(pilot)


async def open_compare(pilot: Any, ident: str = "08DC000000000B02") -> Any:
    """Select ``ident`` and open the side-by-side view of its hop; returns its CompareView."""
    from mailhops.app.screens.compare import CompareScreen, CompareView

    await settle(pilot)
    await goto(pilot, ident)
    await pilot.press("v")
    await settle(pilot)
    assert isinstance(pilot.app.screen, CompareScreen)
    return pilot.app.screen.query_one(CompareView)
