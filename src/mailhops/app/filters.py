"""The sessions filter: a query string typed in the filter bar -> one polars expression.

Pure polars (no Textual), so it is tested without an app and reused by exports. The filter bar
takes free text plus ``key:value`` tokens, like lnav or a GitHub search box::

    contoso from:alice@ ip:203.0.113.5 sid:08DC mid:<abc@ after:2024-05-01T10:00 outcome:5xx

Tokens: ``from:``/``addr:`` (MAIL FROM or any recipient), ``ip:`` (either endpoint), ``sid:``,
``mid:`` (Message-ID or InternalId), ``after:``/``before:`` (UTC unless the value carries an
offset), ``outcome:`` (``failed``, ``4xx``, ``5xx`` or an outcome name), ``noise:on``. Every
match is a case-insensitive substring; everything else is free text matched against all text
columns. The matching is done on the raw index text, so a search can find hostile bytes.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import polars as pl

from mailhops.index.schema import FAILED_OUTCOMES, OUTCOMES

OUTCOME_CHOICES = ("all", "failed", "4xx", "5xx")
_TEXT_COLUMNS = ("session_id", "server", "connector", "remote_ep", "local_ep", "ehlo")
_TEXT_COLUMNS += ("mail_from", "last_reply", "detail", "auth", "banner")
_LIST_COLUMNS = ("rcpt_to", "message_ids", "internal_ids")
_TOKEN_KEYS = {
    "from": "address",
    "addr": "address",
    "to": "address",
    "ip": "ip",
    "sid": "session_id",
    "mid": "message_id",
    "after": "start",
    "before": "end",
    "outcome": "outcome",
    "noise": "show_noise",
}


class FilterError(ValueError):
    """A filter query the user typed cannot be understood (the message says why)."""


@dataclass(frozen=True)
class SessionFilter:
    """What the sessions pane shows; every field narrows (empty fields match everything)."""

    text: str = ""
    address: str = ""
    ip: str = ""
    session_id: str = ""
    message_id: str = ""
    start: datetime | None = None
    end: datetime | None = None
    outcome: str = "all"
    show_noise: bool = False
    server: str | None = None
    connector: str | None = None

    def expr(self) -> pl.Expr:
        """Return the boolean polars expression selecting the matching sessions."""
        parts: list[pl.Expr] = []
        if not self.show_noise:
            parts.append(~pl.col("noise").fill_null(False))
        if self.server:
            parts.append(pl.col("server") == self.server)
        if self.connector:
            parts.append(pl.col("connector") == self.connector)
        parts.extend(self._text_parts())
        if self.start is not None:
            parts.append(pl.col("end").fill_null(pl.col("start")) >= self.start)
        if self.end is not None:
            parts.append(pl.col("start") <= self.end)
        parts.extend(_outcome_parts(self.outcome))
        # A column, never a bare literal: arg_where(lit(True)) would be one row, not all.
        return pl.all_horizontal(parts) if parts else pl.repeat(True, pl.len())

    def _text_parts(self) -> list[pl.Expr]:
        parts: list[pl.Expr] = []
        for word in self.text.split():
            parts.append(_any_contains(_TEXT_COLUMNS, _LIST_COLUMNS, word))
        if self.address:
            parts.append(_any_contains(("mail_from",), ("rcpt_to",), self.address))
        if self.ip:
            parts.append(_any_contains(("remote_ep", "local_ep"), (), self.ip))
        if self.session_id:
            parts.append(_any_contains(("session_id",), (), self.session_id))
        if self.message_id:
            parts.append(_any_contains((), ("message_ids", "internal_ids"), self.message_id))
        return parts

    def apply(self, sessions: pl.DataFrame) -> pl.DataFrame:
        """Return the rows of ``sessions`` that match, in their original order."""
        return sessions.filter(self.expr())

    @property
    def is_narrowed(self) -> bool:
        """True when anything but the default noise rule hides rows."""
        return self != SessionFilter(show_noise=self.show_noise)

    def describe(self) -> str:
        """Return a short human summary for the pane title (plain text, not markup)."""
        bits = [self.query()] if self.query() else []
        if self.server:
            bits.append(f"server {self.server}")
        if self.connector:
            bits.append(f"connector {self.connector}")
        return ", ".join(bits)

    def query(self) -> str:
        """Return the filter-bar text that parses back into this filter's query fields."""
        words = [self.text] if self.text else []
        for name, value in (
            ("from", self.address),
            ("ip", self.ip),
            ("sid", self.session_id),
            ("mid", self.message_id),
        ):
            if value:
                words.append(f"{name}:{_quote(value)}")
        if self.start is not None:
            words.append(f"after:{self.start.strftime('%Y-%m-%dT%H:%M:%S')}")
        if self.end is not None:
            words.append(f"before:{self.end.strftime('%Y-%m-%dT%H:%M:%S')}")
        if self.outcome != "all":
            words.append(f"outcome:{self.outcome}")
        if self.show_noise:
            words.append("noise:on")
        return " ".join(words)


