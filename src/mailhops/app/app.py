"""MailhopsApp: loads the index in a worker, then hands over to the main screen."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from mailhops.app.messages import IndexFailed, IndexProgress, IndexReady, IndexReloaded
from mailhops.app.screens.help import HelpScreen
from mailhops.app.screens.loading import LoadingScreen
from mailhops.app.screens.main import MainScreen, ViewState
from mailhops.app.widgets.hopbar import HopBar
from mailhops.app.widgets.linelist import LineList
from mailhops.app.widgets.sessions import SessionsTable

Opener = Callable[..., Any]
#: Seconds a thread holding the GIL runs before another thread waiting for it gets it.
SWITCH_INTERVAL = 0.001


class MailhopsApp(App[int]):
    """The mailhops terminal app. Build it with :func:`mailhops.app.factory.create_app`."""

    TITLE = "mailhops"
    CSS_PATH = "app.tcss"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (110, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="Leave mailhops", id="quit"),
        Binding(
            "question_mark,f1", "help", "Help", tooltip="Every key, from the bindings", id="help"
        ),
        Binding(
            "r,f5",
            "reload",
            "Reload",
            tooltip="Read what the logs gained since they were opened (a live server's logs)",
            show=False,
            id="reload",
        ),
    ]

    def __init__(
        self,
        paths: list[str],
        *,
        cache_dir: str | None = None,
        index: Any = None,
        opener: Opener | None = None,
        debounce: float = 0.12,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.cache_dir = cache_dir
        self.index = index
        self.opener = opener
        self.debounce = debounce
        self.failure = ""
        self._switch_interval = sys.getswitchinterval()

    def on_mount(self) -> None:
        # Workers hand the GIL back between their polars calls; the UI thread holding it
        # for a frame made each of them wait up to 5 ms (Python's default switch interval),
        # a session load of 5 ms of work took 25. 1 ms keeps them moving while frames draw.
        sys.setswitchinterval(SWITCH_INTERVAL)
        if self.index is not None:
            self._show_main(self.index)
        else:
            self.push_screen(LoadingScreen(self.paths))
            self._load_index()

    def _open(self, **kwargs: Any) -> Any:
        """Open (build or refresh) the index of the app's paths with its opener."""
        opener = self.opener
        if opener is None:
            from mailhops.index.build import open_index as opener
        return opener(self.paths, cache_dir=self.cache_dir, **kwargs)

    @work(thread=True, exclusive=True, group="index", exit_on_error=False)
    def _load_index(self) -> None:
        started = time.perf_counter()

        def report(progress: Any) -> None:
            self.post_message(IndexProgress(progress, time.perf_counter() - started))

        self.post_message(IndexReady(self._open(progress=report)))

    @on(IndexProgress)
    def index_progress(self, message: IndexProgress) -> None:
        """Update the progress bar."""
        if isinstance(self.screen, LoadingScreen):
            self.screen.update_progress(message.progress, message.elapsed)

    @on(IndexReady)
    def index_ready(self, message: IndexReady) -> None:
        """Open the main screen on the fresh index."""
        self.index = message.index
        self._show_main(message.index)

    @on(IndexFailed)
    def index_failed(self, message: IndexFailed) -> None:
        """Say why the logs could not be opened (the app stays until q)."""
        if isinstance(self.screen, LoadingScreen):
            self.screen.show_error(message.reason)
        self.failure = message.reason

    def action_reload(self) -> None:
        """Read the logs again: grown and new files are parsed from where they were left
        and only their streams re-derived; the view keeps its filter and selection."""
        main = self.main
        if main is None or not self.paths:
            self.notify("Nothing to reload: no log folders were given.", severity="warning")
            return
        if self.screen is not main:
            self.notify("Close the dialog first, then reload.", severity="warning")
            return
        if any(w.group == "reload" and not w.is_finished for w in self.workers):
            self.notify("Already reloading.", severity="warning")
            return
        self.notify("Reloading: reading what the logs gained...", title="Reload")
        self._reload_index(main.view_state())

    @work(thread=True, exclusive=True, group="reload", exit_on_error=False)
    def _reload_index(self, state: ViewState) -> None:
        started = time.perf_counter()
        index = self._open()
        self.post_message(IndexReloaded(index, time.perf_counter() - started, state))

    @on(IndexReloaded)
    def index_reloaded(self, message: IndexReloaded) -> None:
        """Show the reloaded index in a new main screen with the old filter and selection."""
        old = self.main
        if old is None or self.screen is not old:  # a dialog opened meanwhile: keep it simple
            self.notify("Reload finished; press r again to show it.", severity="warning")
            return
        before = (len(old.index.sessions), _lines(old.index))
        self.index = message.index
        main = MainScreen(
            message.index, debounce=self.debounce, log_roots=self.paths, restore=message.state
        )
        self.switch_screen(main)
        gained = len(message.index.sessions) - before[0]
        lines = _lines(message.index) - before[1]
        self.notify(
            f"Reloaded in {message.elapsed:.1f} s: {lines:+,} lines, {gained:+,} sessions.",
            title="Reload",
            markup=False,
        )

    def on_unmount(self) -> None:
        sys.setswitchinterval(self._switch_interval)

    async def action_quit(self) -> None:
        """Quit; the exit code is 1 when the logs could not be opened."""
        self.exit(return_code=1 if self.failure else 0)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker failed: the index load becomes a clear message, others a notification."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        reason = f"{type(error).__name__}: {error}"
        if event.worker.group == "index":
            self.post_message(IndexFailed(reason))
        else:
            self.notify(reason, title="Error", severity="error", markup=False)

    def _show_main(self, index: Any) -> None:
        main = MainScreen(index, debounce=self.debounce, log_roots=self.paths)
        if isinstance(self.screen, LoadingScreen):
            self.switch_screen(main)
        else:
            self.push_screen(main)

    @property
    def main(self) -> MainScreen | None:
        """The main screen once the index is open."""
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    def action_help(self) -> None:
        """Show every key, grouped, from the bindings."""
        sections = [
            ("Everywhere", list(self.BINDINGS)),
            ("Sessions and hops", list(MainScreen.BINDINGS)),
            ("Sessions pane", list(SessionsTable.BINDINGS)),
            ("Hop bar", list(HopBar.BINDINGS)),
            ("Lists", list(LineList.BINDINGS)),
        ]
        self.push_screen(HelpScreen([(t, [_as_binding(b) for b in bs]) for t, bs in sections]))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Command palette: the main actions next to Textual's own (theme, quit, ...)."""
        yield from super().get_system_commands(screen)
        main = self.main
        if main is None:
            return
        yield SystemCommand(
            "Go to session id / Message-ID / InternalId",
            "Jump to a session by any of its ids",
            main.action_goto_id,
        )
        yield SystemCommand(
            "Time range", "Show sessions in a UTC time range", main.action_time_range
        )
        yield SystemCommand("Copy session id", "Copy the selected session id", main.action_copy_id)
        yield SystemCommand(
            "Copy chain summary", "Copy the ticket-ready chain text", main.action_copy_chain
        )
        yield SystemCommand(
            "Export filtered sessions", "Write CSV, JSON or Parquet", main.action_export
        )
        yield SystemCommand(
            "Toggle noise",
            "Show or hide probes and connect-quit sessions",
            main.action_toggle_noise,
        )
        yield SystemCommand(
            "Toggle UTC / local time", "Show times in UTC or local time", main.action_toggle_time
        )
        yield SystemCommand(
            "Side by side hop", "Both ends of the hop under the cursor", main.action_compare
        )
        yield SystemCommand(
            "Reload logs", "Read what the logs gained since they were opened", self.action_reload
        )


def _lines(index: Any) -> int:
    """The number of log lines an index holds (0 when it does not say)."""
    stats = getattr(index, "stats", None)
    return int(getattr(stats, "lines", 0) or 0)


def _as_binding(item: Any) -> Binding:
    return item if isinstance(item, Binding) else Binding(*item)


def bundled_sample_logs() -> Path | None:
    """Return the repository's ``sample_logs/`` folder when it exists."""
    candidate = Path(__file__).resolve().parents[3] / "sample_logs"
    return candidate if candidate.is_dir() else None
