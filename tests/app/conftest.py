"""Fixtures for the app tests (helpers live in appfakes.py)."""

from __future__ import annotations

import pytest
from appfakes import FakeClipboard, FakeIndex, install_clipboard


@pytest.fixture
def fake_index() -> FakeIndex:
    return FakeIndex()


@pytest.fixture
def clipboard(monkeypatch: pytest.MonkeyPatch) -> FakeClipboard:
    """A working system clipboard (pyperclip) plus recorded OSC 52 writes."""
    return install_clipboard(monkeypatch, works=True)


@pytest.fixture
def no_clipboard(monkeypatch: pytest.MonkeyPatch) -> FakeClipboard:
    """No system clipboard (pyperclip raises, as over SSH); OSC 52 recorded."""
    return install_clipboard(monkeypatch, works=False)
