"""Browser-like back/forward history of visited sessions (pure Python, no Textual)."""

from __future__ import annotations


class History:
    """Visited session keys with a position, like a web browser's history.

    ``visit`` pushes (a hop jump, a go-to); ``replace`` rewrites the current entry (moving the
    cursor in the sessions pane should not fill the history with every row passed over).
    """

    def __init__(self, limit: int = 200) -> None:
        self._entries: list[str] = []
        self._pos = -1
        self._limit = limit

    @property
    def current(self) -> str | None:
        """The key shown now, or None before the first visit."""
        return self._entries[self._pos] if self._pos >= 0 else None

    def visit(self, key: str) -> None:
        """Push ``key`` after the current entry, dropping any forward entries."""
        if key == self.current:
            return
        del self._entries[self._pos + 1 :]
        self._entries.append(key)
        if len(self._entries) > self._limit:
            del self._entries[0]
        self._pos = len(self._entries) - 1

    def replace(self, key: str) -> None:
        """Make ``key`` the current entry without adding a step."""
        if self._pos < 0:
            self.visit(key)
        else:
            self._entries[self._pos] = key

    def back(self) -> str | None:
        """Step back; return the key to show, or None at the start."""
        if self._pos <= 0:
            return None
        self._pos -= 1
        return self._entries[self._pos]

    def forward(self) -> str | None:
        """Step forward; return the key to show, or None at the end."""
        if self._pos >= len(self._entries) - 1:
            return None
        self._pos += 1
        return self._entries[self._pos]

    def __len__(self) -> int:
        return len(self._entries)
