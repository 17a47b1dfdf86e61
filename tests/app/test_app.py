"""Pilot tests: every pane and key of the main screen, over the fixed fake index."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from typing import Any

from appfakes import (
    CHAIN_HOPS,
    FakeClipboard,
    FakeIndex,
    goto,
    open_compare,
    screen_text,
    settle,
)
from textual.widgets import Input, TextArea

from mailhops.app.factory import create_app
from mailhops.app.screens import hops
from mailhops.app.screens.dialogs import CopyPopup, PromptScreen
from mailhops.app.screens.help import HelpScreen
from mailhops.app.screens.main import MainScreen
from mailhops.app.widgets.hopbar import HopBar
from mailhops.app.widgets.panes import ConnectorsPane, ServersPane
from mailhops.app.widgets.sessions import SessionsTable
from mailhops.app.widgets.transcript import TranscriptView

SIZE = (120, 40)
FIRST, SECOND, THIRD, FOURTH = (hop.key for hop in CHAIN_HOPS)


def main(app: Any) -> MainScreen:
    screen = app.main
    assert screen is not None
    return screen


def make_app(index: FakeIndex | None = None) -> Any:
    return create_app([], index=index or FakeIndex(), debounce=0)


async def test_panes_show_servers_connectors_sessions_and_transcript() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main(app)
        table = screen.query_one(SessionsTable)
        assert table.row_count() == 47  # 48 sessions, one noise hidden by default
        assert "Sessions 47 of 48" in str(table.border_title)
        assert screen.query_one(ServersPane).servers == [None, "EX01", "EX02"]
        connectors = screen.query_one(ConnectorsPane).connectors
        assert "Inbound Proxy Internal Send Connector" in connectors
        transcript = screen.query_one(TranscriptView)
        assert len(transcript.rows) == 8
        text = screen_text(app)
        assert "EHLO client0.example.org" in text
        assert "Servers" in text and "Connectors" in text and "Hops" in text


async def test_cursor_move_selects_the_next_session() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = main(app).current_key
        await pilot.press("down")
        await settle(pilot)
        assert main(app).current_key != first
        assert main(app).current_key == main(app).query_one(SessionsTable).current_key


async def test_selecting_a_session_shows_the_next_servers_session_in_the_hop_bar() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "08DC000000000A01")
        screen = main(app)
        assert screen.current_key == FIRST
        bar = screen.query_one(HopBar)
        assert [h.key for h in bar.hops()] == [FIRST, SECOND, THIRD, FOURTH]
        text = screen_text(app)
        assert "EX02 Hub recv 08DC000000000C03" in text
        assert "gap" in text and "Set-MailboxTransportService" in text


async def test_next_hop_previous_hop_back_and_forward() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "08DC000000000A01")
        screen = main(app)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert screen.current_key == SECOND
        assert screen.query_one(SessionsTable).current_key == SECOND
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert screen.current_key == THIRD
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert screen.current_key == SECOND
        await pilot.press("backspace")
        await settle(pilot)
        assert screen.current_key == THIRD
        await pilot.press("alt+left")
        await settle(pilot)
        assert screen.current_key == SECOND
        await pilot.press("alt+right")
        await settle(pilot)
        assert screen.current_key == THIRD


async def test_last_hop_says_so_and_stays() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "08DC000000000D04")
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert main(app).current_key == FOURTH
        assert any("last hop" in n.message for n in app._notifications)


async def test_open_hop_under_the_hop_bar_cursor() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "08DC000000000A01")
        bar = main(app).query_one(HopBar)
        bar.focus()
        await pilot.press("down", "down")  # hop 3 (no gap before it)
        await pilot.press("enter")
        await settle(pilot)
        assert main(app).current_key == THIRD
        await pilot.press("o")  # 'o' anywhere opens the hop under the cursor too
        await settle(pilot)
        assert main(app).current_key == bar.entry_key(bar.cursor)


async def test_hop_jump_widens_a_filter_that_hides_the_target() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "08DC000000000A01")
        screen = main(app)
        screen.apply_filter(screen.filter.__class__(server="EX01"))
        await settle(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")
        await settle(pilot)
        assert screen.current_key == THIRD
        assert screen.query_one(SessionsTable).current_key == THIRD


async def test_filter_bar_narrows_and_counts_update() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = main(app).query_one(SessionsTable)
        await pilot.press("slash")
        await pilot.press(*"alice")
        await pilot.press("enter")
        await settle(pilot)
        assert table.row_count() == 4
        assert "Sessions 4 of 48" in str(table.border_title)
        assert set(table.frame["mail_from"]) == {"alice@example.org"}
        input_ = main(app).query_one("#filter", Input)
        input_.value = "outcome:5xx"
        await input_.action_submit()
        await settle(pilot)
        assert table.frame["session_id"].to_list() == ["08DC0000000REJ55"]


async def test_bad_filter_is_reported_not_applied() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        input_ = main(app).query_one("#filter", Input)
        input_.value = "after:yesterday"
        await input_.action_submit()
        await settle(pilot)
        assert main(app).query_one(SessionsTable).row_count() == 47
        assert any("not a date/time" in n.message for n in app._notifications)


async def test_noise_toggle_and_outcome_cycle() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = main(app).query_one(SessionsTable)
        await pilot.press("n")
        await settle(pilot)
        assert table.row_count() == 48
        await pilot.press("n", "f")  # noise hidden again, outcome: failed
        await settle(pilot)
        assert sorted(table.frame["outcome"]) == ["deferred", "rejected"]
        await pilot.press("f")  # 4xx
        await settle(pilot)
        assert table.frame["outcome"].to_list() == ["deferred"]  # 451, then 221 to QUIT


async def test_server_and_connector_panes_scope_the_sessions() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main(app)
        servers = screen.query_one(ServersPane)
        servers.focus()
        await pilot.press("down", "down")  # EX02
        await settle(pilot)
        table = screen.query_one(SessionsTable)
        assert set(table.frame["server"]) == {"EX02"}
        connectors = screen.query_one(ConnectorsPane)
        assert "EX01\\Default Frontend EX01" not in connectors.connectors
        connectors.focus()
        await pilot.press("down")
        await settle(pilot)
        assert table.frame["connector"].n_unique() == 1


async def test_copy_session_id_uses_system_clipboard_osc52_and_popup(
    clipboard: FakeClipboard,
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "08DC000000000A01")
        await pilot.press("c")
        await settle(pilot)
        assert clipboard.system == ["08DC000000000A01"]
        assert clipboard.osc52 == ["08DC000000000A01"]
        assert isinstance(app.screen, CopyPopup)
        area = app.screen.query_one(TextArea)
        assert area.selected_text == "08DC000000000A01"
        message = (
            app._notifications.last.message
            if hasattr(app._notifications, "last")
            else [n.message for n in app._notifications][-1]
        )
        assert "system clipboard" in message and "OSC 52" in message
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_copy_falls_back_to_osc52_and_popup_without_system_clipboard(
    no_clipboard: FakeClipboard,
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "08DC000000000A01")
        await pilot.press("c")
        await settle(pilot)
        assert no_clipboard.system == []
        assert no_clipboard.osc52 == ["08DC000000000A01"]
        assert isinstance(app.screen, CopyPopup)
        message = [n.message for n in app._notifications][-1]
        assert "No system clipboard" in message and "pop-up" in message


async def test_copy_chain_summary(clipboard: FakeClipboard) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "08DC000000000A01")
        await pilot.press("C")
        await settle(pilot)
        (text,) = clipboard.system
        assert text.splitlines()[0].startswith("Trace of")
        assert "08DC000000000C03" in text and "Set-MailboxTransportService" in text
        assert clipboard.osc52 == [text]


async def test_side_by_side_shows_both_ends_of_the_hop() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await open_compare(pilot)
        sides = view.rows.frame["side"].to_list()
        assert sides.count(0) == 8 and sides.count(1) == 8
        ts = view.rows.frame["ts"].to_list()
        assert ts == sorted(ts)
        text = screen_text(app)
        assert "08DC000000000B02" in text and "08DC000000000C03" in text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_help_screen_lists_the_bindings() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for description in ("Next hop", "Prev hop", "Back", "Copy chain", "Side by side"):
            assert description in text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_command_palette_offers_the_main_actions() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in (
            "Go to session id / Message-ID / InternalId",
            "Time range",
            "Copy session id",
            "Copy chain summary",
            "Export filtered sessions",
            "Toggle noise",
        ):
            assert title in titles
        assert any("theme" in t.lower() for t in titles)


async def test_time_range_and_local_time_toggle() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main(app)
        screen.action_time_range()
        await pilot.pause()
        app.screen.query_one(Input).value = "2024-05-01T10:00:05 2024-05-01T10:00:09"
        await pilot.press("enter")
        await settle(pilot)
        assert screen.query_one(SessionsTable).row_count() == 5
        await pilot.press("t")
        await pilot.pause()
        assert screen.zone is not None
        assert "Start (local)" in screen_text(app)


async def test_goto_message_id_and_unknown_id() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "<chain@example.org>")
        assert main(app).current_key == FIRST  # earliest session carrying it
        await goto(pilot, "nothing-like-this")
        assert main(app).current_key == FIRST
        assert any("No session with id" in n.message for n in app._notifications)


async def test_export_from_the_app_writes_the_filtered_sessions(tmp_path: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")  # failed only: 2 sessions
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        target = tmp_path / "failed.json"
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert target.exists()
        assert sorted(r["outcome"] for r in json.loads(target.read_text())) == [
            "deferred",
            "rejected",
        ]
        assert any("Exported 2 sessions" in n.message for n in app._notifications)


async def test_sidebar_hidden_at_80_columns_and_toggled_with_s() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        sidebar = main(app).query_one("#sidebar")
        assert not sidebar.display or sidebar.region.width == 0
        await pilot.press("s")
        await pilot.pause()
        assert sidebar.region.width > 0


async def test_enter_on_a_session_focuses_the_hop_bar_and_failed_hops_are_marked() -> None:
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await goto(pilot, "08DC000000000A01")
        await pilot.press("enter")
        await pilot.pause()
        bar = main(app).query_one(HopBar)
        assert app.focused is bar
        failed = dataclasses.replace(CHAIN_HOPS[1], code=451, reply="451 4.7.0 PRX3 try later")
        chain = dataclasses.replace(bar.chain, hops=[CHAIN_HOPS[0], failed])
        bar.set_chain(chain, FIRST)
        await pilot.pause()
        assert "✗ 451 4.7.0 PRX3 try later" in screen_text(app)


async def test_session_with_two_messages_shows_one_chain_each() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "08DC000000000C03")
        bar = main(app).query_one(HopBar)
        assert "message 1 of 2" in str(bar.border_title)
        assert len(bar.hops()) == 4
        await pilot.press("m")
        await settle(pilot)
        assert "message 2 of 2" in str(bar.border_title)
        assert [h.key for h in bar.hops()] == [THIRD]
        await pilot.press("m")
        await settle(pilot)
        assert len(bar.hops()) == 4


async def test_the_hops_next_to_the_selection_are_loaded_before_the_jump() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "08DC000000000B02")
        screen = main(app)
        assert screen.current_key == SECOND
        assert {FIRST, THIRD} <= set(screen.loaded)  # prefetched, not shown
        assert screen.query_one(HopBar).current_key == SECOND
        await pilot.press("right_square_bracket")
        await pilot.pause()  # no worker: shown from what was prefetched
        assert screen.current_key == THIRD
        assert screen.query_one(HopBar).current_key == THIRD
        assert screen.query_one(TranscriptView).rows.frame is screen.loaded[THIRD].transcript


async def test_every_hop_of_the_chain_is_loaded_ahead_nearest_first() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "08DC000000000A01")
        screen = main(app)
        assert screen.current_key == FIRST
        assert {SECOND, THIRD, FOURTH} <= set(screen.loaded)
        order = [k for k in screen.loaded if k in (SECOND, THIRD, FOURTH)]
        assert order == [SECOND, THIRD, FOURTH]
        for key in (SECOND, THIRD, FOURTH):
            await pilot.press("right_square_bracket")
            await pilot.pause()  # no worker: each hop was loaded ahead
            assert screen.current_key == key
            assert screen.query_one(TranscriptView).rows.frame is screen.loaded[key].transcript


async def test_transcript_drawn_ahead_is_redrawn_in_local_time(monkeypatch: Any) -> None:
    """The worker draws a transcript's first lines in the zone of the moment; switching to
    local time must not keep showing those UTC lines."""
    import time as _time

    monkeypatch.setenv("TZ", "Etc/GMT-2")  # UTC+2, no daylight saving
    _time.tzset()
    try:
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await goto(pilot, "08DC000000000A01")
            transcript = main(app).query_one(TranscriptView)
            assert transcript.row_text(0).plain.startswith("10:01:40.000")
            await pilot.press("t")
            await pilot.pause()
            assert transcript.row_text(0).plain.startswith("12:01:40.000")
            await pilot.press("right_square_bracket")  # a prefetched hop, drawn in UTC
            await settle(pilot)
            assert transcript.row_text(0).plain.startswith("12:01:40.050")
    finally:
        monkeypatch.delenv("TZ")
        _time.tzset()


class LongTranscripts(FakeIndex):
    """Transcripts of 200 lines: more than the pane shows, more than the worker draws."""

    def transcript(self, key: str) -> Any:
        import polars as pl

        frame = super().transcript(key)
        long = pl.concat([frame] * 25) if frame.height else frame
        return long.with_columns(pl.int_range(pl.len()).cast(long.schema["seq"]).alias("seq"))


async def test_the_loading_worker_draws_the_transcript_lines_on_show_and_the_pane_the_rest() -> (
    None
):
    from mailhops.app.render import transcript_line
    from mailhops.app.widgets.transcript import AHEAD

    app = make_app(LongTranscripts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, FIRST)
        screen = main(app)
        transcript = screen.query_one(TranscriptView)
        loaded = screen.loaded[FIRST]
        assert loaded.transcript.height == 200 and transcript.rows.frame is loaded.transcript
        shown = transcript.scrollable_content_region.height
        assert shown <= transcript.lines_shown == transcript.size.height < AHEAD
        assert len(loaded.drawn.lines) == transcript.lines_shown  # a screenful, not AHEAD
        rows = loaded.transcript.to_dicts()
        for index in (0, transcript.lines_shown - 1, transcript.lines_shown, 150):
            assert transcript.row_text(index).plain == transcript_line(rows[index], None).plain
        transcript.focus()
        await pilot.press("end")  # scrolled to lines the worker did not draw
        await settle(pilot)
        assert transcript.cursor == 199
        bottom = transcript.render_line(transcript.scrollable_content_region.height - 1)
        assert bottom.text.startswith(transcript_line(rows[199], None).plain[:40])


class GatedIndex(FakeIndex):
    """The transcript of SECOND loads only once ``gate`` is set (a slow load, held open)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def transcript(self, key: str) -> Any:
        if key == SECOND:
            self.gate.wait(10)
        return super().transcript(key)


