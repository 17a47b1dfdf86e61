"""Find the log files under the paths the user gave: folders, loose files and ``.zip`` archives.

Nothing here ever writes or extracts: files are opened read-only, read and closed at once
(Exchange deletes old logs by itself and a held handle would block it); zip members are
read in memory. Every unreadable path, broken archive or suspicious member becomes a
:class:`Problem`, never an exception.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mailhops.index import schema
from mailhops.index.problems import Problem

#: A zip member larger than this (uncompressed) is not read.
MAX_MEMBER_BYTES = 2 << 30
#: ...nor one that expands more than this many times (text logs compress ~10-30x).
MAX_RATIO = 200
_RATIO_MIN_BYTES = 16 << 20  # small members may compress well beyond MAX_RATIO harmlessly

_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    ValueError,
    EOFError,
    RuntimeError,
    NotImplementedError,
)
_COLLECTOR = re.compile(r"^(fe|hub|mbx|edge)_\w*_logs$|^message_tracking_logs$", re.IGNORECASE)
_ANCHORS = {"v15", "v14", "v8", "transportroles", "exchangelogs"}
_GENERIC = {
    "exchange server",
    "microsoft",
    "program files",
    "exchange",
    "logs",
    "log",
    "exchangelogs",
}
_ROLE_WORDS = {
    "frontend": schema.FRONTEND,
    "hub": schema.HUB,
    "edge": schema.EDGE,
}


@dataclass(frozen=True)
class Source:
    """One candidate log: a file on disk or a member of a ``.zip`` archive."""

    path: str  # display path; zip member: "/abs/archive.zip!inner/path.LOG"
    size: int  # bytes (uncompressed for zip members)
    mtime_ns: int
    root: str = ""  # folder holding one server's logs (path hint) or ""
    server_hint: str = ""  # upper-case short name from the path, or ""
    service_hint: str = ""  # schema.SERVICES value from the path, or ""
    archive: str = field(default="", repr=False)  # the .zip on disk for a member
    member: str = field(default="", repr=False)  # the member name inside ``archive``

    def read(self, offset: int = 0) -> bytes:
        """Return the content from ``offset`` (raises OSError; never writes anything)."""
        if self.archive:
            try:
                with zipfile.ZipFile(self.archive) as zf, zf.open(self.member) as fh:
                    data = fh.read(MAX_MEMBER_BYTES + 1)
            except _ZIP_ERRORS as exc:
                raise OSError(f"cannot read {self.path}: {exc}") from exc
            return data[offset:]
        with open(self.path, "rb") as fh:  # open, read, close: never keep a handle
            if offset:
                fh.seek(offset)
            return fh.read()


def path_hints(parts: Sequence[str]) -> tuple[int, str, str]:
    """From path components return (index of the server component or -1, server, service).

    The server is the folder above the layout anchor (``V15``, ``V14``, ``TransportRoles``,
    ``ExchangeLogs``, an ExchangeLogCollector folder), skipping generic names such as
    ``Exchange Server``; the service comes from the role folders below the anchor.
    """
    lower = [p.lower() for p in parts]
    anchor = next(
        (i for i, p in enumerate(lower) if p in _ANCHORS or _COLLECTOR.match(p)),
        -1,
    )
    server_idx = -1
    if anchor > 0:
        server_idx = anchor - 1
        while server_idx >= 0 and _generic(lower[server_idx]):
            server_idx -= 1
    server = _short_name(parts[server_idx]) if server_idx >= 0 else ""
    return server_idx, server, _service(lower[max(anchor, 0) :])


def _generic(name: str) -> bool:
    return name in _GENERIC or name in _ANCHORS or bool(re.fullmatch(r"[a-z][:$]?", name))


def _short_name(name: str) -> str:
    short = name.split(".")[0].strip().upper()
    return short if re.fullmatch(r"[A-Z0-9][A-Z0-9_-]{0,62}", short) else ""


def _service(lower: Sequence[str]) -> str:
    """The transport service named by role folders (the one nearest the file wins)."""
    service = ""
    v14 = "v14" in lower
    for i, part in enumerate(lower):
        rest = lower[i + 1 :]
        if part in _ROLE_WORDS:
            service = _ROLE_WORDS[part]
        elif part == "mailbox" or part.startswith("mbx_"):
            service = _mailbox_service(part, rest)
        elif part.startswith("fe_"):
            service = schema.FRONTEND
        elif part.startswith("hub_"):
            service = schema.HUB
        elif part in ("delivery", "submission") and service in ("", schema.MAILBOX_DELIVERY):
            mailboxish = any(p == "mailbox" or p.startswith("mbx_") for p in lower[:i])
            if mailboxish:
                service = _mailbox_service(part, [])
    if not service and v14 and any(p in ("protocollog", "connectivity") for p in lower):
        service = schema.HUB  # Exchange 2010 Hub Transport: no role folders
    return service


def _mailbox_service(part: str, rest: Sequence[str]) -> str:
    words = [part, *rest]
    if any("submission" in w for w in words):
        return schema.MAILBOX_SUBMISSION
    if any("delivery" in w for w in words) or part == "mbx_receive_protocol_logs":
        return schema.MAILBOX_DELIVERY
    return ""


def _candidate(name: str) -> str:
    low = name.lower()
    return "log" if low.endswith(".log") else "zip" if low.endswith(".zip") else ""


def discover(paths: Sequence[str | Path]) -> tuple[list[Source], list[Problem]]:
    """Return the log sources under ``paths`` (sorted by path) and the problems found.

    Folders are walked recursively (``*.log`` and ``*.zip``, any case); a path given
    explicitly is always a candidate (a ``.zip`` is opened, anything else read as a log).
    """
    sources: dict[str, Source] = {}
    problems: list[Problem] = []
    for given in paths:
        path = Path(given).absolute()
        try:
            st = path.stat()
        except OSError as exc:
            problems.append(Problem(str(path), 0, schema.ERROR, f"cannot access: {_why(exc)}"))
            continue
        except ValueError as exc:  # e.g. an embedded NUL in the name
            problems.append(Problem(repr(str(path)), 0, schema.ERROR, f"bad path: {exc}"))
            continue
        if stat.S_ISDIR(st.st_mode):
            _walk(path, sources, problems)
        elif not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            problems.append(Problem(str(path), 0, schema.ERROR, "not a regular file: skipped"))
        elif _candidate(path.name) == "zip":
            _add_zip(path, st, sources, problems)
        else:
            _add_file(path, st, sources)
    return sorted(sources.values(), key=lambda s: s.path), problems


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _walk(top: Path, sources: dict[str, Source], problems: list[Problem]) -> None:
    def onerror(exc: OSError) -> None:
        problems.append(Problem(exc.filename or str(top), 0, schema.ERROR, _why(exc)))

    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror):
        dirnames.sort()
        for name in sorted(filenames):
            kind = _candidate(name)
            if not kind:
                continue  # truth files, READMEs, .etl ...: not logs
            path = Path(dirpath, name)
            try:
                st = path.stat()
            except OSError as exc:
                problems.append(Problem(str(path), 0, schema.ERROR, f"cannot access: {_why(exc)}"))
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if kind == "zip":
                _add_zip(path, st, sources, problems)
            else:
                _add_file(path, st, sources)


def _add_file(path: Path, st: os.stat_result, sources: dict[str, Source]) -> None:
    idx, server, service = path_hints(path.parts[:-1])
    root = str(Path(*path.parts[: idx + 1])) if idx >= 0 else ""
    sources[str(path)] = Source(str(path), st.st_size, st.st_mtime_ns, root, server, service)


def _unsafe_member(name: str) -> bool:
    """Absolute names, drive letters and ``..`` components: path traversal attempts."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return name.startswith(("/", "\\")) or ".." in parts or bool(re.match(r"^[A-Za-z]:", name))


