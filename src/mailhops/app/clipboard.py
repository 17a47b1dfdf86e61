"""Copying text out of the app: system clipboard, OSC 52, and always a pop-up.

Admins run mailhops on the server's console over RDP (a system clipboard exists: pyperclip),
over SSH from Windows Terminal or tmux (no system clipboard, but the terminal honours OSC 52:
Textual's ``copy_to_clipboard``), or from PuTTY (neither works): so the text is also shown in a
pop-up with everything selected, ready for the terminal's own copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailhops.safe_text import clean


def clean_multiline(text: str) -> str:
    """Return ``text`` cleaned line by line (real line breaks between lines are kept)."""
    return "\n".join(clean(line) for line in text.splitlines())


def system_copy(text: str) -> str | None:
    """Copy ``text`` with pyperclip; return None on success, else why it did not work."""
    try:
        import pyperclip
    except ImportError:
        return "pyperclip is not installed"
    try:
        pyperclip.copy(text)
    except pyperclip.PyperclipException as exc:
        return str(exc).splitlines()[0] if str(exc) else "no system clipboard"
    return None


@dataclass(frozen=True)
class CopyResult:
    """What happened when copying: which channels took the text."""

    what: str
    text: str
    system: bool
    osc52: bool
    system_error: str | None = None

    def message(self) -> str:
        """Return the notification text (plain, not markup)."""
        channels = []
        if self.system:
            channels.append("the system clipboard")
        if self.osc52:
            channels.append("the terminal clipboard (OSC 52)")
        how = " and ".join(channels) if channels else "no clipboard"
        note = "" if self.system else " No system clipboard here; if the paste is empty, copy"
        note += "" if self.system else " from the pop-up."
        return f"Copied {self.what} to {how}.{note}"
