"""A few SVG snapshots with fixed data and size (update: pytest --snapshot-update)."""

from __future__ import annotations

from typing import Any

from appfakes import FakeClipboard, FakeIndex, settle
from textual.widgets import TextArea

from mailhops.app.factory import create_app


def make_app() -> Any:
    return create_app([], index=FakeIndex(), debounce=0)


def goto(ident: str | None, *keys: str) -> Any:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        if ident:
            pilot.app.main.goto_ident(ident)
            await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        if pilot.app.screen.query(TextArea):
            pilot.app.screen.query_one(TextArea).cursor_blink = False
            await pilot.pause()

    return run_before


def test_main_view_at_80x24(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=goto("08DC000000000A01"))


def test_chain_with_gap_at_120x40(snap_compare: Any) -> None:
    run_before = goto("08DC000000000A01", "right_square_bracket", "right_square_bracket")
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=run_before)


def test_filtered_failures(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 30), run_before=goto(None, "n", "f"))


def test_side_by_side_hop(snap_compare: Any) -> None:
    run_before = goto("08DC000000000B02", "v")
    assert snap_compare(make_app(), terminal_size=(120, 30), run_before=run_before)


def test_copy_popup_without_clipboard(snap_compare: Any, no_clipboard: FakeClipboard) -> None:
    run_before = goto("08DC000000000A01", "C")
    assert snap_compare(make_app(), terminal_size=(120, 30), run_before=run_before)