def _add_zip(
    path: Path, st: os.stat_result, sources: dict[str, Source], problems: list[Problem]
) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (OSError, *_ZIP_ERRORS) as exc:
        problems.append(Problem(str(path), 0, schema.ERROR, f"cannot read zip: {exc}"))
        return
    for info in infos:
        if info.is_dir() or _candidate(info.filename) != "log":
            if _candidate(info.filename) == "zip":
                reason = f"nested zip not read: {info.filename}"
                problems.append(Problem(f"{path}!{info.filename}", 0, schema.WARNING, reason))
            continue
        reason = _member_problem(info)
        display = f"{path}!{info.filename}"
        if reason:
            problems.append(Problem(display, 0, schema.ERROR, reason))
            continue
        inner = info.filename.replace("\\", "/").split("/")[:-1]
        idx, server, service = path_hints([path.stem, *inner])
        root = ""
        if idx >= 0:
            root = f"{path}!" + "/".join(inner[:idx]) if idx else f"{path}!"
        sources[display] = Source(
            display, info.file_size, st.st_mtime_ns, root, server, service, str(path), info.filename
        )


def _member_problem(info: zipfile.ZipInfo) -> str:
    if _unsafe_member(info.filename):
        return "unsafe member name (path traversal): skipped"
    if info.file_size > MAX_MEMBER_BYTES:
        return f"member too large ({info.file_size} bytes uncompressed): skipped"
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > _RATIO_MIN_BYTES and ratio > MAX_RATIO:
        return f"suspicious compression ratio {ratio:.0f}:1 (zip bomb?): skipped"
    return ""
