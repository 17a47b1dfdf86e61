"""The transcript pane: one session's lines in sequence order, coloured by event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

import polars as pl
from rich.text import Text
from textual import events

from mailhops.app.render import transcript_line
from mailhops.app.widgets.linelist import LineList
from mailhops.app.widgets.sessions import FrameWindow

#: Lines of a transcript drawn ahead by the worker that loads it, until the pane has a size
#: (then: the lines it shows; the worker's drawing holds the GIL beside the frames drawn).
AHEAD = 64


@dataclass(frozen=True)
class Drawn:
    """A transcript's width and its first lines, made off the UI thread (:func:`draw`)."""

    zone: tzinfo | None
    width: int
    lines: list[Text]


def width_of(frame: pl.DataFrame) -> int:
    """The scrollable width of a transcript: its longest data + context, and the prefix."""
    longest = 0
    if frame.height and "data" in frame.columns:
        lengths = frame.select(
            pl.col("data").str.len_chars().fill_null(0)
            + pl.col("context").str.len_chars().fill_null(0)
        )
        longest = int(lengths.max().item() or 0)
    return min(longest + 40, 4000)


def draw(frame: pl.DataFrame, zone: tzinfo | None, lines: int = AHEAD) -> Drawn:
    """What the pane computes for a new transcript, done by the worker that loaded it:
    its width and its first ``lines`` lines (the pane draws any further one it scrolls to)."""
    head = frame.head(lines).to_dicts() if frame.height else []
    return Drawn(zone, width_of(frame), [transcript_line(row, zone) for row in head])


class TranscriptView(LineList):
    """The LINES of one session (virtual: a multiplexed hub session can have many)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows = FrameWindow()
        self.zone: tzinfo | None = None
        self.message = "Select a session to see its transcript."
        self._width = 0
        self._drawn: list[Text] = []
        self._drawn_zone: tzinfo | None = None
        #: Lines on show (a plain int: the loading worker reads it to draw as many ahead).
        self.lines_shown = AHEAD

    def set_frame(self, frame: pl.DataFrame, message: str = "", drawn: Drawn | None = None) -> None:
        """Show the transcript ``frame`` (LINES columns); ``message`` when it is empty.

        ``drawn`` (:func:`draw` of the frame, in the pane's time zone) saves the pane the work.
        """
        self.rows = FrameWindow(frame)
        self.message = message or "No lines logged for this session."
        if drawn is not None and drawn.zone == self.zone:
            self._drawn, self._width = drawn.lines, drawn.width
        else:
            self._drawn, self._width = [], width_of(frame)
        self._drawn_zone = self.zone
        self.reset(0)

    def row_count(self) -> int:
        return len(self.rows) or 1

    def content_width(self) -> int:
        return self._width

    def on_resize(self, event: events.Resize) -> None:
        super().on_resize(event)
        self.lines_shown = max(1, self.size.height)

    def reset(self, cursor: int = 0) -> None:
        if self._drawn_zone != self.zone:  # the times were drawn in another zone
            self._drawn, self._drawn_zone = [], self.zone
        super().reset(cursor)

    def row_text(self, index: int) -> Text:
        if index < len(self._drawn):
            return self._drawn[index]
        row = self.rows.row(index)
        if row is None:
            return Text(self.message, style="dim italic")
        return transcript_line(row, self.zone)
