"""A virtual list with a cursor: the Line API base of the sessions, transcript and hop panes.

Only the lines on screen are rendered (``render_line``), each row's ``Strip`` is cached, and
the rows themselves come from the subclass (``row_count`` / ``row_text``), so a pane over a
million sessions costs what a pane over forty costs. A sticky header line is optional.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


class LineList(ScrollView, can_focus=True):
    """Base class: a scrollable list of one-line rows with a highlighted cursor row."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"linelist--cursor", "linelist--header"}
    DEFAULT_CSS = """
    LineList { background: $surface; }
    LineList > .linelist--cursor { background: $panel; }
    LineList:focus > .linelist--cursor { background: $accent 50%; text-style: bold; }
    LineList > .linelist--header { text-style: bold; background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="cursor_up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="cursor_down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="page_down"),
        Binding("home,g", "first", "First row", show=False, id="first_row"),
        Binding("end,G", "last", "Last row", show=False, id="last_row"),
    ]

    # No repaint on set: watch_cursor redraws just the two rows (or the page when it scrolled).
    cursor: reactive[int] = reactive(0, always_update=True, init=False, repaint=False)
    #: True when the subclass shows a sticky header line (``header_text``).
    HAS_HEADER: ClassVar[bool] = False

    class CursorMoved(Message):
        """The cursor row changed (``index`` is the row, -1 for an empty list)."""

        def __init__(self, sender: LineList, index: int) -> None:
            super().__init__()
            self.list = sender
            self.index = index

        @property
        def control(self) -> LineList:
            """The list that moved (for ``@on(..., selector)``)."""
            return self.list

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._strips: LRUCache[tuple[int, bool], Strip] = LRUCache(512)
        self._header_strip: Strip | None = None
        self._style: Style | None = None

    # --- what subclasses provide ---------------------------------------------------------
    def row_count(self) -> int:
        """Return the number of rows."""
        return 0

    def row_text(self, index: int) -> Text:
        """Return row ``index`` as one line of ``Text``."""
        raise NotImplementedError

    def header_text(self) -> Text | None:
        """Return the sticky header line, or None for no header."""
        return None

    def content_width(self) -> int:
        """Return the width of the widest row (for horizontal scrolling)."""
        return 0

    # --- state ----------------------------------------------------------------------------
    @property
    def header_lines(self) -> int:
        """1 when a header line is shown."""
        return 1 if self.HAS_HEADER else 0

    def clear_cache(self) -> None:
        """Drop every cached line (after a change of data, width, style or time zone)."""
        self._strips.clear()
        self._header_strip = None
        self._style = None

    def refresh_row(self, index: int) -> None:
        """Redraw row ``index`` (its content changed): drop its cached lines, repaint it."""
        self._strips.discard((index, True))
        self._strips.discard((index, False))
        self.refresh_line(index + self.header_lines)

    def _base_style(self) -> Style:
        # rich_style walks every ancestor; a pane draws dozens of lines per refresh.
        if self._style is None:
            self._style = self.rich_style
        return self._style

    def reset(self, cursor: int = 0) -> None:
        """Call after the rows changed: drop cached lines, resize, move the cursor."""
        self.clear_cache()
        count = self.row_count()
        self._set_virtual_size(Size(self.content_width(), count + self.header_lines))
        self.cursor = max(0, min(cursor, count - 1))
        self.refresh()

    def _set_virtual_size(self, size: Size) -> None:
        """Change the scrollable size, laying out the screen only when a scrollbar comes or goes.

        Assigning ``virtual_size`` lays out the whole screen (tens of ms on the main screen, once
        for every session selected); the rows themselves only need a repaint. A scrollbar that
        appears or goes away still asks for the layout (``show_*_scrollbar`` do that).
        """
        if size == self.virtual_size:
            return
        if not self.is_mounted or not self.container_size:
            self.virtual_size = size
            return
        self.set_reactive(LineList.virtual_size, size)
        self._scroll_update(size)

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, self.row_count() - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        # Strips are cached per (row, selected): moving the cursor needs no invalidation, and
        # without a scroll only the two rows whose highlight changed are redrawn.
        if self.scroll_cursor_visible():
            self.refresh()
        else:
            self.refresh_line(old + self.header_lines)
            self.refresh_line(new + self.header_lines)
        self.post_message(self.CursorMoved(self, new if self.row_count() else -1))

    def scroll_cursor_visible(self) -> bool:
        """Scroll just enough to keep the cursor row on screen; True when it scrolled."""
        visible = max(1, self.scrollable_content_region.height - self.header_lines)
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
            return True
        if self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)
            return True
        return False

    def jump_to(self, row: int) -> None:
        """Move the cursor to ``row`` (a jump, not a step): when ``row`` is off screen, it
        comes to the middle of the view, with what is around it (the next hops of a chain
        are then on screen: no scroll, no whole-pane redraw, for each of them)."""
        visible = max(1, self.scrollable_content_region.height - self.header_lines)
        top = round(self.scroll_y)
        if not top <= row < top + visible:
            self.scroll_to(y=max(0, row - visible // 2), animate=False, immediate=True)
        self.cursor = row

    # --- actions ---------------------------------------------------------------------------
    def action_cursor(self, delta: int) -> None:
        """Move the cursor by ``delta`` rows."""
        self.cursor = self.cursor + delta

    def action_page(self, direction: int) -> None:
        """Move the cursor by one screen."""
        page = max(1, self.scrollable_content_region.height - self.header_lines - 1)
        self.cursor = self.cursor + direction * page

    def action_first(self) -> None:
        """Move to the first row."""
        self.cursor = 0

    def action_last(self) -> None:
        """Move to the last row."""
        self.cursor = self.row_count() - 1

    def on_click(self, event: events.Click) -> None:
        """Clicking a row moves the cursor there."""
        row = event.y - self.header_lines + round(self.scroll_y)
        if event.y >= self.header_lines and 0 <= row < self.row_count():
            self.cursor = row

    # --- rendering -------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.clear_cache()

    def on_resize(self, event: events.Resize) -> None:
        self.clear_cache()
        self.scroll_cursor_visible()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self._base_style()
        if y < self.header_lines:
            if self._header_strip is None:
                header = self.header_text() or Text()
                style = self.get_component_rich_style("linelist--header")
                self._header_strip = self._to_strip(header, style)
            return self._header_strip.crop_extend(scroll_x, scroll_x + width, base)
        index = scroll_y + y - self.header_lines
        if index >= self.row_count():
            return Strip.blank(width, base)
        selected = index == self.cursor
        strip = self._strips.get((index, selected))
        if strip is None:
            style = self.get_component_rich_style("linelist--cursor") if selected else None
            strip = self._to_strip(self.row_text(index), style)
            self._strips[(index, selected)] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base).apply_offsets(scroll_x, index)

    def _to_strip(self, text: Text, style: Style | None) -> Strip:
        text = text.copy()
        text.no_wrap = True
        text.end = ""
        if style is not None:
            text.stylize_before(style)
            # Paint the whole line, not just its characters.
            width = max(self.scrollable_content_region.width, self.content_width())
            text.pad_right(max(0, width - text.cell_len))
        segments = [s for s in text.render(self.app.console) if s.text != "\n"]
        return Strip(segments or [Segment("")], text.cell_len)
