"""The transcript pane: one session's lines in sequence order, coloured by event."""

from __future__ import annotations

from datetime import tzinfo

import polars as pl
from rich.text import Text

from mailhops.app.render import transcript_line
from mailhops.app.widgets.linelist import LineList
from mailhops.app.widgets.sessions import FrameWindow


class TranscriptView(LineList):
    """The LINES of one session (virtual: a multiplexed hub session can have many)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows = FrameWindow()
        self.zone: tzinfo | None = None
        self.message = "Select a session to see its transcript."
        self._width = 0

    def set_frame(self, frame: pl.DataFrame, message: str = "") -> None:
        """Show the transcript ``frame`` (LINES columns); ``message`` when it is empty."""
        self.rows = FrameWindow(frame)
        self.message = message or "No lines logged for this session."
        longest = 0
        if frame.height and "data" in frame.columns:
            lengths = frame.select(
                pl.col("data").str.len_chars().fill_null(0)
                + pl.col("context").str.len_chars().fill_null(0)
            )
            longest = int(lengths.max().item() or 0)
        self._width = min(longest + 40, 4000)
        self.reset(0)

    def row_count(self) -> int:
        return len(self.rows) or 1

    def content_width(self) -> int:
        return self._width

    def row_text(self, index: int) -> Text:
        row = self.rows.row(index)
        if row is None:
            return Text(self.message, style="dim italic")
        return transcript_line(row, self.zone)
