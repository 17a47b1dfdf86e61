"""safe_text: no control, bidi or invisible character survives; printable text is untouched."""

from __future__ import annotations

import sys
import unicodedata

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhops import safe_text
from mailhops.safe_text import clean, clean_expr, has_unsafe

UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}
HOSTILE = [
    "\x1b]52;c;ZXZpbA==\x07",  # OSC 52: writes the clipboard
    "\x1b[2J\x1b[H",  # clear screen, home
    "\x1bP1;2|payload\x1b\\",  # DCS ... ST
    "\x9b31m\x9d0;title\x9c",  # 8-bit CSI / OSC / ST
    "mail.\u202emoc.live",  # right-to-left override
    "ad\u200bmin\u2066x\u2069",  # zero width space, isolates
    "tag\U000e0041\U000e0042",  # tag characters
    "bell\x07nul\x00del\x7f",
]


def _is_unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in UNSAFE_CATEGORIES


def test_every_control_and_format_character_is_covered() -> None:
    # The table is hardcoded for start-up speed; this proves it covers the running Python's
    # Unicode database (C0, C1, format, separators, surrogates).
    missing = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if _is_unsafe(chr(code)) and clean(chr(code)) == chr(code)
    ]
    assert missing == []


def test_known_hostile_sequences_become_visible_escapes() -> None:
    assert clean("\x1b]52;c;ZXZpbA==\x07") == "\\x1b]52;c;ZXZpbA==\\x07"
    assert clean("\x1b[2J") == "\\x1b[2J"
    assert clean("a\u202eb") == "a\\u202eb"
    assert clean("x\U000e0041") == "x\\U000e0041"
    assert clean("tab\there\r\nend") == "tab\\there\\r\\nend"


def test_plain_text_and_exchange_literal_escapes_are_unchanged() -> None:
    line = r"250 2.6.0 <a@b> [InternalId=123] Queued mail for delivery \r\n"
    assert clean(line) == line
    assert clean("[bold red]x[/]") == "[bold red]x[/]"
    assert clean("Zoë Müller 東京 émoji 😀") == "Zoë Müller 東京 émoji 😀"


def test_none_and_empty() -> None:
    assert clean(None) == ""
    assert clean("") == ""
    assert not has_unsafe(None)
    assert has_unsafe("a\x1bb")
    assert not has_unsafe("abc")


@given(st.text())
def test_clean_output_has_no_unsafe_character(text: str) -> None:
    out = clean(text)
    assert not any(_is_unsafe(ch) for ch in out)
    assert all(ord(ch) >= 0x20 and not 0x7F <= ord(ch) <= 0x9F for ch in out)
    assert not has_unsafe(out)


@given(st.text(alphabet=st.characters(exclude_categories=("Cc", "Cf", "Zl", "Zp", "Cs"))))
def test_clean_keeps_printable_text(text: str) -> None:
    # Variation selectors and Hangul fillers are printable categories we still escape.
    if not has_unsafe(text):
        assert clean(text) == text


@given(st.text())
def test_clean_is_idempotent(text: str) -> None:
    once = clean(text)
    assert clean(once) == once


@settings(max_examples=60)
@given(st.lists(st.one_of(st.none(), st.text(), st.sampled_from(HOSTILE)), max_size=20))
def test_clean_expr_matches_clean(values: list[str | None]) -> None:
    # Polars strings cannot hold lone surrogates; drop them for the column version.
    values = [v if v is None else v.encode("utf-8", "ignore").decode() for v in values]
    got = pl.DataFrame({"s": values}, schema={"s": pl.String}).select(clean_expr(pl.col("s")))
    expected = [None if v is None else clean(v) for v in values]
    assert got["s"].to_list() == expected


def test_unsafe_pattern_agrees_in_polars() -> None:
    values = [*HOSTILE, "plain", "東京"]
    got = pl.Series(values).str.contains(safe_text.UNSAFE_PATTERN).to_list()
    assert got == [has_unsafe(v) for v in values]


def test_safe_text_imports_neither_rich_nor_textual() -> None:
    import subprocess

    code = (
        "import sys, mailhops.safe_text; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('rich', 'textual')]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
