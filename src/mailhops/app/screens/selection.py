"""The main screen's session loading: transcript and chain in a worker, hops prefetched."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work
from textual.worker import get_current_worker

from mailhops.app.messages import SessionLoaded
from mailhops.app.widgets.hopbar import hop_key
from mailhops.app.widgets.transcript import AHEAD, draw

if TYPE_CHECKING:
    from mailhops.app.screens.main import MainScreen

    _Base = MainScreen
else:
    _Base = object


#: Hops of the shown chain loaded ahead: the next, the previous and the one after the next
#: (a load is a transcript read and its first lines drawn, beside the frames being drawn).
PREFETCH = 3


class SelectionMixin(_Base):
    """Loading what the selected session shows, off the UI thread, for :class:`MainScreen`."""

    @work(thread=True, exclusive=True, group="session", exit_on_error=False)
    def _load_session(self, key: str, message: int = 0, transcript: Any = None) -> None:
        self.post_message(self._resolve_session(key, message, transcript))

    def _resolve_session(self, key: str, message: int, transcript: Any) -> SessionLoaded:
        if transcript is None:
            transcript = self.index.transcript(key)
        chain, candidates, error = self._resolve_chain(key, message)
        # The lines on show, drawn here: the UI thread only turns them into strips.
        view = self.transcript_view  # (set on the UI thread; its lines_shown is a plain int)
        drawn = draw(transcript, self.zone, view.lines_shown if view else AHEAD)
        return SessionLoaded(key, transcript, chain, error, candidates, message, drawn)

    def prefetch_near(self, loaded: SessionLoaded) -> None:
        """Load the other hops of the chain in a worker, nearest first (the next hop, the
        previous one, then outwards), so ``]`` / ``[`` show at once, key after key.

        Only while the user follows hops (a hop jump or go-to selected it): moving the cursor
        over sessions adds no background loads that could delay the next move.
        """
        if not self.hopping or loaded.key != self.current_key:
            return
        keys = [hop_key(hop) for hop in getattr(loaded.chain, "hops", []) or []]
        if loaded.key not in keys:
            return
        at = keys.index(loaded.key)
        order = sorted(range(len(keys)), key=lambda i: (abs(i - at), i < at))
        near = [keys[i] for i in order if i != at][:PREFETCH]
        missing = [k for k in near if k not in self.loaded and k not in self.prefetching]
        if missing:
            self._prefetch_worker(missing)

    @work(thread=True, exclusive=True, group="prefetch", exit_on_error=False)
    def _prefetch_worker(self, keys: list[str]) -> None:
        # A key stays in ``prefetching`` while it loads: selecting it waits for this result
        # instead of loading it a second time. The next prefetch cancels the rest.
        worker = get_current_worker()
        for key in keys:
            if worker.is_cancelled:
                return
            self.prefetching.add(key)
            try:
                self.post_message(self._resolve_session(key, 0, None))
            finally:
                self.prefetching.discard(key)

    def _resolve_chain(self, key: str, message: int) -> tuple[Any, list[str], str]:
        """Return (chain, per-message idents, error) of session ``key``.

        A session that carried several messages has one chain each: the chain of message
        ``message`` is shown and ``m`` steps through the others.
        """
        try:
            chain = self.index.chain(key)
        except (KeyError, LookupError, ValueError) as exc:
            return None, [], str(exc)
        candidates = list(getattr(chain, "candidates", []) or [])
        if getattr(chain, "error", "") and candidates:
            chain = self.index.chain(candidates[message % len(candidates)])
        error = str(getattr(chain, "error", "") or "")
        return (None if error else chain), candidates, error

    def action_next_message(self) -> None:
        """Show the chain of the session's next message (sessions can carry several)."""
        loaded = self.loaded.get(self.current_key or "")
        if loaded is None or len(loaded.candidates) < 2:
            self.notify("This session carried one message.")
            return
        self._load_session(loaded.key, loaded.message + 1, loaded.transcript)
