"""Sessions as records for scripts and spreadsheets: the ``mailhops sessions`` keys, times in
ISO 8601 UTC with a Z, log text cleaned of terminal controls, CSV cells a spreadsheet never
runs as formulas. The CLI and the app's export write the same records, in polars expressions
(a million sessions export in about a second); no Textual here."""

from __future__ import annotations

from datetime import UTC
from typing import Any, TextIO

import polars as pl

from mailhops.safe_text import clean_expr

#: The stable output keys, in order (JSON keys and CSV header).
KEYS = [
    "server",
    "service",
    "direction",
    "connector",
    "session_id",
    "start",
    "end",
    "local_endpoint",
    "remote_endpoint",
    "ehlo",
    "mail_from",
    "rcpt_to",
    "message_ids",
    "outcome",
    "detail",  # the line behind a failed outcome, null otherwise
]
_RENAME = {"local_ep": "local_endpoint", "remote_ep": "remote_endpoint"}
_TIME = "%Y-%m-%dT%H:%M:%S%.3fZ"


def iso(value: Any) -> str | None:
    """ISO 8601 UTC with a Z and milliseconds, as Exchange writes it."""
    if value is None:
        return None
    text: str = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return text + "Z"


def record_frame(sessions: pl.DataFrame) -> pl.DataFrame:
    """SESSIONS rows as records: exactly KEYS, times as ISO text, log text cleaned."""
    frame = sessions.rename(_RENAME).select(KEYS)
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            exprs.append(col.dt.convert_time_zone("UTC").dt.strftime(_TIME))
        elif dtype == pl.String:
            exprs.append(clean_expr(col))
        elif isinstance(dtype, pl.List):
            exprs.append(col.list.eval(clean_expr(pl.element())))
    return frame.with_columns(exprs)


def records(sessions: pl.DataFrame) -> list[dict[str, Any]]:
    """:func:`record_frame` as dicts (JSON objects)."""
    return record_frame(sessions).to_dicts()


def csv_frame(sessions: pl.DataFrame) -> pl.DataFrame:
    """:func:`record_frame` for CSV: lists joined with ';', and a leading quote before
    = + - @ so a spreadsheet never runs an Internet client's EHLO as a formula."""
    frame = record_frame(sessions)
    lists = [n for n, t in frame.schema.items() if isinstance(t, pl.List)]
    frame = frame.with_columns(pl.col(n).list.join(";") for n in lists)
    text = [n for n, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.when(pl.col(n).str.contains(r"^[=+\-@]"))
        .then(pl.lit("'") + pl.col(n))
        .otherwise(pl.col(n))
        .alias(n)
        for n in text
    )


def write_csv(sessions: pl.DataFrame, out: TextIO) -> None:
    """``sessions`` as CSV records with a KEYS header."""
    out.write(csv_frame(sessions).write_csv(line_terminator="\n"))
