"""The main screen's actions that leave the panes: copy, export, go to, time range, compare."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from textual import work
from textual.worker import get_current_worker

from mailhops.app.clipboard import CopyResult, clean_multiline, system_copy
from mailhops.app.export import ExportError, export_frame
from mailhops.app.filters import FilterError, parse_time
from mailhops.app.render import hop_label
from mailhops.app.screens.compare import CompareScreen, merge_by_time
from mailhops.app.screens.dialogs import CopyPopup, PromptScreen
from mailhops.app.widgets.hopbar import HopBar, hop_key
from mailhops.app.widgets.sessions import FrameWindow, SessionsTable
from mailhops.index import schema
from mailhops.safe_text import clean

if TYPE_CHECKING:
    from mailhops.app.screens.main import MainScreen

    _Base = MainScreen
else:
    _Base = object


def chain_summary(chain: Any) -> str:
    """Return the ticket-ready text of ``chain`` (the same text as ``mailhops trace --text``)."""
    from mailhops.index.chain import render_text

    return str(render_text(chain))


class ActionsMixin(_Base):
    """Copy, export, go-to and compare actions of :class:`MainScreen`."""

    # --- copy -----------------------------------------------------------------------------
    def action_copy_id(self) -> None:
        """Copy the selected session id."""
        row = self.query_one(SessionsTable).row(self.query_one(SessionsTable).cursor)
        if row is None or self.current_key is None:
            self.notify("No session selected.", severity="warning")
            return
        session_id = self.current_key.rsplit("|", 1)[-1]
        self.copy_text(session_id, f"session id {clean(session_id)}")

    def action_copy_chain(self) -> None:
        """Copy the ticket-ready chain summary of the selected session."""
        chain = self.query_one(HopBar).chain
        if chain is None:
            self.notify("No chain resolved for this session yet.", severity="warning")
            return
        self.copy_text(chain_summary(chain), "the chain summary")

    def copy_text(self, text: str, what: str) -> CopyResult:
        """Copy ``text`` by every channel there is, show the pop-up and say what happened."""
        safe = clean_multiline(text)
        error = system_copy(safe)
        self.app.copy_to_clipboard(safe)
        result = CopyResult(what, safe, system=error is None, osc52=True, system_error=error)
        self.app.push_screen(CopyPopup(f"Copied {what}", safe))
        self.notify(result.message(), title="Copy", markup=False)
        return result

    # --- export ---------------------------------------------------------------------------
    def action_export(self) -> None:
        """Ask for a file name, then export the filtered sessions."""
        default = str(Path.cwd() / "mailhops-sessions.csv")
        prompt = PromptScreen(
            "Export the filtered sessions to (.csv, .json, .parquet):", value=default
        )
        self.app.push_screen(prompt, self._export_to)

    def _export_to(self, answer: str | None) -> None:
        if answer:
            self._export_worker(self.query_one(SessionsTable).rows, Path(answer))

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _export_worker(self, shown: FrameWindow, path: Path) -> None:
        roots = [Path(p) for p in self.log_roots]
        frame = shown.materialize()
        try:
            written = export_frame(frame, path, roots)
        except ExportError as exc:
            self.app.call_from_thread(
                self.notify, str(exc), title="Export", severity="error", markup=False
            )
            return
        self.app.call_from_thread(
            self.notify,
            f"Exported {frame.height:,} sessions to {written}",
            title="Export",
            markup=False,
        )

    # --- go to ------------------------------------------------------------------------------
    def action_goto_id(self) -> None:
        """Ask for a session id, Message-ID or InternalId and go there."""
        prompt = PromptScreen(
            "Go to a session id, Message-ID or InternalId:",
            placeholder="08DC... or <id@host> or 12345",
        )
        self.app.push_screen(prompt, self.goto_ident)

    def goto_ident(self, ident: str | None) -> None:
        """Select the earliest session matching ``ident`` (session id, Message-ID, InternalId).

        The search runs in a worker: over a million sessions it can take a few hundred ms
        (an id in no session's exact spelling), and keys must not wait for it."""
        if ident:
            self._goto_worker(ident)

    @work(thread=True, exclusive=True, group="goto", exit_on_error=False)
    def _goto_worker(self, ident: str) -> None:
        hits = find_ident(self.sessions, ident)
        if not get_current_worker().is_cancelled:  # a later go-to replaced this one
            self.app.call_from_thread(self._goto_found, ident, hits)

    def _goto_found(self, ident: str, hits: pl.DataFrame) -> None:
        tracked = schema.is_message_id(ident) or ident.strip().isdigit()  # or an InternalId
        if hits.is_empty() and tracked:  # known to message tracking only?
            self._tracked_worker(ident.strip())
            return
        if hits.is_empty():
            self.notify(f"No session with id {clean(ident)}", severity="warning", markup=False)
            return
        if hits.height > 1:
            self.notify(f"{hits.height} sessions match; showing the earliest.", markup=False)
        self.goto_key(hits["key"][0])

    @work(thread=True, exclusive=True, group="tracked", exit_on_error=False)
    def _tracked_worker(self, ident: str) -> None:
        """Ask the message tracking logs (a scan of their Message-ID column) for ``ident``."""
        found = self.index.chain(ident)
        tracked = found if found.ok and getattr(found, "tracking", None) else None
        self.app.call_from_thread(self._show_tracked, ident, tracked)

    def _show_tracked(self, ident: str, tracked: Any) -> None:
        if tracked is None:
            self.notify(f"No session with id {clean(ident)}", severity="warning", markup=False)
            return
        title = "No session has this message; message tracking saw it"
        self.app.push_screen(CopyPopup(title, clean_multiline(chain_summary(tracked))))

    def action_time_range(self) -> None:
        """Ask for a UTC time range and filter the sessions to it."""
        prompt = PromptScreen(
            "Time range (UTC unless an offset is given): FROM [TO]",
            placeholder="2024-05-01T10:00 2024-05-01T11:00",
        )
        self.app.push_screen(prompt, self._time_range)

    def _time_range(self, answer: str | None) -> None:
        if answer is None:
            return
        words = answer.split()
        try:
            start = parse_time(words[0]) if words else None
            end = parse_time(words[1]) if len(words) > 1 else None
        except FilterError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.apply_filter(replace(self.filter, start=start, end=end))

    # --- side by side -------------------------------------------------------------------------
    def action_compare(self) -> None:
        """Show both ends of the hop under the hop bar cursor, aligned by time."""
        bar = self.query_one(HopBar)
        hops = bar.hops()
        keys = [hop_key(h) for h in hops]
        key = bar.entry_key(bar.cursor) or self.current_key
        if key not in keys or len(hops) < 2:
            self.notify("Select a session with at least two hops.", severity="warning")
            return
        i = keys.index(key)
        pair = (hops[i], hops[i + 1]) if i + 1 < len(hops) else (hops[i - 1], hops[i])
        self._compare_worker(pair[0], pair[1])

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _compare_worker(self, left: Any, right: Any) -> None:
        merged = merge_by_time(
            self.index.transcript(hop_key(left)), self.index.transcript(hop_key(right))
        )
        screen = CompareScreen(hop_label(left), hop_label(right), merged)
        self.app.call_from_thread(self.app.push_screen, screen)


def find_ident(sessions: pl.DataFrame, ident: str) -> pl.DataFrame:
    """Return ``key``, ``session_id`` and ``start`` of the sessions whose key, session id,
    Message-ID or InternalId is ``ident``, earliest first.

    The id as written (a session id also in upper case, a Message-ID also in angle brackets)
    is looked for first; only when no session has it are the ids compared ignoring case,
    which lower-cases every id of every session (~0.3 s over a million). Only the three
    columns are gathered: a filter of whole rows copies every list of every match."""
    value = ident.strip()
    low = value.lower()
    bare = low.strip("<>")
    exact = (
        (pl.col("key") == value)
        | pl.col("session_id").is_in([value, value.upper()])
        | pl.col("message_ids").list.contains(schema.message_id(value))
        | pl.col("internal_ids").list.contains(value)
    )
    folded = (
        (pl.col("key").str.to_lowercase() == low)
        | (pl.col("session_id").str.to_lowercase() == low)
        | pl.col("message_ids")
        .list.eval(pl.element().str.to_lowercase().str.strip_chars("<>") == bare)
        .list.any()
        | pl.col("internal_ids").list.eval(pl.element().str.to_lowercase() == low).list.any()
    )

    def matching(match: pl.Expr) -> pl.DataFrame:
        return (
            sessions.lazy()
            .filter(match.fill_null(False))
            .select("key", "session_id", "start")
            .sort("start", nulls_last=True, maintain_order=True)
            .collect()
        )

    hits = matching(exact)
    return hits if not hits.is_empty() else matching(folded)
