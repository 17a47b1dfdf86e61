"""The main screen's moves between sessions: next/previous hop, open hop, back and forward."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailhops.app.filters import SessionFilter
from mailhops.app.widgets.hopbar import HopBar, hop_key
from mailhops.app.widgets.sessions import SessionsTable

if TYPE_CHECKING:
    from mailhops.app.screens.main import MainScreen

    _Base = MainScreen
else:
    _Base = object


class HopsMixin(_Base):
    """Hop jumps and the browser-like history of :class:`MainScreen`."""

    def goto_key(self, key: str, *, record: bool = True) -> None:
        """Select session ``key`` (a hop jump or a go-to); widen the filter if it hides it."""
        if record:
            self.history.visit(key)
        table = self.query_one(SessionsTable)
        row = table.index_of(key)
        if row is not None:
            table.jump_to(row)
            self.show_session(key, at_once=True)
            return
        self.notify("The filter hid that session: showing all sessions.", markup=False)
        self.apply_filter(SessionFilter(show_noise=True), select=key)
        self.show_session(key, at_once=True)

    def action_hop(self, step: int) -> None:
        """Move to the next (1) or previous (-1) hop of the current session's chain."""
        bar = self.query_one(HopBar)
        keys = [hop_key(hop) for hop in bar.hops()]
        if self.current_key not in keys or bar.current_key != self.current_key:
            self.notify("No chain resolved for this session yet.", severity="warning")
            return
        position = keys.index(self.current_key) + step
        if not 0 <= position < len(keys):
            self.notify("This is the last hop." if step > 0 else "This is the first hop.")
            return
        self.goto_key(keys[position])

    def action_open_hop(self) -> None:
        """Open the hop under the hop bar cursor."""
        bar = self.query_one(HopBar)
        key = bar.entry_key(bar.cursor)
        if key is not None:
            self.goto_key(key)

    def action_back(self) -> None:
        """Back to the previous session in the history."""
        key = self.history.back()
        if key is None:
            self.notify("No earlier session in the history.")
        else:
            self.goto_key(key, record=False)

    def action_forward(self) -> None:
        """Forward again after Back."""
        key = self.history.forward()
        if key is None:
            self.notify("No later session in the history.")
        else:
            self.goto_key(key, record=False)
