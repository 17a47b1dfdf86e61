"""Frame pacing of the main screen: at most one frame per frame interval, the first slot free.

Textual draws a screen's changes from a repeating timer (``MAX_FPS``, 60 a second) that is
paused while nothing changes and resumed by the next change. After a pause, its first frame
comes at once, but the one after it is scheduled two slots ahead: the timer skips the slots
that passed while it was paused and then one more (Textual 8.2 ``Timer._run``). A key pressed
just after a frame (a held key, quick taps) then waits 17 to 33 ms for a free slot that came
and went. :class:`FrameTimer` keeps the cap (a frame at least one interval after the previous
one) without the lost slot: a change is drawn one interval after the previous frame at most.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual.screen import UPDATE_PERIOD, Screen
from textual.timer import EventTargetGone, Timer


def next_frame(last: float, now: float, interval: float) -> float:
    """When a change seen at ``now`` is drawn: now, or one interval after the last frame."""
    return max(now, last + interval)


class FrameTimer(Timer):
    """A screen update timer: ticks when resumed, never twice within one interval.

    Only pause and resume are supported (what a screen does with its update timer); there is
    no repeat count and no reset.
    """

    async def _run(self) -> None:
        last = float("-inf")
        while True:
            await self._active.wait()
            now = time.monotonic()
            due = next_frame(last, now, self._interval)
            if due > now:
                await asyncio.sleep(due - now)
                await self._active.wait()
            last = time.monotonic()
            try:
                await self._tick(next_timer=last, count=0)
            except EventTargetGone:
                break


class PacedScreen(Screen[None]):
    """A screen whose changes are drawn by a :class:`FrameTimer`.

    Replaces the timer behind ``Screen._update_timer`` (which the screen pauses and resumes);
    tests/app/test_units.py checks that Textual still draws through it.
    """

    _frame_timer: FrameTimer | None = None
    _after_frame: list[Callable[[], object]] | None = None

    def call_after_frame(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the next frame is drawn (a frame interval on at the latest).

        Unlike ``call_after_refresh``, not before the frame of changes whose widgets have yet
        to tell the screen (they do so by messages of their own, after the caller's handler).
        """
        if self._after_frame is None:
            self._after_frame = []
        self._after_frame.append(callback)
        self.set_timer(2 * UPDATE_PERIOD, self._run_after_frame)  # when no frame comes

    def _run_after_frame(self) -> None:
        callbacks, self._after_frame = self._after_frame or [], None
        for callback in callbacks:
            callback()

    def _on_timer_update(self) -> None:
        super()._on_timer_update()
        if self._after_frame:
            self.call_next(self._run_after_frame)

    @property
    def _update_timer(self) -> Timer:
        if self._frame_timer is None:
            timer = FrameTimer(
                self,
                UPDATE_PERIOD,
                name="screen_update",
                callback=self._on_timer_update,
                pause=True,
            )
            timer._start()
            self._timers.add(timer)
            self._frame_timer = timer
        return self._frame_timer
