"""The main screen's moves between sessions: next/previous hop, open hop, back and forward."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from mailhops.app.filters import SessionFilter
from mailhops.app.widgets.hopbar import HopBar, hop_key
from mailhops.app.widgets.sessions import SessionsTable

if TYPE_CHECKING:
    from mailhops.app.screens.main import MainScreen

    _Base = MainScreen
else:
    _Base = object


#: Seconds a hop jump waits at most for its hop while that is being loaded ahead: one frame
#: interval. The selection, hop bar and transcript then change in one frame, not the selection
#: first and the transcript in a frame at least an interval later (frames are paced).
HOLD = 1 / 60


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

    async def action_hop(self, step: int) -> None:
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
        await self.arrival(keys[position], HOLD)
        self.goto_key(keys[position])

    async def arrival(self, key: str, timeout: float) -> None:
        """Wait until session ``key``, being loaded ahead, is in (``timeout`` seconds at most).

        Keys wait meanwhile (the app handles them in turn); the screen's messages do not.
        """
        if key in self.loaded or key not in self.prefetching:
            return
        future = self.arrivals.get(key)
        if future is None:
            future = self.arrivals[key] = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            pass
        finally:
            if self.arrivals.get(key) is future:
                del self.arrivals[key]

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
