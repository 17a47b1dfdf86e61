"""Hostile file sets for the fault tests: traversal and bomb zips, thousands of small logs.

Companion of :mod:`mailhops.hostile` (which damages a generated tree in place); standard library
only.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from mailhops.hostile import BOM, CRLF, RECV_FIELDS, _header_block, _sid, _template, filler_session

#: A zip member whose name carries an OSC 52 sequence, markup and a bidi override.
HOSTILE_MEMBER = "logs/\x1b]52;c;aGk=\x07[bold red]\u202e/RECV2026010100-2.LOG"


def make_traversal_zip(out: Path, log_bytes: bytes) -> list[str]:
    """A zip with ``../../evil.LOG``, an absolute path and a hostile member name.

    ``logs/RECV...-1.LOG`` is ``log_bytes``; :data:`HOSTILE_MEMBER` is ``log_bytes`` plus one
    bad line (so its name appears in the problem list); the traversal members must be
    skipped. Returns the member names.
    """
    members = ["logs/RECV2026010100-1.LOG", "../../evil.LOG", "/tmp/abs-evil.LOG"]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for m in members:
            zf.writestr(zipfile.ZipInfo(m, (2026, 1, 1, 0, 0, 0)), log_bytes)
        info = zipfile.ZipInfo(HOSTILE_MEMBER, (2026, 1, 1, 0, 0, 0))
        zf.writestr(info, log_bytes + b"broken,line" + CRLF)
    return [*members, HOSTILE_MEMBER]


def make_bomb_zip(out: Path, log_bytes: bytes, *, inflated_mb: int = 64) -> None:
    """A zip with one good member, a highly compressible huge member and a forged size.

    ``bomb/RECV...-2.LOG`` inflates to ``inflated_mb`` MB of NUL bytes; ``forged/RECV...-3.LOG``
    declares a 4 GB uncompressed size in both headers but holds a few bytes (its CRC check and
    size check fail when read).
    """
    chunk = b"\x00" * (1 << 20)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("good/RECV2026010100-1.LOG", log_bytes)
        with zf.open("bomb/RECV2026010100-2.LOG", "w", force_zip64=True) as fh:
            for _ in range(inflated_mb):
                fh.write(chunk)
        zf.writestr("forged/RECV2026010100-3.LOG", log_bytes[:64])
    _forge_size(out, b"forged/RECV2026010100-3.LOG", 0xFFFFFFF0)


def _forge_size(path: Path, name: bytes, size: int) -> None:
    """Overwrite the uncompressed size of member ``name`` in its local and central headers."""
    data = bytearray(path.read_bytes())
    raw = size.to_bytes(4, "little")
    # (signature, offset of uncompressed size, offset of name length, offset of name)
    for sig, size_at, len_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            n_len = int.from_bytes(data[i + len_at : i + len_at + 2], "little")
            if data[i + name_at : i + name_at + n_len] == name:
                data[i + size_at : i + size_at + 4] = raw
            start = i + 4
    path.write_bytes(bytes(data))


def make_many_files(folder: Path, count: int, tpl_source: bytes) -> int:
    """Write ``count`` small receive logs (one filler session each); returns data lines."""
    tpl = _template(tpl_source)
    header = BOM + b"".join(
        r + CRLF for r in _header_block("SMTP Receive Protocol Log", RECV_FIELDS)
    )
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(count):
        rows = filler_session(tpl, _sid(0x10000 + i))
        name = f"RECV202601{1 + i // 240:02d}{i // 10 % 24:02d}-{i % 10 + 1}.LOG"
        (folder / name).write_bytes(header + b"".join(r + CRLF for r in rows))
        total += len(rows)
    return total
