"""Helpers that read a generated tree back with the csv module (independent of mailhops.index)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

from mailhops.sample import Truth

HEADER_KEYS = ("#Software: ", "#Version: ", "#Log-type: ", "#Date: ", "#Fields: ")


def read_bytes(out: Path, rel: str) -> bytes:
    """Bytes of a truth path (``SERVER.zip!member`` for zip members)."""
    if "!" in rel:
        archive, member = rel.split("!", 1)
        with zipfile.ZipFile(out / archive) as zf:
            return zf.read(member)
    return (out / rel).read_bytes()


def parse_file(data: bytes) -> tuple[list[str], list[list[str]]]:
    """(header lines, data records) of one file; asserts the physical format."""
    assert data.startswith(b"\xef\xbb\xbf"), "BOM missing"
    assert data.count(b"\xef\xbb\xbf") == 1, "BOM repeated"
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in data.replace(b"\r\n", b""), "bare CR"
    lines = data[3:].decode("utf-8").split("\r\n")[:-1]
    head = lines[:5]
    for key, line in zip(HEADER_KEYS, head, strict=True):
        assert line.startswith(key), (key, line)
    assert not any(line.startswith("#") for line in lines[5:])
    records = []
    n_fields = len(head[4][len("#Fields: ") :].split(","))
    for line in lines[5:]:
        row = next(csv.reader(io.StringIO(line)))
        assert len(row) == n_fields, line
        records.append(row)
    return head, records


def protocol_sessions(out: Path, truth: Truth) -> dict[tuple[str, str, str], list[list[str]]]:
    """Rows of every protocol-log session keyed by (server, service, session id)."""
    sessions: dict[tuple[str, str, str], list[list[str]]] = defaultdict(list)
    for f in truth.files:
        if f["log_type"] not in ("smtp-receive", "smtp-send"):
            continue
        _, records = parse_file(read_bytes(out, f["path"]))
        for row in records:
            sessions[f["server"], f["service"] + "/" + f["log_type"], row[2]].append(row)
    return sessions


def line_counts(out: Path, truth: Truth) -> Counter[str]:
    """Data lines per truth file path."""
    return Counter({f["path"]: len(parse_file(read_bytes(out, f["path"]))[1]) for f in truth.files})