async def _quiet(pilot: Any) -> None:
    """Let every worker end (one a newer prefetch cancelled included) and results show."""
    for _ in range(3):
        workers = list(pilot.app.workers)
        await asyncio.gather(*(w.wait() for w in workers), return_exceptions=True)
        await pilot.pause()


async def _on_first_while_second_loads(pilot: Any, index: GatedIndex) -> MainScreen:
    """Go to FIRST (a hop jump would) and wait until SECOND, next, is being loaded ahead."""
    await settle(pilot)
    screen = main(pilot.app)
    screen.goto_key(FIRST)
    for _ in range(500):
        if SECOND in screen.prefetching and screen.query_one(HopBar).current_key == FIRST:
            break
        await asyncio.sleep(0.01)
    assert SECOND in screen.prefetching and SECOND not in screen.loaded
    return screen


def _spy_selections(screen: MainScreen) -> list[tuple[str | None, bool]]:
    """(key, already loaded) of each selection from now on."""
    seen: list[tuple[str | None, bool]] = []
    original = screen.show_session

    def spy(key: str | None, **kwargs: Any) -> None:
        seen.append((key, key in screen.loaded))
        original(key, **kwargs)

    screen.show_session = spy  # type: ignore[method-assign]
    return seen


async def _next_while_second_loads(pilot: Any, index: Any) -> tuple[MainScreen, Any, Any]:
    """On the first hop, the second still loading: spy selections and press ``]``."""
    screen = await _on_first_while_second_loads(pilot, index)
    seen = _spy_selections(screen)
    return screen, seen, asyncio.create_task(pilot.press("right_square_bracket"))


