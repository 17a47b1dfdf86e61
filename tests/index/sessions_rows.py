"""Hand-built LINES frames for the index tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from mailhops.index import schema

T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)


def lines_frame(
    rows: list[tuple[str, str, str]],
    *,
    sid: str = "08DE0000000000A1",
    server: str = "EX1",
    service: str = schema.FRONTEND,
    direction: str = schema.RECEIVE,
    connector: str = "EX1\\Default Frontend EX1",
    file_id: int = 1,
    start_seq: int = 0,
    start_line: int = 6,
) -> pl.DataFrame:
    """LINES rows of one session from (event, data, context) triples, seq counting up."""
    n = len(rows)
    return pl.DataFrame(
        {
            "file_id": [file_id] * n,
            "line_no": list(range(start_line, start_line + n)),
            "ts": [T0 + timedelta(seconds=start_seq + i) for i in range(n)],
            "server": [server] * n,
            "service": [service] * n,
            "direction": [direction] * n,
            "connector": [connector] * n,
            "session_id": [sid] * n,
            "seq": list(range(start_seq, start_seq + n)),
            "local_ep": ["10.0.3.4:25"] * n,
            "remote_ep": ["203.0.113.9:50000"] * n,
            "event": [r[0] for r in rows],
            "data": [r[1] for r in rows],
            "context": [r[2] for r in rows],
        },
        schema=schema.LINES,
    )
