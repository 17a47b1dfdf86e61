"""The main screen's view toggles: filter focus, noise, outcome, time zone, sidebar."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from textual.widgets import Input

from mailhops.app.filters import OUTCOME_CHOICES
from mailhops.app.widgets.hopbar import HopBar
from mailhops.app.widgets.sessions import SessionsTable
from mailhops.app.widgets.transcript import TranscriptView

if TYPE_CHECKING:
    from mailhops.app.screens.main import MainScreen

    _Base = MainScreen
else:
    _Base = object


class TogglesMixin(_Base):
    """Actions of :class:`MainScreen` that change what the panes show, not which session."""

    def action_focus_filter(self) -> None:
        """Focus the filter bar."""
        self.query_one("#filter", Input).focus()

    def action_toggle_noise(self) -> None:
        """Show or hide noise sessions."""
        new = replace(self.filter, show_noise=not self.filter.show_noise)
        self.apply_filter(new)
        self.notify("Noise shown." if new.show_noise else "Noise hidden.")

    def action_cycle_outcome(self) -> None:
        """Cycle the outcome filter through all, failed, 4xx and 5xx."""
        choices = list(OUTCOME_CHOICES)
        current = choices.index(self.filter.outcome) if self.filter.outcome in choices else 0
        self.apply_filter(replace(self.filter, outcome=choices[(current + 1) % len(choices)]))

    def action_toggle_time(self) -> None:
        """Show times in UTC or in the local time zone."""
        self.zone = None if self.zone is not None else datetime.now().astimezone().tzinfo
        self.query_one(SessionsTable).set_zone(self.zone)
        transcript = self.query_one(TranscriptView)
        transcript.zone = self.zone
        transcript.reset(transcript.cursor)
        hops = self.query_one(HopBar)
        hops.zone = self.zone
        hops.reset(hops.cursor)
        self.notify("Times in local time." if self.zone else "Times in UTC.")

    def action_toggle_sidebar(self) -> None:
        """Show or hide the servers and connectors panes."""
        self.query_one("#sidebar").toggle_class("-toggled")
