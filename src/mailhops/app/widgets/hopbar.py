"""The hop bar: the selected session's chain, one hop (or gap) a line, the current one marked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from mailhops.app.render import hop_label
from mailhops.app.widgets.linelist import LineList
from mailhops.index import schema
from mailhops.index.schema import session_key
from mailhops.safe_text import clean


def hop_key(hop: Any) -> str:
    """Return the session key of one chain hop."""
    key = getattr(hop, "key", None)
    if key:
        return str(key)
    return session_key(hop.server, hop.service, hop.direction, hop.session_id)


@dataclass(frozen=True)
class Entry:
    """One line of the hop bar: a hop (``hop`` set, ``position`` in the chain) or a gap."""

    hop: Any = None
    position: int = -1
    gap: Any = None
    side: bool = False
    hint: bool = False  # the second line of a gap: the command that enables the log


def chain_entries(chain: Any) -> list[Entry]:
    """Return the hop bar lines of ``chain``: hops in order, gaps after the hop they follow."""
    hops = list(getattr(chain, "hops", []) or [])
    gaps = list(getattr(chain, "gaps", []) or [])
    entries = [e for gap in gaps if _gap_after(gap) < 0 for e in _gap_entries(gap)]
    for position, hop in enumerate(hops):
        entries.append(Entry(hop=hop, position=position))
        entries.extend(e for gap in gaps if _gap_after(gap) == position for e in _gap_entries(gap))
    entries.extend(Entry(hop=hop, side=True) for hop in getattr(chain, "side", []) or [])
    return entries


def _gap_entries(gap: Any) -> list[Entry]:
    hint = [Entry(gap=gap, hint=True)] if getattr(gap, "hint", "") else []
    return [Entry(gap=gap), *hint]


def _gap_after(gap: Any) -> int:
    after = getattr(gap, "after", -1)
    return after if isinstance(after, int) else -1


class HopBar(LineList):
    """Every session linked to the selected one, upstream and downstream, in time order."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter,o",
            "open_hop",
            "Open hop",
            tooltip="Open the hop under the cursor",
            id="open_hop",
        ),
    ]

    class OpenHop(Message):
        """The user asked to open the session of one hop."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.chain: Any = None
        self.entries: list[Entry] = []
        self.current_key: str | None = None
        self.zone: tzinfo | None = None
        self.message = "No session selected."

    def set_chain(self, chain: Any, current_key: str | None, message: str = "") -> None:
        """Show ``chain`` with ``current_key`` marked; the cursor goes to the current hop.

        The same chain again (a hop jump along it, the cursor over its sessions) only moves
        the marker: two lines are redrawn, not the bar. The same chain is one drawn alike: each
        hop's chain is resolved from that hop (its ``ident`` differs) with the same hops.
        """
        message = message or "No linked sessions."
        entries = chain_entries(chain) if chain is not None else []
        same = (
            chain is not None
            and self.chain is not None
            and message == self.message
            and (
                chain is self.chain
                or (entries == self.entries and _outcome(chain) == _outcome(self.chain))
            )
        )
        self.chain = chain
        self.entries = entries
        if same:
            self._mark(current_key)
            return
        self.current_key = current_key
        self.message = message
        self.reset(self.current_entry() or 0)
        self.border_subtitle = Text(self._subtitle())

    def _mark(self, current_key: str | None) -> None:
        old = self.current_entry()
        self.current_key = current_key
        new = self.current_entry()
        for index in {old, new}:
            if index is not None:
                self.refresh_row(index)
        self.cursor = new or 0

    def current_entry(self) -> int | None:
        """Return the entry index of the current session's hop."""
        for index, entry in enumerate(self.entries):
            if entry.hop is not None and hop_key(entry.hop) == self.current_key:
                return index
        return None

    def hops(self) -> list[Any]:
        """The chain's hops in order (not gaps, not side branches)."""
        return [e.hop for e in self.entries if e.hop is not None and not e.side]

    def entry_key(self, index: int) -> str | None:
        """Return the session key of the hop at entry ``index`` (None for a gap)."""
        if 0 <= index < len(self.entries) and self.entries[index].hop is not None:
            return hop_key(self.entries[index].hop)
        return None

    def row_count(self) -> int:
        return len(self.entries) or 1

    def content_width(self) -> int:
        return 160

    def row_text(self, index: int) -> Text:
        if not self.entries:
            return Text(self.message, style="dim italic")
        entry = self.entries[index]
        if entry.gap is not None:
            return _gap_text(entry.gap, entry.hint)
        is_current = hop_key(entry.hop) == self.current_key
        marker = "● " if is_current else "  "
        number = "side " if entry.side else f"{entry.position + 1:>2}. "
        line = Text.assemble((marker, "bold green"), (number, "dim"), end="")
        line.append_text(hop_label(entry.hop, self.zone, connector=False))
        code = getattr(entry.hop, "code", None)
        if isinstance(code, int) and code >= 400:
            # A failed hop: the reply that failed it, before the (long) connector name.
            reply = clean(str(getattr(entry.hop, "reply", "") or code))
            line.append(f" ✗ {reply}", style="bold red" if code >= 500 else "bold yellow")
        line.append(" " + clean(entry.hop.connector), style="dim italic")
        return line

    def _subtitle(self) -> str:
        if self.chain is None:
            return ""
        hops = len(self.hops())
        gaps = sum(1 for e in self.entries if e.gap is not None and not e.hint)
        outcome = _outcome(self.chain)
        text = f"{hops} hop{'s' * (hops != 1)}"
        text += f", {gaps} gap{'s' * (gaps != 1)}" if gaps else ""
        return f"{text}, {outcome}" if outcome else text

    def action_open_hop(self) -> None:
        """Open the session of the hop under the cursor."""
        key = self.entry_key(self.cursor)
        if key is not None:
            self.post_message(self.OpenHop(key))


def _outcome(chain: Any) -> str:
    """The chain's outcome as the bar's subtitle shows it; a failure with the line that
    tells why (the 5xx reply, the TLS failure ...), as the ticket summary does."""
    outcome = str(getattr(chain, "outcome", "") or "")
    detail = str(getattr(chain, "outcome_detail", "") or "")
    if outcome in schema.FAILED_OUTCOMES and detail:
        return clean(f"{outcome}: {detail}")
    return clean(outcome)


def _gap_text(gap: Any, hint: bool) -> Text:
    if hint:
        return Text.assemble(
            ("       enable with: ", "dim"), (clean(str(gap.hint)), "italic"), end=""
        )
    stream = clean(str(getattr(gap, "stream", "") or "log"))
    server = clean(str(getattr(gap, "server", "") or "unknown server"))
    sid = clean(str(getattr(gap, "session_id", "") or ""))
    line = Text.assemble(("  ⚠  gap: ", "bold yellow"), f"{stream} on {server} not logged", end="")
    if sid:
        line.append(f" (session {sid})", style="dim")
    return line
