"""Stand-ins for the parsing stages, used only while the package's own are missing.

``stages()`` returns the package's discover/parse/classify when they import, else small local
versions good enough for the cache and build tests (plain folders of protocol logs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from mailhops.index import schema
from mailhops.index.problems import Problem
from mailhops.index.stages import StageFns, stage_functions

HEADER = (
    "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
    "#Log-type: SMTP {kind} Protocol Log\r\n#Date: 2026-03-02T10:00:00.000Z\r\n"
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context\r\n"
)


@dataclass(frozen=True)
class StubSource:
    path: str
    size: int
    mtime_ns: int
    root: str
    server_hint: str
    service_hint: str

    def read(self, offset: int = 0) -> bytes:
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            return fh.read()


@dataclass
class StubParsed:
    log_type: str
    version: str
    fields: str
    frame: pl.DataFrame
    consumed_bytes: int
    consumed_lines: int
    bad_lines: int
    problems: list[Problem]


@dataclass
class StubClass:
    server: str
    server_source: str
    service: str
    direction: str


def discover(paths: Any) -> tuple[list[StubSource], list[Problem]]:
    out: list[StubSource] = []
    problems: list[Problem] = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            problems.append(Problem(str(p), 0, schema.ERROR, "no such file or directory"))
            continue
        files = [p] if p.is_file() else sorted(p.rglob("*"))
        for f in files:
            if f.is_file() and f.suffix.lower() == ".log":
                st = f.stat()
                server = f.relative_to(p).parts[0] if p.is_dir() else ""
                out.append(StubSource(str(f), st.st_size, st.st_mtime_ns, str(p), server, ""))
    return out, problems


def parse(
    data: bytes,
    path: str,
    *,
    offset: int = 0,
    line_no: int = 0,
    fields: str | None = None,
    log_type: str | None = None,
) -> StubParsed:
    text = data.decode("utf-8", "replace").lstrip("\ufeff")
    end = text.rfind("\n") + 1
    body = text[:end]
    lines = body.splitlines()
    kind = log_type or (schema.SMTP_SEND if "SMTP Send" in text[:400] else schema.SMTP_RECEIVE)
    rows = [(i + line_no + 1, ln) for i, ln in enumerate(lines) if not ln.startswith("#")]
    cols = [
        "ts",
        "connector",
        "session_id",
        "seq",
        "local_ep",
        "remote_ep",
        "event",
        "data",
        "context",
    ]
    recs = [dict(zip(cols, ln.split(","), strict=True), line_no=n) for n, ln in rows]
    frame = pl.DataFrame(recs, schema={**dict.fromkeys(cols, pl.String()), "line_no": pl.UInt32()})
    frame = frame.with_columns(
        pl.col("ts").str.to_datetime("%Y-%m-%dT%H:%M:%S%.3fZ", time_zone="UTC").cast(schema.TS),
        pl.col("seq").cast(pl.Int32),
    )
    return StubParsed(
        kind,
        "15.0.0.0",
        fields or "f",
        frame,
        offset + len(data[: data.rfind(b"\n") + 1]),
        line_no + len(lines),
        0,
        [],
    )


def classify(source: StubSource, parsed: Any) -> StubClass:
    low = source.path.lower()
    service = schema.HUB
    if "frontend" in low:
        service = schema.FRONTEND
    elif "delivery" in low:
        service = schema.MAILBOX_DELIVERY
    elif "submission" in low:
        service = schema.MAILBOX_SUBMISSION
    direction = schema.SEND if parsed.log_type == schema.SMTP_SEND else schema.RECEIVE
    return StubClass(source.server_hint, "path", service, direction)


def stages() -> StageFns:
    """The package's stages when available, else the stubs above."""
    try:
        return stage_functions()
    except ImportError:
        pass
    try:
        from mailhops.index.parse import parse as real_parse
    except ImportError:
        real_parse = parse  # type: ignore[assignment]
    return StageFns(discover, real_parse, classify, None, None, None, None)


def write_log(path: Path, rows: list[str], kind: str = "Receive", header: bool = True) -> None:
    """Append protocol log rows (CRLF), with the header first when ``header``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        if header:
            fh.write(b"\xef\xbb\xbf" + HEADER.format(kind=kind).encode())
        fh.write("".join(r + "\r\n" for r in rows).encode())
    os.utime(path)
