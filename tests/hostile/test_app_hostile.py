"""The app on the real injected index: hostile sessions render as inert, literal text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hostilekit import Corpus, listing, tree_hash, unsafe_chars

from mailhops import hostile

pytest.importorskip("mailhops.app.factory")
pytest.importorskip("textual")

SIZE = (200, 60)


async def settle(pilot: Any) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def screen_text(app: Any) -> str:
    """The rendered screen, line by line, from the compositor's strips."""
    return "\n".join(
        "".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()
    )


def segment_styles(app: Any) -> list[Any]:
    return [seg for strip in app.screen._compositor.render_strips() for seg in strip]


@pytest.fixture
def clipboard(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every clipboard write (pyperclip and OSC 52)."""
    import pyperclip
    from textual.app import App

    copied: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", copied.append)
    monkeypatch.setattr(App, "copy_to_clipboard", lambda self, text: copied.append(text))
    return copied


async def test_hostile_sessions_on_screen_and_clipboard(
    corpus: Corpus, built: Any, clipboard: list[str], tmp_path: Path
) -> None:
    from mailhops.app.factory import create_app

    before, names = tree_hash(corpus.tree), listing(corpus.tree)
    app = create_app([corpus.tree], cache_dir=corpus.cache, index=built, debounce=0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        hostile_ids = {**corpus.truth.hostile_sessions, **corpus.truth.hostile_send_sessions}
        for sid, payload in hostile_ids.items():
            app.main.goto_ident(sid)
            await settle(pilot)
            assert app.main.current_key.endswith(sid)
            text = screen_text(app)
            assert unsafe_chars(text) == [], (payload, unsafe_chars(text))
            assert "evil" in text, "the hostile EHLO/MAIL FROM/remote reply is on screen"
            if payload in ("bold", "link", "click"):
                assert hostile.PAYLOADS[payload] in text, payload  # shown, not applied
            for seg in segment_styles(app):
                assert unsafe_chars(seg.text) == []
                if "evil" in seg.text and seg.style is not None:
                    assert seg.style.link is None
                    assert "@click" not in (seg.style.meta or {})
            await pilot.press("c")
            await pilot.press("C")
            await settle(pilot)
        assert app.is_running, "[@click=app.quit] must not quit the app"
    assert clipboard, "copy actions wrote to the clipboard"
    assert [unsafe_chars(c) for c in clipboard if unsafe_chars(c)] == []
    assert any("0BAD" in c for c in clipboard)
    assert tree_hash(corpus.tree) == before and listing(corpus.tree) == names


def test_app_export_is_clean_and_never_in_the_log_folder(
    corpus: Corpus, built: Any, tmp_path: Path
) -> None:
    import polars as pl

    from mailhops.app.export import ExportError, export_frame

    frame = built.sessions.filter(pl.col("session_id").str.starts_with("0BAD"))
    assert frame.height >= len(hostile.PAYLOADS)
    before, names = tree_hash(corpus.tree), listing(corpus.tree)
    deep = next(p for p in corpus.tree.rglob("*") if p.is_dir() and len(p.parts) > 6)
    for inside in (corpus.tree / "out.csv", deep / "out.json", deep / ".." / "x.csv"):
        with pytest.raises(ExportError):
            export_frame(frame, inside, [corpus.tree])
    for suffix in (".csv", ".json"):
        written = export_frame(frame, tmp_path / f"sessions{suffix}", [corpus.tree])
        text = written.read_text(encoding="utf-8")
        assert unsafe_chars(text) == [], suffix
        assert "[bold red]" in text and "\\x1b" in text
    assert tree_hash(corpus.tree) == before and listing(corpus.tree) == names
    assert {p.name for p in tmp_path.iterdir()} == {"sessions.csv", "sessions.json"}