async def test_a_hop_jump_to_a_hop_still_loading_waits_and_shows_it_whole(monkeypatch: Any) -> None:
    """The selection does not move ahead of the transcript: both change together."""
    monkeypatch.setattr(hops, "HOLD", 10.0)
    index = GatedIndex()
    app = make_app(index)
    async with app.run_test(size=SIZE) as pilot:
        screen, seen, press = await _next_while_second_loads(pilot, index)
        table, transcript = screen.query_one(SessionsTable), screen.query_one(TranscriptView)
        await asyncio.sleep(0.2)
        assert table.current_key == FIRST and not seen  # waiting for SECOND: nothing moved
        index.gate.set()
        await press
        await _quiet(pilot)
        assert seen[0] == (SECOND, True)  # selected once loaded
        assert table.current_key == SECOND == screen.query_one(HopBar).current_key
        assert transcript.rows.frame is screen.loaded[SECOND].transcript


async def test_a_hop_jump_waits_for_a_loading_hop_a_moment_at_most(monkeypatch: Any) -> None:
    monkeypatch.setattr(hops, "HOLD", 0.05)
    index = GatedIndex()
    app = make_app(index)
    async with app.run_test(size=SIZE) as pilot:
        screen, seen, press = await _next_while_second_loads(pilot, index)
        table, transcript = screen.query_one(SessionsTable), screen.query_one(TranscriptView)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if seen:
                break
        assert seen == [(SECOND, False)] and table.current_key == SECOND  # moved, not loaded
        index.gate.set()
        await press
        await _quiet(pilot)
        assert transcript.rows.frame is screen.loaded[SECOND].transcript


async def test_the_chain_is_loaded_ahead_after_the_frame_showing_the_hop() -> None:
    """The neighbours' loads start once the jumped-to hop is drawn, not beside that frame."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = main(app)
        log: list[str] = []
        display, show, prefetch = app._display, screen._show_loaded, screen._prefetch_worker

        def spy_display(*args: Any) -> None:
            display(*args)
            log.append("frame")

        def spy_show(loaded: Any) -> None:
            log.append(f"shown {loaded.key}")
            show(loaded)

        def spy_prefetch(keys: list[str]) -> Any:
            log.append("prefetch")
            return prefetch(keys)

        app._display = spy_display  # type: ignore[method-assign]
        screen._show_loaded = spy_show  # type: ignore[method-assign]
        screen._prefetch_worker = spy_prefetch  # type: ignore[method-assign]
        screen.goto_key(FIRST)
        await settle(pilot)
        assert f"shown {FIRST}" in log and "prefetch" in log
        after = log[log.index(f"shown {FIRST}") :]
        assert "frame" in after[: after.index("prefetch")]
        assert SECOND in screen.loaded
