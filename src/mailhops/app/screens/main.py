"""The main screen: servers, connectors, filter bar, sessions, hop bar and transcript.

State flows down as attributes (the panes are told what to show); workers resolve the slow
parts (filtering a million sessions, a transcript, a chain) and post messages back.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, ClassVar

import polars as pl
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input

from mailhops.app.filters import FilterError, SessionFilter, parse_query
from mailhops.app.heap import GROWTH, Heap
from mailhops.app.history import History
from mailhops.app.messages import FilterApplied, SessionLoaded
from mailhops.app.pacing import PacedScreen
from mailhops.app.screens.actions import ActionsMixin
from mailhops.app.screens.hops import HopsMixin
from mailhops.app.screens.selection import SelectionMixin
from mailhops.app.screens.toggles import TogglesMixin
from mailhops.app.views import (
    connector_counts,
    connector_summary,
    connectors_of,
    server_summary,
)
from mailhops.app.widgets.hopbar import HopBar, hop_key
from mailhops.app.widgets.panes import ConnectorsPane, ServersPane
from mailhops.app.widgets.sessions import KeyIndex, SessionsTable, view_of
from mailhops.app.widgets.transcript import TranscriptView

#: Seconds without a key after which the heap is swept (a full collection, app/heap.py).
IDLE_SWEEP = 2.0
FILTER_HINT = "filter: text from: ip: sid: mid: after: before: outcome:failed|4xx|5xx noise:on"


@dataclass(frozen=True)
class ViewState:
    """What a reload carries over to the new main screen."""

    filter: SessionFilter
    key: str | None
    local_time: bool


class MainScreen(ActionsMixin, TogglesMixin, HopsMixin, SelectionMixin, PacedScreen):
    """Everything the admin works with, on one screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "right_square_bracket,l",
            "hop(1)",
            "Next hop",
            tooltip="Go to the next server's session in the chain",
            id="next_hop",
        ),
        Binding(
            "left_square_bracket,h",
            "hop(-1)",
            "Prev hop",
            tooltip="Go to the previous server's session in the chain",
            id="previous_hop",
        ),
        Binding(
            "o",
            "open_hop",
            "Open hop",
            show=False,
            tooltip="Open the hop under the hop bar cursor",
            id="open_hop_global",
        ),
        Binding(
            "alt+left,backspace", "back", "Back", tooltip="Back to the previous session", id="back"
        ),
        Binding(
            "alt+right",
            "forward",
            "Forward",
            show=False,
            tooltip="Forward again after Back",
            id="forward",
        ),
        Binding(
            "v",
            "compare",
            "Side by side",
            tooltip="Both ends of the hop under the hop bar cursor, aligned by time",
            id="compare",
        ),
        Binding("c", "copy_id", "Copy id", tooltip="Copy the selected session id", id="copy_id"),
        Binding(
            "C",
            "copy_chain",
            "Copy chain",
            tooltip="Copy the ticket-ready chain summary",
            id="copy_chain",
        ),
        Binding(
            "slash", "focus_filter", "Filter", tooltip="Type a filter (see its hint)", id="filter"
        ),
        Binding(
            "n",
            "toggle_noise",
            "Noise",
            tooltip="Show or hide health probes and connect-quit sessions",
            id="toggle_noise",
        ),
        Binding(
            "f",
            "cycle_outcome",
            "Failed/4xx/5xx",
            show=False,
            tooltip="Cycle the outcome filter: all, failed, 4xx, 5xx",
            id="cycle_outcome",
        ),
        Binding(
            "m",
            "next_message",
            "Next message",
            show=False,
            tooltip="Chain of the session's next message (a session can carry several)",
            id="next_message",
        ),
        Binding(
            "i",
            "goto_id",
            "Go to id",
            show=False,
            tooltip="Go to a session id, Message-ID or InternalId",
            id="goto_id",
        ),
        Binding(
            "e",
            "export",
            "Export",
            show=False,
            tooltip="Export the filtered sessions to CSV, JSON or Parquet",
            id="export",
        ),
        Binding(
            "t",
            "toggle_time",
            "UTC/local",
            show=False,
            tooltip="Show times in UTC or in local time",
            id="toggle_time",
        ),
        Binding(
            "s",
            "toggle_sidebar",
            "Servers",
            show=False,
            tooltip="Show or hide the servers and connectors panes",
            id="toggle_sidebar",
        ),
    ]

    def __init__(
        self,
        index: Any,
        *,
        debounce: float = 0.12,
        log_roots: list[str] | None = None,
        restore: ViewState | None = None,
    ):
        super().__init__()
        self.restore = restore
        self.index = index
        self.debounce = debounce
        self.log_roots = log_roots or []
        self.sessions: pl.DataFrame = index.sessions
        self._order: pl.Series | None = None  # row numbers in time order (filter worker)
        self._view: pl.DataFrame | None = None  # the columns the pane draws (filter worker)
        self._connector_counts: pl.DataFrame | None = None  # per server (summaries worker)
        self._keys: KeyIndex | None = None  # session key -> row (summaries worker)
        self.summaries_shown = False
        self._summarised = False
        self.filter = SessionFilter()
        self.history = History()
        self.current_key: str | None = None
        self.zone: tzinfo | None = None
        self.loaded: dict[str, SessionLoaded] = {}
        self.prefetching: set[str] = set()  # hop keys the prefetch worker is loading
        self.arrivals: dict[str, asyncio.Future[None]] = {}  # hop jumps waiting (HopsMixin)
        self.hopping = False
        self._timer: Timer | None = None
        self.heap = Heap()
        self.transcript_view: TranscriptView | None = None  # (mounted; read by workers)
        self._last_key = time.monotonic()
        self._swept = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            with Vertical(id="sidebar"):
                yield ServersPane(id="servers")
                yield ConnectorsPane(id="connectors")
            with Vertical(id="main"):
                yield Input(placeholder=FILTER_HINT, id="filter")
                # Each pane in a box of its own: a frame repaints the widgets whose box (clip)
                # holds a changed cell, so a moved cursor no longer redraws the other panes.
                with Container(id="sessions-box", classes="pane-box"):
                    yield SessionsTable(id="sessions")
                with Container(id="hops-box", classes="pane-box"):
                    yield HopBar(id="hops")
                with Container(id="transcript-box", classes="pane-box"):
                    yield TranscriptView(id="transcript")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#servers").border_title = "Servers"
        self.query_one("#connectors").border_title = "Connectors"
        self.query_one("#hops").border_title = "Hops"
        self.query_one("#transcript").border_title = "Transcript"
        self.transcript_view = self.query_one(TranscriptView)
        self.query_one(SessionsTable).focus()
        if self.restore is None:
            self.apply_filter(self.filter)
            return
        if self.restore.local_time:
            self.action_toggle_time()
        self.apply_filter(self.restore.filter, select=self.restore.key)

    def view_state(self) -> ViewState:
        """What a reload keeps: the filter, the selected session, UTC or local time."""
        return ViewState(self.filter, self.current_key, self.zone is not None)

    @work(thread=True, group="summaries", exit_on_error=False)
    def _summaries_worker(self) -> None:
        servers = server_summary(self.sessions, self.index.files, self.index.problems)
        counts = connector_counts(self.sessions)
        keys = getattr(self.index, "keys", None)  # LogIndex: built once, shared with session()
        if not isinstance(keys, KeyIndex):
            keys = KeyIndex(self.sessions["key"])
        self.app.call_from_thread(self._show_summaries, servers, counts, keys)

    def _show_summaries(self, servers: pl.DataFrame, counts: pl.DataFrame, keys: KeyIndex) -> None:
        self._connector_counts = counts
        self._keys = self.query_one(SessionsTable).keys = keys
        self.query_one(ServersPane).show(servers)
        self.query_one(ConnectorsPane).show(connectors_of(counts, None))
        self.summaries_shown = True
        # The index and the app are up: long-lived objects out of the collector's walks from
        # now on (app/heap.py); an idle moment sweeps whatever died frozen.
        self.heap.start()
        self.set_interval(1.0, self._sweep_when_idle)

    def on_key(self, event: events.Key) -> None:
        """Every key (handled or not) puts off the next heap sweep."""
        self._last_key = time.monotonic()
        self._swept = False

    def _sweep_when_idle(self) -> None:
        idle = not self._swept and time.monotonic() - self._last_key >= IDLE_SWEEP
        if idle or self.heap.grown > GROWTH:
            self._swept = True
            self.heap.sweep()

    def on_unmount(self) -> None:
        self.heap.stop()

    # --- filtering ----------------------------------------------------------------------
    def apply_filter(self, new: SessionFilter, select: str | None = None) -> None:
        """Evaluate ``new`` over all sessions in a worker; the pane updates when done."""
        self.filter = new
        self.query_one("#filter", Input).value = new.query()
        self._filter_worker(new, select)

    @work(thread=True, exclusive=True, group="filter", exit_on_error=False)
    def _filter_worker(self, new: SessionFilter, select: str | None) -> None:
        # Row numbers only, in time order: the pane gathers the few rows it shows.
        if self._order is None:
            self._order = _time_order(self.sessions)
        if self._view is None:
            self._view = view_of(self.sessions)
        if self._order.is_sorted():  # sessions already in time order: no gather
            rows = self.sessions.select(pl.arg_where(new.expr())).to_series()
        else:
            mask = self.sessions.select(new.expr()).to_series()
            rows = self._order.filter(mask.gather(self._order))
        self.post_message(FilterApplied(new, rows, self.sessions.height, select))

    @on(FilterApplied)
    def show_filtered(self, message: FilterApplied) -> None:
        """Show the filtered frame; keep the selected session under the cursor if still there."""
        if message.filter != self.filter:
            return
        if not self._summarised:
            # After the first rows are on screen: the aggregates must not delay them (their
            # polars work would also queue the pane's first window fetch behind it).
            self._summarised = True
            self.call_after_refresh(self._summaries_worker)
        table = self.query_one(SessionsTable)
        wanted = message.select or self.current_key
        table.set_frame(self.sessions, rows=message.rows, view=self._view, keys=self._keys)
        row = table.index_of(wanted) if wanted else None
        table.cursor = row if row is not None else 0
        shown, total = message.rows.len(), message.total
        title = f"Sessions {shown:,} of {total:,}"
        table.border_title = title
        table.border_subtitle = Text(message.filter.describe())
        if not shown:
            self.show_session(None)

    @on(Input.Submitted, "#filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        """Enter in the filter bar: parse and apply, then back to the sessions."""
        try:
            new = parse_query(event.value, self.filter)
        except FilterError as exc:
            self.notify(str(exc), title="Filter", severity="error", markup=False)
            return
        self.apply_filter(new)
        self.query_one(SessionsTable).focus()

    @on(DataTable.RowHighlighted, "#servers")
    def server_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """A server picked: show its connectors and scope the sessions to it."""
        server = self.query_one(ServersPane).selected_server()
        if self._connector_counts is not None:
            connectors = connectors_of(self._connector_counts, server)
        else:  # picked before the summaries are in (a test): one pass here
            connectors = connector_summary(self.sessions, server)
        self.query_one(ConnectorsPane).show(connectors)
        if server != self.filter.server:
            self.apply_filter(_scoped(self.filter, server, None))

    @on(DataTable.RowHighlighted, "#connectors")
    def connector_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """A connector picked: scope the sessions to it."""
        connector = self.query_one(ConnectorsPane).selected_connector()
        if connector != self.filter.connector:
            self.apply_filter(_scoped(self.filter, self.filter.server, connector))

    # --- selection ----------------------------------------------------------------------
    @on(SessionsTable.CursorMoved, "#sessions")
    def session_cursor(self, event: SessionsTable.CursorMoved) -> None:
        """Cursor on a session: it becomes the current entry of the history, then loads."""
        key = self.query_one(SessionsTable).current_key
        if key is None or key == self.current_key:
            return
        self.history.replace(key)
        self.show_session(key)

    def show_session(self, key: str | None, *, at_once: bool = False) -> None:
        """Make ``key`` the selected session; its transcript and chain resolve in a worker.

        The cursor moving over sessions waits ``debounce`` before loading (a held key does not
        queue a load per row); a hop jump or a go-to (``at_once``) loads straight away, and a
        hop of the chain on show is marked in the hop bar before its own chain is in.
        """
        self.current_key = key
        self.hopping = at_once  # following hops: prefetch the neighbours (see prefetch_near)
        if self._timer is not None:
            self._timer.stop()
        if key is None:
            self.query_one(TranscriptView).set_frame(pl.DataFrame(), "No session selected.")
            self.query_one(HopBar).set_chain(None, None, "No session selected.")
            return
        if key in self.loaded:
            self._show_loaded(self.loaded[key])
            return
        bar = self.query_one(HopBar)
        if bar.chain is not None and key in (hop_key(hop) for hop in bar.hops()):
            bar.set_chain(bar.chain, key)
        if key in self.prefetching:
            return  # on its way: session_loaded shows it
        if at_once or self.debounce <= 0:
            self._load_session(key)
        else:
            self._timer = self.set_timer(self.debounce, lambda: self._load_session(key))

    @on(SessionLoaded)
    def session_loaded(self, message: SessionLoaded) -> None:
        """Remember the result; show it if it is still the selected session."""
        if len(self.loaded) > 64:
            self.loaded.pop(next(iter(self.loaded)))
        self.loaded[message.key] = message
        arrival = self.arrivals.pop(message.key, None)
        if arrival is not None and not arrival.done():
            arrival.set_result(None)
        if message.key == self.current_key:
            self._show_loaded(message)

    def _show_loaded(self, loaded: SessionLoaded) -> None:
        transcript = self.query_one(TranscriptView)
        if transcript.rows.frame is not loaded.transcript:
            transcript.set_frame(loaded.transcript, drawn=loaded.drawn)
            transcript.border_title = Text(f"Transcript {loaded.key.replace('|', ' ')}")
        note = f"No chain: {loaded.error}" if loaded.error else ""
        bar = self.query_one(HopBar)
        bar.set_chain(loaded.chain, loaded.key, note)
        title = "Hops"
        if len(loaded.candidates) > 1:
            which = loaded.message % len(loaded.candidates) + 1
            title = f"Hops (message {which} of {len(loaded.candidates)}: m for next)"
        if bar.border_title != title:  # a title set redraws the whole pane
            bar.border_title = title
        # The chain's other hops load once this is on screen: a worker beside the frame that
        # draws it slowed that frame (both want the GIL). A hop jump to a hop still loading
        # waits for it a frame interval at most (HopsMixin.arrival).
        self.call_after_frame(lambda: self.prefetch_near(loaded))

    # --- moving between hops (the actions are in HopsMixin) ---------------------------
    @on(HopBar.OpenHop)
    def hop_opened(self, message: HopBar.OpenHop) -> None:
        """Enter on a hop in the hop bar."""
        self.goto_key(message.key)


def _time_order(sessions: pl.DataFrame) -> pl.Series:
    """Row numbers of ``sessions`` in start order: sorting one column, not every row.

    polars' arg_sort keeps equal times in index order (checked in tests/app/test_units.py),
    so sessions already in start order (a check of ~2 ms at 1M) are their own order.
    """
    start = sessions.get_column("start")
    if start.null_count() == 0 and start.is_sorted():
        return pl.arange(0, sessions.height, eager=True, dtype=pl.get_index_type())
    return sessions.select(pl.col("start").arg_sort(nulls_last=True)).to_series()


def _replace(old: SessionFilter, **changes: Any) -> SessionFilter:
    from dataclasses import replace

    return replace(old, **changes)


def _scoped(old: SessionFilter, server: str | None, connector: str | None) -> SessionFilter:
    return _replace(old, server=server, connector=connector)
