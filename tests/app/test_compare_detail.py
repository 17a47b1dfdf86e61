"""Side by side at 80 columns: a cut line is shown whole in the detail bar."""

from __future__ import annotations

from appfakes import FakeIndex, open_compare, screen_text
from textual.widgets import Static

from mailhops.app.factory import create_app


async def test_the_cursor_line_is_shown_whole_below_the_columns() -> None:
    app = create_app([], index=FakeIndex(), debounce=0)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_compare(pilot)
        banner = next(
            i
            for i in range(view.row_count())
            if "ESMTP MAIL Service" in (view.rows.row(i) or {}).get("data", "")
        )
        for _ in range(banner):
            await pilot.press("down")
        await pilot.pause()
        assert view.cursor == banner
        assert "Service ready" not in view.row_text(banner).plain  # cut to its half
        detail = str(app.screen.query_one("#compare-detail", Static).render())
        assert "Microsoft ESMTP MAIL Service ready" in detail
        side = "EX01" if view.rows.row(banner)["side"] == 0 else "EX02"  # type: ignore[index]
        assert side in detail
        shown = " ".join(screen_text(app).split())  # the detail bar wraps
        assert "Microsoft ESMTP MAIL Service ready" in shown
