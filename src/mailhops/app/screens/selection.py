"""The main screen's session loading: transcript and chain in a worker, hops prefetched."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work
from textual.worker import get_current_worker

from mailhops.app.messages import SessionLoaded
from mailhops.app.widgets.hopbar import hop_key

if TYPE_CHECKING:
    from mailhops.app.screens.main import MainScreen

    _Base = MainScreen
else:
    _Base = object


class SelectionMixin(_Base):
    """Loading what the selected session shows, off the UI thread, for :class:`MainScreen`."""

    @work(thread=True, exclusive=True, group="session", exit_on_error=False)
    def _load_session(self, key: str, message: int = 0, transcript: Any = None) -> None:
        loaded = self._resolve_session(key, message, transcript)
        self.post_message(loaded)
        if message == 0 and loaded.chain is not None:
            self._prefetch_hops(loaded.chain, key)

    def _resolve_session(self, key: str, message: int, transcript: Any) -> SessionLoaded:
        if transcript is None:
            transcript = self.index.transcript(key)
        chain, candidates, error = self._resolve_chain(key, message)
        return SessionLoaded(key, transcript, chain, error, candidates, message)

    def _prefetch_hops(self, chain: Any, key: str) -> None:
        """Load the hops next to ``key`` in its chain, so that ``]`` / ``[`` show at once.

        Runs on in the load worker after the selection is shown; a new selection cancels it.
        """
        keys = [hop_key(hop) for hop in getattr(chain, "hops", []) or []]
        if key not in keys:
            return
        at = keys.index(key)
        worker = get_current_worker()
        for near in keys[at + 1 : at + 2] + keys[max(0, at - 1) : at]:
            if worker.is_cancelled:
                return
            if near not in self.loaded:
                self.post_message(self._resolve_session(near, 0, None))

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
