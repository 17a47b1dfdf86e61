"""Small hand-written LINES frames for the linker tests.

A session is written as a list of ``(event, data, context)`` rows; :func:`session` adds the
constant columns (server, service, direction, connector, session id, endpoints) and numbers
the rows (seq) and timestamps them one tenth of a second apart from ``t0``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from mailhops.index import schema

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)

Row = tuple[str, str, str]


def session(
    server: str,
    service: str,
    direction: str,
    sid: str,
    rows: list[Row],
    *,
    connector: str = "",
    local_ep: str = "",
    remote_ep: str = "",
    t0: datetime = T0,
    step_ms: int = 100,
    file_id: int = 0,
) -> pl.DataFrame:
    """Return one session's LINES rows."""
    n = len(rows)
    return pl.DataFrame(
        {
            "file_id": [file_id] * n,
            "line_no": list(range(6, 6 + n)),
            "ts": [t0 + timedelta(milliseconds=step_ms * i) for i in range(n)],
            "server": [server] * n,
            "service": [service] * n,
            "direction": [direction] * n,
            "connector": [connector] * n,
            "session_id": [sid] * n,
            "seq": list(range(n)),
            "local_ep": [local_ep] * n,
            "remote_ep": [remote_ep] * n,
            "event": [r[0] for r in rows],
            "data": [r[1] for r in rows],
            "context": [r[2] for r in rows],
        },
        schema=schema.LINES,
    )


def lines(*frames: pl.DataFrame) -> pl.LazyFrame:
    """Concatenate session frames into one LINES LazyFrame."""
    return pl.concat(frames).lazy()


def empty(table: dict[str, pl.DataType]) -> pl.LazyFrame:
    """An empty frame of a schema table."""
    return pl.DataFrame(schema=table).lazy()


def tracking(rows: list[dict[str, object]]) -> pl.LazyFrame:
    """TRACKING_LINES rows; missing fields are null."""
    cols = {c: [r.get(c) for r in rows] for c in schema.TRACKING_LINES}
    return pl.DataFrame(cols, schema=schema.TRACKING_LINES).lazy()


def connectivity(rows: list[dict[str, object]]) -> pl.LazyFrame:
    """CONNECTIVITY_LINES rows; missing fields are null."""
    cols = {c: [r.get(c) for r in rows] for c in schema.CONNECTIVITY_LINES}
    return pl.DataFrame(cols, schema=schema.CONNECTIVITY_LINES).lazy()
