"""The sessions pane: a virtual table over a polars frame, one row per session.

No widget holds the rows: the pane keeps the sessions frame plus the row numbers the filter
selected, and pulls a window of a few hundred rows around what is on screen, formatting only
those. A million sessions scroll like forty.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any, ClassVar

import polars as pl
from rich.text import Text
from textual.binding import Binding, BindingType

from mailhops.app.render import SESSION_COLUMNS, join_cells, session_cells, session_header
from mailhops.app.widgets.linelist import LineList
from mailhops.index.model import KeyIndex

__all__ = ["FrameWindow", "KeyIndex", "SessionsTable", "view_of"]

WINDOW = 256
#: The SESSIONS columns the pane draws (``session_cells``) plus the key.
VIEW_COLUMNS = (
    "key",
    "start",
    "outcome",
    "server",
    "service",
    "direction",
    "session_id",
    "remote_ep",
    "ehlo",
    "mail_from",
    "rcpt_to",
    "message_ids",
)


def view_of(sessions: pl.DataFrame) -> pl.DataFrame:
    """The columns the sessions pane draws, each list column in one piece.

    A frame read from Parquet comes in one chunk per row group, and gathering a few hundred
    rows of a chunked list column walks the whole column (~10 ms a column at 1M sessions, on
    every window the pane fetches); in one chunk the same gather is ~0.1 ms. Only the list
    columns are rechunked (~20 ms); the others gather fast as they are.
    """
    view = sessions.select(c for c in VIEW_COLUMNS if c in sessions.columns)
    lists = [view[c].rechunk() for c, t in view.schema.items() if isinstance(t, pl.List)]
    return view.with_columns(lists) if lists else view


class FrameWindow:
    """Rows of a polars frame fetched a window at a time (only what the screen needs).

    ``rows`` (optional) are the frame's row numbers to show, in order: a filter then costs
    one boolean column, not a copy of every selected row. ``view`` (optional) is the frame
    the rows are drawn from (the same rows, fewer columns: :func:`view_of`).
    """

    def __init__(
        self,
        frame: pl.DataFrame | None = None,
        rows: pl.Series | None = None,
        view: pl.DataFrame | None = None,
    ) -> None:
        self.frame = frame if frame is not None else pl.DataFrame()
        self.rows = rows
        self.view = view if view is not None else self.frame
        self._start = 0
        self._cache: list[dict[str, Any]] = []
        self._ascending: bool | None = None  # rows in ascending order (index_of), when known

    def __len__(self) -> int:
        return self.frame.height if self.rows is None else self.rows.len()

    def row(self, index: int) -> dict[str, Any] | None:
        """Return row ``index`` as a dict, or None when out of range."""
        if not 0 <= index < len(self):
            return None
        offset = index - self._start
        if not 0 <= offset < len(self._cache):
            self._start = max(0, index - WINDOW // 2)
            self._cache = self._slice(self._start, WINDOW).to_dicts()
            offset = index - self._start
        return self._cache[offset]

    def _slice(self, start: int, length: int) -> pl.DataFrame:
        if self.rows is None:
            return self.view.slice(start, length)
        return self.view[self.rows.slice(start, length)]

    def _position(self, row: int) -> int | None:
        """Position of frame row ``row`` among the shown rows, or None when not shown.

        Rows in frame order (what a filter over sessions in time order selects) are found by
        binary search; a scan of every shown row took 1-3 ms at 1M sessions, on each hop jump.
        """
        assert self.rows is not None
        if self._ascending is None:
            self._ascending = self.rows.null_count() == 0 and self.rows.is_sorted()
        if not self._ascending:
            pos = self.rows.index_of(row)
            return None if pos is None else int(pos)
        pos = int(self.rows.search_sorted(row, side="left"))
        return pos if pos < self.rows.len() and self.rows[pos] == row else None

    def materialize(self) -> pl.DataFrame:
        """Return the shown rows as a frame (for an export)."""
        return self.frame if self.rows is None else self.frame[self.rows]

    def index_of(self, column: str, value: object, keys: KeyIndex | None = None) -> int | None:
        """Return the position of the first shown row whose ``column`` equals ``value``.

        ``keys`` (a :class:`KeyIndex` of ``column``) finds the row without a scan.
        """
        if keys is not None and isinstance(value, str):
            row = keys.row(value)
            if row is None:
                return None
            if self.rows is None:
                return row
            return self._position(row)
        hits = self.frame.select(pl.arg_where(pl.col(column) == value)).to_series()
        if hits.is_empty():
            return None
        if self.rows is None:
            return int(hits[0])
        for hit in hits:
            pos = self._position(hit)
            if pos is not None:
                return pos
        return None


class SessionsTable(LineList):
    """Rows of the SESSIONS frame (ordered by the screen, narrowed by the filter)."""

    HAS_HEADER: ClassVar[bool] = True
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
        self.keys: KeyIndex | None = None  # of the frame shown (see set_frame)
        self.zone: tzinfo | None = None
        self._width = sum(width + 1 for _, width in SESSION_COLUMNS)
        self._header: Text | None = None

    def set_frame(
        self,
        frame: pl.DataFrame,
        cursor: int = 0,
        rows: pl.Series | None = None,
        view: pl.DataFrame | None = None,
        keys: KeyIndex | None = None,
    ) -> None:
        """Show ``frame`` (SESSIONS columns), only ``rows`` of it when given.

        ``view`` (``view_of(frame)``) and ``keys`` (``KeyIndex`` of its keys) are passed when
        the caller has them (built once, off the UI thread).
        """
        self.rows = FrameWindow(frame, rows, view)
        self.keys = keys
        self.reset(cursor)

    @property
    def frame(self) -> pl.DataFrame:
        """The sessions shown (filtered), as a frame."""
        return self.rows.materialize()

    def set_zone(self, zone: tzinfo | None) -> None:
        """Show times in ``zone`` (None: UTC)."""
        self.zone = zone
        self._header = None
        self.reset(self.cursor)

    def row_count(self) -> int:
        return len(self.rows)

    def content_width(self) -> int:
        return self._width

    def header_text(self) -> Text:
        if self._header is None:
            header = session_header()
            if self.zone is not None:
                first = SESSION_COLUMNS[0][1]
                header = Text("Start (local)".ljust(first), style="bold") + header[first:]
            self._header = header
        return self._header

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
        """Return the row of session ``key`` in the shown rows, or None when filtered out."""
        return self.rows.index_of("key", key, self.keys)

    def action_open(self) -> None:
        """Enter: move the focus to the hop bar, to pick a hop of this session's chain."""
        self.screen.query_one("#hops").focus()
