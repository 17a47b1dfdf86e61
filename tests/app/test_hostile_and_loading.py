"""Hostile log text never reaches the screen or the clipboard as controls or markup; loading."""

from __future__ import annotations

import threading
from typing import Any

from appfakes import HOSTILE_DATA, FakeClipboard, FakeIndex, screen_segments, screen_text, settle
from textual.widgets import Label

from mailhops.app.factory import create_app
from mailhops.app.screens.loading import LoadingScreen
from mailhops.app.screens.main import MainScreen
from mailhops.index.build import NoLogsError, Progress

SIZE = (160, 40)
HOSTILE_SID = "08DC000000BAD666"


def control_chars(text: str) -> list[str]:
    return [hex(ord(c)) for c in text if c != "\n" and (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F)]


async def test_hostile_session_renders_as_inert_visible_text() -> None:
    app = create_app([], index=FakeIndex(), debounce=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.main.goto_ident(HOSTILE_SID)
        await settle(pilot)
        assert app.main.current_key.endswith(HOSTILE_SID)
        text = screen_text(app)
        assert control_chars(text) == []
        # The would-be markup is shown as the characters it is ...
        assert "[@click=app.quit]boom[/]" in text
        assert "[bold red]evil[/]" in text
        # ... and the escape sequences as visible escapes.
        assert "\\x1b]52;c;ZXZpbA==\\x07" in text
        assert "\\x1b[31mred\\x9b0m" in text
        for segment in screen_segments(app):
            assert control_chars(segment.text) == []
            if "boom" in segment.text or "evil" in segment.text:
                style = segment.style
                assert style is None or (style.link is None and "@click" not in (style.meta or {}))
        assert app.is_running  # [@click=app.quit] did nothing


async def test_hostile_text_is_cleaned_on_the_clipboard(clipboard: FakeClipboard) -> None:
    app = create_app([], index=FakeIndex(), debounce=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.main.goto_ident(HOSTILE_SID)
        await settle(pilot)
        await pilot.press("C")
        await settle(pilot)
        result = app.main.copy_text(f"EHLO {HOSTILE_DATA}\nnext line", "test text")
        await settle(pilot)
        for copied in (*clipboard.system, *clipboard.osc52):
            assert control_chars(copied) == []
        assert result.text == "EHLO [@click=app.quit]boom[/] \\x1b[31mred\\x9b0m\nnext line"


async def test_progress_is_shown_while_the_index_builds() -> None:
    release = threading.Event()

    def opener(paths: list[str], *, cache_dir: str | None, progress: Any) -> FakeIndex:
        progress(Progress(1, 3, 1_000_000, 3_000_000, 5_000))
        progress(Progress(2, 3, 2_000_000, 3_000_000, 10_000))
        release.wait(10)
        return FakeIndex()

    app = create_app(["/logs"], opener=opener, debounce=0)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(50):
            await pilot.pause()
            if isinstance(app.screen, LoadingScreen) and "2 / 3 files" in screen_text(app):
                break
        assert isinstance(app.screen, LoadingScreen)
        stats = str(app.screen.query_one("#loading-stats", Label).render())
        assert "2 / 3 files" in stats and "10,000 lines" in stats and "MB/s" in stats
        release.set()
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)


async def test_unopenable_logs_give_a_clear_message_and_exit_code() -> None:
    def opener(paths: list[str], *, cache_dir: str | None, progress: Any) -> FakeIndex:
        raise NoLogsError("no Exchange logs found under /nowhere")

    app = create_app(["/nowhere"], opener=opener, debounce=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LoadingScreen)
        assert "no Exchange logs found under /nowhere" in screen_text(app)
        assert "no Exchange logs" in app.failure
        await pilot.press("q")
    assert app.return_code == 1
