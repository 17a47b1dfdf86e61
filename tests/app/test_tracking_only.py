"""Go to a Message-ID that no session carries but message tracking saw."""

from __future__ import annotations

import pytest
from appfakes import TRACKED_INTERNAL, TRACKED_ONLY, FakeIndex, goto, settle
from textual.widgets import TextArea

from mailhops.app.factory import create_app
from mailhops.app.screens.dialogs import CopyPopup
from mailhops.app.screens.main import MainScreen


@pytest.mark.parametrize("ident", [TRACKED_ONLY, TRACKED_INTERNAL])
async def test_message_only_tracking_saw_opens_its_tracking_events(ident: str) -> None:
    """By its Message-ID or by the InternalId message tracking gave it."""
    index = FakeIndex()
    app = create_app([], index=index, debounce=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.main
        assert isinstance(screen, MainScreen)
        before = screen.current_key
        await goto(pilot, ident)
        for _ in range(20):  # the tracking scan runs in a worker
            if isinstance(app.screen, CopyPopup):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, CopyPopup)
        text = app.screen.query_one(TextArea).text
        assert "message tracking saw" in text
        assert "DELIVER STOREDRIVER" in text and "dave@contoso.com" in text
        assert screen.current_key == before  # no session to select
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_unknown_message_id_still_says_nothing_matched() -> None:
    index = FakeIndex()
    app = create_app([], index=index, debounce=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await goto(pilot, "<nobody@nowhere.example>")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, CopyPopup)
        assert "<nobody@nowhere.example>" in index.chain_calls
        assert any("No session with id" in str(n.message) for n in app._notifications)