def _quote(value: str) -> str:
    return shlex.quote(value) if any(c.isspace() for c in value) else value


def _any_contains(columns: tuple[str, ...], lists: tuple[str, ...], needle: str) -> pl.Expr:
    """Case-insensitive literal substring match over string and list-of-string columns."""
    low = needle.lower()
    exprs = [pl.col(c).str.to_lowercase().str.contains(low, literal=True) for c in columns]
    exprs += [
        pl.col(c)
        .list.eval(pl.element().str.to_lowercase().str.contains(low, literal=True))
        .list.any()
        for c in lists
    ]
    return pl.any_horizontal(exprs).fill_null(False)


def _outcome_parts(outcome: str) -> list[pl.Expr]:
    if outcome == "all":
        return []
    if outcome == "failed":
        return [pl.col("outcome").is_in(list(FAILED_OUTCOMES))]
    if outcome in ("4xx", "5xx"):
        low = 400 if outcome == "4xx" else 500
        code = pl.col("error_code").cast(pl.Int32)  # not the last reply (221 to QUIT)
        return [code.is_between(low, low + 99).fill_null(False)]
    return [pl.col("outcome") == outcome]


def parse_time(value: str) -> datetime:
    """Parse an ISO date/time typed by the user; naive values are UTC."""
    text = value.strip().replace(" ", "T")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise FilterError(f"not a date/time: {value!r} (use 2024-05-01T10:00)") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_query(query: str, base: SessionFilter | None = None) -> SessionFilter:
    """Return ``base`` (scope kept) with its query fields replaced by those of ``query``."""
    try:
        words = shlex.split(query)
    except ValueError as exc:
        raise FilterError(f"unbalanced quotes in filter: {exc}") from exc
    fields: dict[str, object] = {}
    free: list[str] = []
    for word in words:
        key, sep, value = word.partition(":")
        target = _TOKEN_KEYS.get(key.lower()) if sep else None
        if target is None or not value:
            free.append(word)
            continue
        fields[target] = _token_value(target, value)
    base = base or SessionFilter()
    cleared = replace(
        base, text="", address="", ip="", session_id="", message_id="", start=None, end=None
    )
    cleared = replace(cleared, outcome="all", show_noise=False)
    return replace(cleared, text=" ".join(free), **fields)  # type: ignore[arg-type]


def _token_value(target: str, value: str) -> object:
    if target in ("start", "end"):
        return parse_time(value)
    if target == "outcome":
        choice = value.lower()
        if choice not in OUTCOME_CHOICES and choice not in OUTCOMES:
            names = ", ".join((*OUTCOME_CHOICES[1:], *OUTCOMES))
            raise FilterError(f"unknown outcome {value!r}; use one of {names}")
        return choice
    if target == "show_noise":
        return value.lower() in ("on", "yes", "true", "1", "show")
    return value
