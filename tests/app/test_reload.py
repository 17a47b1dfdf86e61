"""Key r: read the logs again (a live server's logs grew), keeping filter and selection."""

from __future__ import annotations

from typing import Any

from appfakes import CHAIN_HOPS, FakeIndex, build_sessions, goto, settle

from mailhops.app.factory import create_app
from mailhops.app.widgets.sessions import SessionsTable

SECOND = CHAIN_HOPS[1].key


def _notes(app: Any) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


async def test_reload_shows_the_new_sessions_and_keeps_the_view() -> None:
    opened: list[list[str]] = []

    def opener(paths: list[str], cache_dir: Any = None, **_: Any) -> FakeIndex:
        opened.append(list(paths))
        return FakeIndex(build_sessions(extra=41))  # one session more than at start

    app = create_app(["/logs"], index=FakeIndex(), opener=opener, debounce=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        first = app.main
        assert first is not None
        await pilot.press("n")  # show noise too: a filter the reload must keep
        await pilot.press("t")  # and local time
        await settle(pilot)
        await goto(pilot, SECOND.rsplit("|", 1)[-1])
        assert first.current_key == SECOND
        shown = first.query_one(SessionsTable).row_count()
        await pilot.press("r")
        await settle(pilot)
        await settle(pilot)
        main = app.main
        assert opened == [["/logs"]]
        assert main is not None and main is not first
        assert len(main.index.sessions) == len(first.index.sessions) + 1
        assert main.filter == first.filter
        assert main.query_one(SessionsTable).row_count() == shown + 1
        assert main.current_key == SECOND
        assert main.zone is not None
        assert "+1 sessions" in _notes(app)


async def test_reload_waits_for_the_dialog_to_close() -> None:
    opened: list[Any] = []
    app = create_app(["/logs"], index=FakeIndex(), opener=opened.append, debounce=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        first = app.main
        await pilot.press("question_mark")
        await pilot.pause()
        app.action_reload()  # from the command palette, say, over a dialog
        await settle(pilot)
        assert opened == [] and app.main is first
        assert "Close the dialog first" in _notes(app)


async def test_r_typed_in_the_filter_bar_is_text_not_a_reload() -> None:
    opened: list[Any] = []
    app = create_app(["/logs"], index=FakeIndex(), opener=opened.append, debounce=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.press("r", "e", "r")
        await settle(pilot)
        assert opened == []
        assert app.screen.query_one("#filter").value.endswith("rer")
