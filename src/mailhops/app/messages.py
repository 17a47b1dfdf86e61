"""Messages workers post to the UI thread ("workers post, handlers mutate")."""

from __future__ import annotations

from typing import Any

import polars as pl
from textual.message import Message

from mailhops.app.filters import SessionFilter


class IndexProgress(Message):
    """Progress of the index build (coalesced: only the latest one matters)."""

    def __init__(self, progress: Any, elapsed: float) -> None:
        super().__init__()
        self.progress = progress
        self.elapsed = elapsed

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, IndexProgress)


class IndexReady(Message):
    """The index is open."""

    def __init__(self, index: Any) -> None:
        super().__init__()
        self.index = index


class IndexReloaded(Message):
    """The logs were read again (key r): ``index`` replaces the open one."""

    def __init__(self, index: Any, elapsed: float, state: Any) -> None:
        super().__init__()
        self.index = index
        self.elapsed = elapsed
        self.state = state  # screens.main.ViewState of the screen that asked


class IndexFailed(Message):
    """The index could not be opened; ``reason`` is the message for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class FilterApplied(Message):
    """A filter was evaluated over all sessions: ``rows`` are the matching row numbers."""

    def __init__(
        self, filter: SessionFilter, rows: pl.Series, total: int, select: str | None
    ) -> None:
        super().__init__()
        self.filter = filter
        self.rows = rows
        self.total = total
        self.select = select


class SessionLoaded(Message):
    """The transcript and chain of one session were resolved."""

    def __init__(
        self,
        key: str,
        transcript: pl.DataFrame,
        chain: Any,
        error: str = "",
        candidates: list[str] | None = None,
        message: int = 0,
        drawn: Any = None,
    ) -> None:
        super().__init__()
        self.key = key
        self.drawn = drawn  # widgets.transcript.Drawn: the transcript's first lines, drawn
        self.candidates = candidates or []
        self.message = message
        self.transcript = transcript
        self.chain = chain
        self.error = error
