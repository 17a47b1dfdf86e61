"""The one door through which log text reaches the screen, the clipboard or a text export.

Exchange logs carry text chosen by whoever connected: an EHLO name, a MAIL FROM address, a
reply line. A hostile client can put terminal escape sequences in them (``ESC ] 52 ; c ; ...
BEL`` writes the admin's clipboard, ``ESC [ 2 J`` clears the screen), bidi overrides that make
``evil.com`` read as ``moc.live``, or zero-width characters that hide text. The raw bytes stay
in the index for search; everything shown, copied or exported as text goes through
:func:`clean` (one string) or :func:`clean_expr` (a whole polars column).

The replacement is *visible*, not silent: an admin investigating an attack wants to see that
the EHLO name carried an escape sequence. Every character that could act on a terminal or hide
text is replaced by a printable ASCII escape:

* ``\\t``, ``\\n``, ``\\r`` become the two characters Exchange itself writes for them;
* every other C0 control, DEL and every C1 control becomes ``\\xNN``;
* bidi embeddings/overrides/isolates, zero-width and other invisible format characters, line
  and paragraph separators and Hangul fillers become ``\\uNNNN`` (``\\UNNNNNNNN`` above the BMP);
* lone surrogates (from ``surrogateescape`` decoding) become ``\\udcNN``.

Because the ESC and BEL/ST bytes of an escape sequence are replaced, a CSI/OSC/DCS sequence
becomes inert visible text (``\\x1b]52;c;...\\x07``). Backslashes already in the log (Exchange
writes ``\\r\\n`` as literal text) are left as they are.

This module does not make text safe for Rich/Textual *markup*: the app never parses log text as
markup (it builds ``Text`` objects, and notifications are sent with ``markup=False``). It imports
neither textual nor rich.
"""

from __future__ import annotations

import re
from typing import Final

import polars as pl

# Code point ranges (inclusive) of characters that are never shown as themselves. Hardcoded
# rather than computed from unicodedata at import (a 1.1M code point scan costs ~0.2 s at every
# start); tests/test_safe_text.py checks that every Cc/Cf/Zl/Zp/Cs character is covered.
_FORMAT_RANGES: Final[tuple[tuple[int, int], ...]] = (
    (0x00AD, 0x00AD),  # soft hyphen (invisible)
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x0600, 0x0605),  # Arabic number signs (Cf)
    (0x061C, 0x061C),  # Arabic letter mark (bidi)
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),  # Hangul fillers: invisible "letters"
    (0x17B4, 0x17B5),  # Khmer invisible vowels
    (0x180B, 0x180F),  # Mongolian variation selectors and vowel separator
    (0x200B, 0x200F),  # zero width space/non-joiner/joiner, LRM, RLM
    (0x2028, 0x2029),  # line and paragraph separators
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates, deprecated format
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero width no-break space / BOM
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1345F),  # Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE007F),  # tag characters: invisible ASCII look-alikes ("ASCII smuggling")
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
_SHORT: Final = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def _escape_code(code: int) -> str:
    """Return the visible ASCII escape for one unsafe code point."""
    if code in _SHORT:
        return _SHORT[code]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _build_table() -> dict[int, str]:
    codes = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
    for lo, hi in _FORMAT_RANGES:
        codes.extend(range(lo, hi + 1))
    return {code: _escape_code(code) for code in codes}


#: code point -> visible replacement; the same table drives :func:`clean` and :func:`clean_expr`.
TABLE: Final[dict[int, str]] = _build_table()
_SURROGATES: Final = range(0xD800, 0xE000)
_TRANSLATE: Final = {**TABLE, **{code: _escape_code(code) for code in _SURROGATES}}


def _char_class() -> str:
    parts = ["\\x00-\\x1f", "\\x7f-\\x9f", "\\ud800-\\udfff"]
    parts += [f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _FORMAT_RANGES]
    return "[" + "".join(parts) + "]"


# A quick "is there anything to do" scan; most log text is plain ASCII and skips translate().
_UNSAFE: Final = re.compile(_char_class())
# Polars (Rust regex) form of the same class, for filters such as "rows with hostile text".
UNSAFE_PATTERN: Final = (
    "["
    + "\\x00-\\x1f\\x7f-\\x9f"
    + "".join(f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in _FORMAT_RANGES)
    + "]"
)


def clean(text: str | None) -> str:
    """Return ``text`` with every control, bidi and invisible character visibly escaped.

    ``None`` becomes ``""``. The result contains no C0/C1 control character (so no terminal
    escape sequence can start), no bidi override and no zero-width character; printable text,
    including backslashes and ``[markup-like]`` brackets, is unchanged.
    """
    if not text:
        return ""
    if _UNSAFE.search(text) is None:
        return text
    return text.translate(_TRANSLATE)


def clean_json(value: object) -> object:
    """Return ``value`` (decoded JSON: dicts, lists, strings, numbers) with every string
    passed through :func:`clean`, so ``jq -r`` never prints a raw escape sequence."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def clean_expr(expr: pl.Expr) -> pl.Expr:
    """Return a polars expression applying :func:`clean` to a String column (nulls stay null).

    One Aho-Corasick pass (``str.replace_many``) over the whole column with the same table as
    :func:`clean`, so a million-row export costs a single vectorised scan.
    """
    return expr.str.replace_many(_POLARS_MAPPING)


_POLARS_MAPPING: Final = {chr(code): rep for code, rep in TABLE.items()}


def has_unsafe(text: str | None) -> bool:
    """Return True when ``text`` holds a character :func:`clean` would replace."""
    return bool(text) and _UNSAFE.search(text or "") is not None
