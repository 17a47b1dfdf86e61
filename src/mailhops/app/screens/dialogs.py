"""Small modal dialogs: a one-line prompt and the copy pop-up."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, TextArea
from textual.widgets.text_area import Selection


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text; dismiss with the text (Enter) or None (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="prompt_cancel")
    ]

    def __init__(self, title: str, placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.title_text, style="bold"))
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        """Enter: return the text."""
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        """Escape: return None."""
        self.dismiss(None)


class CopyPopup(ModalScreen[None]):
    """The copied text, all selected, for terminals where no clipboard channel works."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Close", id="popup_close"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog copy-dialog"):
            yield Label(Text(self.title_text, style="bold"))
            yield TextArea(self.text, read_only=True, soft_wrap=False, id="copy-text")
            yield Label(
                Text("Text is selected: copy it with your terminal, then Esc.", style="dim")
            )

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        # Everything selected, cursor at the start so the text is shown from its beginning.
        area.selection = Selection(area.document.end, (0, 0))

    def action_close(self) -> None:
        """Close the pop-up."""
        self.dismiss(None)
