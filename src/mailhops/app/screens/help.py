"""The help screen, generated from the bindings (never a second hand-written list)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def bindings_table(
    sections: list[tuple[str, list[Binding]]], display: Callable[[Binding], str]
) -> Table:
    """Return a table of every binding: keys, description and tooltip, per section."""
    table = Table(box=None, expand=True, show_header=False, padding=(0, 1))
    table.add_column("Keys", style="bold cyan", no_wrap=True)
    table.add_column("Action", style="bold")
    table.add_column("What it does", style="dim")
    for title, bindings in sections:
        table.add_row(Text(title, style="bold underline"), Text(), Text())
        for binding in bindings:
            keys = " / ".join(display(Binding(key.strip(), "")) for key in binding.key.split(","))
            table.add_row(Text(keys), Text(binding.description), Text(binding.tooltip or ""))
    return table


class HelpScreen(ModalScreen[None]):
    """Every key of the app, grouped by where it works."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", "Close help", id="help_close")
    ]

    def __init__(self, sections: list[tuple[str, list[Binding]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Static(Text("mailhops keys", style="bold"))
            yield Static(bindings_table(self.sections, self.app.get_key_display))

    def action_close(self) -> None:
        """Close the help screen."""
        self.dismiss(None)
