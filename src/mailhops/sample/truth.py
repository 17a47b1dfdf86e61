"""Ground truth of a generated corpus: which files, sessions and hops exist.

Written as JSON Lines to ``<out>/truth/{files,sessions,messages}.jsonl`` and returned in
memory as :class:`Truth`. Hops are protocol-log sessions in path order; sessions whose stream
is disabled are not hops but ``gaps`` after the last logged hop before them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailhops.sample.core import Session

JsonDict = dict[str, Any]


@dataclass
class Mail:
    """One simulated message and the sessions that carried it."""

    message_id: str
    sender: str
    recipients: list[str]
    flow: str  # inbound|outbound|client|internal
    size: int
    subject: str
    outcome: str = "delivered"
    id_logged: bool = True  # False when the transaction never reached DATA/BDAT
    hops: list[tuple[Session, int]] = field(default_factory=list)
    side: list[tuple[Session, int]] = field(default_factory=list)
    internal_ids: dict[str, str] = field(default_factory=dict)

    def hop(self, session: Session | None, msg: int) -> None:
        """Append a hop (``msg`` = ordinal of the MAIL FROM in that session, -1 = none)."""
        if session is not None:
            self.hops.append((session, msg))


@dataclass
class Truth:
    """The ground truth: one dict per file, per logged session and per message."""

    files: list[JsonDict]
    sessions: list[JsonDict]
    messages: list[JsonDict]

    def write(self, folder: Path) -> None:
        """Write ``files.jsonl``, ``sessions.jsonl`` and ``messages.jsonl`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, rows in (
            ("files", self.files),
            ("sessions", self.sessions),
            ("messages", self.messages),
        ):
            text = "".join(json.dumps(row, sort_keys=False) + "\n" for row in rows)
            (folder / f"{name}.jsonl").write_text(text, encoding="utf-8", newline="\n")

    @classmethod
    def read(cls, folder: Path) -> Truth:
        """Load a truth folder written by :meth:`write`."""

        def load(name: str) -> list[JsonDict]:
            """One JSON Lines file as a list of dicts."""
            text = (folder / f"{name}.jsonl").read_text(encoding="utf-8")
            return [json.loads(line) for line in text.splitlines() if line]

        return cls(load("files"), load("sessions"), load("messages"))


def _hop(session: Session, msg: int) -> JsonDict:
    return {
        "server": session.server,
        "service": session.service,
        "direction": session.direction,
        "session_id": session.session_id,
        "connector": session.connector,
        "msg": msg,
    }


def message_record(mail: Mail) -> JsonDict:
    """The truth record of one message (gaps for hops whose stream was not logged)."""
    hops: list[JsonDict] = []
    gaps: list[JsonDict] = []
    for session, msg in mail.hops:
        if session.logged:
            hops.append(_hop(session, msg))
        else:
            gaps.append(
                {"after": len(hops) - 1, "stream": session.stream, "server": session.server}
            )
    return {
        "message_id": mail.message_id if mail.id_logged else None,
        "sender": mail.sender,
        "recipients": mail.recipients,
        "flow": mail.flow,
        "outcome": mail.outcome,
        "hops": hops,
        "side": [_hop(s, m) for s, m in mail.side if s.logged],
        "gaps": gaps,
        "internal_ids": mail.internal_ids,
    }


def session_record(session: Session) -> JsonDict:
    """The truth record of one logged session."""
    return {
        "server": session.server,
        "service": session.service,
        "direction": session.direction,
        "session_id": session.session_id,
        "connector": session.connector,
        "lines": session.lines,
        "outcome": session.outcome,
        "noise": session.noise,
        "message_ids": session.message_ids,
    }
