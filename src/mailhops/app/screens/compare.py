"""Side by side: the two ends of one hop (send on one server, receive on the next), by time.

Each half truncates its lines to fit; the line under the cursor is shown whole, wrapped,
in the detail bar below (lnav's and VisiData's way of reading a cut row)."""

from __future__ import annotations

from typing import ClassVar

import polars as pl
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from mailhops.app.render import transcript_line
from mailhops.app.widgets.linelist import LineList
from mailhops.app.widgets.sessions import FrameWindow

_COLUMNS = ["ts", "seq", "event", "data", "context"]


def merge_by_time(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    """Return both transcripts as one frame ordered by time, with ``side`` 0 (left) or 1."""
    parts = [
        frame.select([c for c in _COLUMNS if c in frame.columns]).with_columns(
            pl.lit(side, pl.Int8).alias("side")
        )
        for side, frame in ((0, left), (1, right))
        if frame.height
    ]
    if not parts:
        return pl.DataFrame()
    return pl.concat(parts, how="diagonal_relaxed").sort(
        "ts", "side", "seq", nulls_last=True, maintain_order=True
    )


class CompareView(LineList):
    """Two columns; each row is one line of one side, placed at its time."""

    def __init__(self, merged: pl.DataFrame) -> None:
        super().__init__(id="compare-view")
        self.rows = FrameWindow(merged)

    def row_count(self) -> int:
        return len(self.rows)

    def row_text(self, index: int) -> Text:
        row = self.rows.row(index)
        if row is None:
            return Text()
        half = max(20, (self.scrollable_content_region.width - 3) // 2)
        line = transcript_line(row)
        line.truncate(half, overflow="ellipsis", pad=True)
        blank = Text(" " * half)
        left, right = (line, blank) if row["side"] == 0 else (blank, line)
        return Text.assemble(left, (" │ ", "dim"), right, end="")


class CompareScreen(Screen[None]):
    """The send side and the receive side of one hop, aligned by time."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,v", "close", "Close", tooltip="Back to the sessions", id="compare_close")
    ]

    def __init__(self, left: Text, right: Text, merged: pl.DataFrame) -> None:
        super().__init__()
        self.left = left
        self.right = right
        self.merged = merged

    def compose(self) -> ComposeResult:
        with Horizontal(id="compare-titles"):
            yield Label(self.left, classes="compare-title")
            yield Label(self.right, classes="compare-title")
        yield CompareView(self.merged)
        yield Static(Text(""), id="compare-detail")
        yield Footer()

    def on_mount(self) -> None:
        view = self.query_one(CompareView)
        view.reset(0)
        view.focus()
        self._show_detail(0)

    def on_line_list_cursor_moved(self, event: LineList.CursorMoved) -> None:
        """Show the cursor's line whole below the two columns."""
        self._show_detail(event.index)

    def _show_detail(self, index: int) -> None:
        row = self.query_one(CompareView).rows.row(index) if index >= 0 else None
        detail = Text("")
        if row is not None:
            label = self.left if row["side"] == 0 else self.right
            side = " ".join(label.plain.split()[:4])  # server, stream, session id
            detail = Text.assemble((side, "bold"), "  ", transcript_line(row))
        self.query_one("#compare-detail", Static).update(detail)

    def action_close(self) -> None:
        """Return to the main screen."""
        self.dismiss(None)
