"""The sessions pane: a virtual table over a polars frame, one row per session.

No widget holds the rows: the pane keeps the (filtered) frame and pulls a window of a few
hundred rows around what is on screen, formatting only those. A million sessions scroll like
forty.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any, ClassVar

import polars as pl
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType

from mailhops.app.render import SESSION_COLUMNS, join_cells, session_cells, session_header
from mailhops.app.widgets.linelist import LineList

WINDOW = 256


class FrameWindow:
    """Rows of a polars frame fetched a window at a time (only what the screen needs)."""

    def __init__(self, frame: pl.DataFrame | None = None) -> None:
        self.frame = frame if frame is not None else pl.DataFrame()
        self._start = 0
        self._rows: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return self.frame.height

    def row(self, index: int) -> dict[str, Any] | None:
        """Return row ``index`` as a dict, or None when out of range."""
        if not 0 <= index < self.frame.height:
            return None
        offset = index - self._start
        if not 0 <= offset < len(self._rows):
            self._start = max(0, index - WINDOW // 2)
            self._rows = self.frame.slice(self._start, WINDOW).to_dicts()
            offset = index - self._start
        return self._rows[offset]


class SessionsTable(LineList):
    """Rows of the SESSIONS frame (already filtered and ordered by the screen)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "open",
            "Open",
            show=False,
            tooltip="Load the selected session",
            id="open_session",
        ),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows = FrameWindow()
        self.zone: tzinfo | None = None
        self._width = sum(width + 1 for _, width in SESSION_COLUMNS)

    def set_frame(self, frame: pl.DataFrame, cursor: int = 0) -> None:
        """Show ``frame`` (SESSIONS columns) and put the cursor on row ``cursor``."""
        self.rows = FrameWindow(frame)
        self.reset(cursor)

    @property
    def frame(self) -> pl.DataFrame:
        """The frame shown (filtered sessions)."""
        return self.rows.frame

    def set_zone(self, zone: tzinfo | None) -> None:
        """Show times in ``zone`` (None: UTC)."""
        self.zone = zone
        self._strips.clear()
        self.refresh()

    def row_count(self) -> int:
        return self.frame.height

    def content_width(self) -> int:
        return self._width

    def header_text(self) -> Text:
        header = session_header()
        if self.zone is not None:
            header = (
                Text("Start (local)".ljust(SESSION_COLUMNS[0][1]), style="bold")
                + header[SESSION_COLUMNS[0][1] :]
            )
        return header

    def row(self, index: int) -> dict[str, Any] | None:
        """Return row ``index`` as a dict (from the window cache), or None when out of range."""
        return self.rows.row(index)

    def row_text(self, index: int) -> Text:
        row = self.row(index)
        return join_cells(session_cells(row, self.zone)) if row else Text()

    @property
    def current_key(self) -> str | None:
        """The session key under the cursor."""
        row = self.row(self.cursor)
        return None if row is None else row["key"]

    def index_of(self, key: str) -> int | None:
        """Return the row of session ``key`` in the shown frame, or None when filtered out."""
        if self.frame.is_empty():
            return None
        hits = self.frame.select(pl.arg_where(pl.col("key") == key)).to_series()
        return int(hits[0]) if hits.len() else None

    def action_open(self) -> None:
        """Enter: re-announce the cursor row (the screen treats it as a navigation)."""
        self.post_message(self.CursorMoved(self, self.cursor))

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self.scroll_cursor_visible()
