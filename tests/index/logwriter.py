"""Write small hand-made SMTP protocol log files (BOM, CRLF, Exchange header) for tests."""

from __future__ import annotations

import os
from pathlib import Path

HEADER = (
    "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
    "#Log-type: SMTP {kind} Protocol Log\r\n#Date: 2026-03-02T10:00:00.000Z\r\n"
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context\r\n"
)


def write_log(path: Path, rows: list[str], kind: str = "Receive", header: bool = True) -> None:
    """Append protocol log rows (CRLF), with the BOM and header first when ``header``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        if header:
            fh.write(b"\xef\xbb\xbf" + HEADER.format(kind=kind).encode())
        fh.write("".join(r + "\r\n" for r in rows).encode())
    os.utime(path)
