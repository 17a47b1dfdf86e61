"""Shown while the index builds: a progress bar with files, lines and MB per second."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, ProgressBar


def progress_text(progress: Any, elapsed: float) -> Text:
    """Return the progress line: files done of total, lines, and rates per second."""
    seconds = max(elapsed, 1e-6)
    files = f"{progress.files_done:,} / {progress.files_total:,} files"
    mb_done = progress.bytes_done / 1e6
    lines = f"{progress.lines_done:,} lines"
    rates = (
        f"{progress.files_done / seconds:,.0f} files/s · "
        f"{progress.lines_done / seconds:,.0f} lines/s · {mb_done / seconds:,.1f} MB/s"
    )
    return Text(f"{files} · {mb_done:,.1f} MB · {lines}\n{rates}")


class LoadingScreen(Screen[None]):
    """Progress of ``open_index``; replaced by the main screen when the index is ready."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__()
        self.paths = paths

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog loading"):
            yield Label(Text("Indexing Exchange transport logs", style="bold"))
            shown = ", ".join(self.paths[:3]) + (" …" if len(self.paths) > 3 else "")
            yield Label(Text(shown, style="dim"), id="loading-paths")
            yield ProgressBar(total=None, show_eta=False, id="loading-bar")
            yield Label(Text("Discovering files…"), id="loading-stats")
        yield Footer()

    def update_progress(self, progress: Any, elapsed: float) -> None:
        """Show one progress report."""
        bar = self.query_one(ProgressBar)
        bar.update(total=max(progress.bytes_total, 1), progress=progress.bytes_done)
        self.query_one("#loading-stats", Label).update(progress_text(progress, elapsed))

    def show_error(self, reason: str) -> None:
        """Replace the progress with the reason the index could not be opened."""
        self.query_one(ProgressBar).display = False
        message = Text("Cannot open the logs:\n", style="bold red")
        message.append(reason)
        message.append("\n\nPress q to quit.", style="dim")
        self.query_one("#loading-stats", Label).update(message)
