"""Fault injector: damage a generated log tree at known places and record what must happen.

The adversarial tests (tests/hostile/) and ``benchmarks/bench_hostile.py`` start from a copy of
a tree written by :mod:`mailhops.sample`, call :func:`inject` on it and compare the index built
from the damaged tree with the returned :class:`FaultTruth`: which data lines must be indexed,
which physical lines must be reported as bad (file and line), which lines are indexed with a
warning (undecodable bytes), which files must carry a file-level problem, and which partial last
line must be held back.

Every injected data line belongs to a session whose id starts with ``0BAD``, so injected
content never merges into a generated session. Hostile-but-valid sessions (terminal escapes,
bidi overrides, markup in EHLO / MAIL FROM / RCPT TO / data / context) are listed in
:attr:`FaultTruth.hostile_sessions` for ``show`` / ``trace`` / ``sessions`` tests.

Standard library only: the injector must not depend on the code it tests. Zips and
thousands of small files are built by :mod:`mailhops.hostile_files`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

CRLF: Final = b"\r\n"
BOM: Final = b"\xef\xbb\xbf"
RECV_FIELDS: Final = (
    "date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,"
    "event,data,context"
)

#: Payloads that must never act on a terminal or be parsed as markup, by name.
PAYLOADS: Final[dict[str, str]] = {
    "osc52": "\x1b]52;c;ZWNobyBwd25lZA==\x07",
    "clear": "\x1b[2J\x1b[H",
    "c1": "\x85\x9b31m\x9d0;t\x9c",
    "bidi": "\u202egnp.exe\u202c",
    "bold": "[bold red]",
    "link": "[link=http://x]",
    "click": "[@click=app.quit]",
}
#: Literal text that must appear as itself wherever markup would have been interpreted.
MARKUP_LITERALS: Final = ("[bold red]", "[link=http://x]", "[@click=app.quit]")

#: Byte-level damage that parsers must survive; value: (line bytes template, kind).
#: ``{p}`` is a valid line prefix "ts,connector,sid,seq,local,remote".
BAD_TEMPLATES: Final[dict[str, bytes]] = {
    "unbalanced_quote": b'{p},<,"EHLO unbalanced.example,',
    "too_few_fields": b"{p}",
    "too_many_fields": b"{p},<,EHLO many.example,ctx,extra1,extra2",
    "nul_line": b"\x00" * 300,
    "nul_in_field": b"{p},<,EHLO nul\x00byte.example,",
    "multi_mb_line": b"{p},*,{big},multi-megabyte line",
    "garbage": b"\xde\xad\xbe\xef not a log line at all",
    "bad_timestamp": b"{bp},<,EHLO badtime.example,",
}
#: A long line that must still be indexed (parse.py's limit is 1 MiB; Exchange writes far less).
LONG_VALID_BYTES: Final = 900_000
#: Lines indexed with a WARNING: raw bytes that are not valid UTF-8 (Exchange logs wire bytes).
WARN_TEMPLATES: Final[dict[str, bytes]] = {
    "invalid_utf8_ehlo": b"{p},<,EHLO \xff\xfe\xc3(bad-utf8.example,",
    "cp1252_mail_from": b"{p},<,MAIL FROM:<j\xf6rg@\x93quoted\x94.example> SIZE=100,",
    "raw_c1_byte": b"{p},<,EHLO raw\x9b31mc1.example,",
}


@dataclass
class FileTruth:
    """What indexing one file of the damaged tree must produce."""

    path: str  # absolute path as given to discovery
    valid_lines: int  # data lines that must be indexed
    bad: dict[int, str] = field(default_factory=dict)  # physical line -> fault kind (error)
    warn: dict[int, str] = field(default_factory=dict)  # line indexed with a warning
    file_problem: str = ""  # fault kind of an expected file-level problem (line 0)
    file_severity: str = ""  # its severity: error (skipped), warning (repaired), info
    held_back: int = 0  # physical line number of a partial last line (info, not counted)


@dataclass
class FaultTruth:
    """The injected faults of one tree, file by file."""

    root: Path
    files: dict[str, FileTruth]
    hostile_sessions: dict[str, str]  # session id -> payload name
    hostile_server: str  # server short name of the file holding the hostile sessions
    hostile_send_sessions: dict[str, str] = field(default_factory=dict)  # hostile remote MX
    hostile_message_ids: dict[str, str] = field(default_factory=dict)  # tracking Message-IDs
    injected: dict[str, list[str]] = field(default_factory=dict)  # fault kind -> paths

    @property
    def valid_total(self) -> int:
        """Data lines the index must hold."""
        return sum(f.valid_lines for f in self.files.values())

    def bad_set(self) -> set[tuple[str, int]]:
        """(path, line) of every line that must be reported as bad."""
        return {(f.path, n) for f in self.files.values() for n in f.bad}

    def warn_set(self) -> set[tuple[str, int]]:
        """(path, line) of every line that must be indexed with a warning."""
        return {(f.path, n) for f in self.files.values() for n in f.warn}

    def file_problem_paths(self) -> set[str]:
        """Paths that must carry a file-level (line 0) problem."""
        return {f.path for f in self.files.values() if f.file_problem}


# --- reading a tree -----------------------------------------------------------------------


def _headers(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in data.removeprefix(BOM).split(b"\n"):
        if not raw.startswith(b"#"):
            continue
        key, _, value = raw[1:].decode("utf-8", "replace").partition(":")
        out.setdefault(key.strip().lower(), value.strip())
    return out


def count_data_lines(data: bytes) -> int:
    """Complete (line-feed terminated) non-empty lines that are not ``#`` headers."""
    lines = data.removeprefix(BOM).split(b"\n")[:-1]
    return sum(1 for ln in lines if ln.strip(b"\r") and not ln.startswith(b"#"))


def log_files(tree: Path) -> list[Path]:
    """Every ``*.log`` file under ``tree`` (any case), sorted."""
    return sorted(p for p in tree.rglob("*") if p.is_file() and p.suffix.lower() == ".log")


def _pick(files: list[Path], log_type: str, hint: str) -> list[Path]:
    """Files of ``log_type`` with at least 20 data lines, preferring paths containing ``hint``."""
    found = []
    for p in files:
        data = p.read_bytes()
        if _headers(data).get("log-type") == log_type and count_data_lines(data) >= 20:
            found.append(p)
    preferred = [p for p in found if hint.lower() in str(p).lower()]
    return preferred or found


# --- building lines -----------------------------------------------------------------------


def csv_field(value: bytes) -> bytes:
    """Quote a field the way Exchange does: only when it holds a comma or a quote."""
    if b"," in value or b'"' in value:
        return b'"' + value.replace(b'"', b'""') + b'"'
    return value


@dataclass(frozen=True)
class _Template:
    ts: bytes
    connector: bytes
    local: bytes
    remote: bytes

    def row(self, sid: str, seq: int, event: str, data: str | bytes, ctx: str = "") -> bytes:
        d = data.encode() if isinstance(data, str) else data
        head = b",".join([self.ts, self.connector, sid.encode(), str(seq).encode()])
        tail = [self.local, self.remote, event.encode(), csv_field(d), csv_field(ctx.encode())]
        return b",".join([head, *tail])

    def prefix(self, sid: str, seq: int) -> bytes:
        return self.row(sid, seq, "+", b"").rsplit(b",", 3)[0]


def _template(data: bytes) -> _Template:
    for raw in data.removeprefix(BOM).split(b"\n"):
        if raw and not raw.startswith(b"#"):
            cells = raw.rstrip(b"\r").split(b",")
            ts, connector, local, remote = cells[0], cells[1], cells[4], cells[5]
            if connector.startswith(b'"'):  # a connector name with a comma: keep it simple
                connector = b"Hostile Test Connector"
            return _Template(ts, connector, local or b"10.0.3.4:25", remote or b"192.0.2.66:4444")
    raise ValueError("no data line to copy a template from")


def filler_session(tpl: _Template, sid: str) -> list[bytes]:
    """A short, well-formed receive session (connect, banner, EHLO, QUIT, disconnect)."""
    return [
        tpl.row(sid, 0, "+", ""),
        tpl.row(sid, 1, ">", "220 mail.contoso.com Microsoft ESMTP MAIL Service ready"),
        tpl.row(sid, 2, "<", "EHLO filler.example"),
        tpl.row(sid, 3, "<", "QUIT"),
        tpl.row(sid, 4, "-", "", "QuitVerb"),
    ]


def hostile_session(tpl: _Template, sid: str, payload: str) -> list[bytes]:
    """A complete session carrying ``payload`` in EHLO, MAIL FROM, RCPT TO, data and context."""
    p = payload
    return [
        tpl.row(sid, 0, "+", ""),
        tpl.row(sid, 1, ">", f"220 mail.contoso.com {p} Microsoft ESMTP MAIL Service ready"),
        tpl.row(sid, 2, "<", f"EHLO evil{p}.example"),
        tpl.row(sid, 3, ">", "250 mail.contoso.com Hello"),
        tpl.row(sid, 4, "<", f"MAIL FROM:<x{p}@evil.example> SIZE=1024"),
        tpl.row(sid, 5, ">", "250 2.1.0 Sender OK"),
        tpl.row(sid, 6, "<", f"RCPT TO:<v{p}@contoso.com>"),
        tpl.row(sid, 7, ">", "250 2.1.5 Recipient OK"),
        tpl.row(sid, 8, "*", f"hostile data {p}", f"hostile context {p}"),
        tpl.row(sid, 9, "<", "QUIT"),
        tpl.row(sid, 10, "-", "", f"Remote{p}"),
    ]


def hostile_send_session(tpl: _Template, sid: str, payload: str) -> list[bytes]:
    """A send session to a hostile server: its banner and replies carry ``payload``."""
    p = payload
    first = _Template(tpl.ts, tpl.connector, b"", tpl.remote)
    return [
        first.row(sid, 0, "*", "", "attempting to connect"),
        tpl.row(sid, 1, "+", ""),
        tpl.row(sid, 2, "<", f"220 mx.evil.example {p} ESMTP"),
        tpl.row(sid, 3, ">", "EHLO mail.contoso.com"),
        tpl.row(sid, 4, "<", f"250 mx.evil.example Hello {p}"),
        tpl.row(sid, 5, ">", "MAIL FROM:<alice@contoso.com> SIZE=2048"),
        tpl.row(sid, 6, "<", f"550 5.7.1 {p} rejected"),
        tpl.row(sid, 7, "-", "", "Local"),
    ]


def tracking_row(fields: list[str], ts: bytes, msg_id: str, payload: str) -> bytes:
    """A message tracking RECEIVE row whose subject, sender and recipient carry ``payload``."""
    p = payload
    values = {
        "date-time": ts.decode(),
        "client-ip": "192.0.2.66",
        "client-hostname": f"evil{p}.example",
        "source": "SMTP",
        "event-id": "RECEIVE",
        "message-id": msg_id,
        "recipient-address": f"v{p}@contoso.com",
        "recipient-count": "1",
        "total-bytes": "2048",
        "message-subject": f"Invoice {p}, overdue",
        "sender-address": f"x{p}@evil.example",
        "return-path": f"x{p}@evil.example",
    }
    return b",".join(csv_field(values.get(f.strip().lower(), "").encode()) for f in fields)


def _sid(n: int) -> str:
    return f"0BAD{n:012X}"


# --- the injector -------------------------------------------------------------------------


class _Editor:
    """One file as a list of (line bytes, kind); kind: data|header|bad:x|warn:x."""

    def __init__(self, path: Path) -> None:
        self.path = path
        data = path.read_bytes()
        self.bom = data.startswith(BOM)
        body = data.removeprefix(BOM)
        self.partial = b""
        parts = body.split(b"\n")
        self.partial = parts.pop()  # b"" when the file ends with a line feed
        self.rows: list[tuple[bytes, str]] = [
            (ln.rstrip(b"\r"), "header" if ln.startswith(b"#") else "data") for ln in parts
        ]

    def insert(self, rng: random.Random, rows: list[tuple[bytes, str]]) -> None:
        first_data = next(i for i, r in enumerate(self.rows) if r[1] == "data")
        at = rng.randint(first_data + 1, len(self.rows))
        self.rows[at:at] = rows

    def write(self, truth: FileTruth, *, cut_last: bool = False) -> None:
        """Write the file back and record its line numbers in ``truth``."""
        if cut_last:  # cut the last data line in half: a half-written append
            last, _ = self.rows.pop()
            self.partial = last[: max(1, len(last) // 2)]
        body = b"".join(r + CRLF for r, _ in self.rows) + self.partial
        self.path.write_bytes((BOM if self.bom else b"") + body)
        truth.valid_lines = sum(1 for _, k in self.rows if k == "data" or k.startswith("warn:"))
        for n, (_, kind) in enumerate(self.rows, start=1):
            if kind.startswith("bad:"):
                truth.bad[n] = kind[4:]
            elif kind.startswith("warn:"):
                truth.warn[n] = kind[5:]
        truth.held_back = len(self.rows) + 1 if self.partial else 0


def _header_block(log_type: str, fields: str | None) -> list[bytes]:
    rows = [
        b"#Software: Microsoft Exchange Server",
        b"#Version: 15.0.0.0",
        f"#Log-type: {log_type}".encode(),
        b"#Date: 2026-01-01T00:00:00.000Z",
    ]
    return [*rows, f"#Fields: {fields}".encode()] if fields is not None else rows


def _new_files(tpl: _Template, seq: int) -> dict[str, tuple[bytes, str, str, int]]:
    """Whole-file faults: name -> (content, fault kind, severity, valid data lines).

    Aligned with parse.py: a missing ``#Fields`` assumes the standard fields (warning, lines
    indexed); an unknown ``#Log-type`` or a file without one is skipped (error, no bad lines);
    an empty or headers-only file is an info.
    """
    fill_a = filler_session(tpl, _sid(seq)) + filler_session(tpl, _sid(seq + 1))
    fill_b = filler_session(tpl, _sid(seq + 2))
    recv = "SMTP Receive Protocol Log"
    nofields = b"".join(r + CRLF for r in _header_block(recv, None) + fill_a)
    unknown = b"".join(r + CRLF for r in _header_block("Frobnicator Log", RECV_FIELDS) + fill_b)
    only_headers = b"".join(r + CRLF for r in _header_block(recv, RECV_FIELDS))
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    return {
        "RECV2026010100-901.LOG": (BOM + nofields, "missing_fields", "warning", len(fill_a)),
        "RECV2026010100-902.LOG": (BOM + only_headers, "headers_only", "info", 0),
        "RECV2026010100-903.LOG": (b"", "zero_byte", "info", 0),
        "RECV2026010100-904.LOG": (BOM, "bom_only", "info", 0),
        "RECV2026010100-905.LOG": (BOM + unknown, "unknown_log_type", "error", 0),
        "RECV2026010100-906.LOG": (png, "not_a_log", "error", 0),
        "RECV2026010100-907.LOG": (b"Meeting notes\r\nnot, a, log\r\n", "not_a_log", "error", 0),
    }


def inject(tree: Path, *, seed: int) -> FaultTruth:
    """Inject every fault of issue 5 into the generated tree ``tree`` (modified in place).

    Existing files keep their generated lines (their count comes from the files themselves);
    damaged, hostile and filler lines are inserted between them at seeded random places; new
    whole-file faults are written next to the chosen Front End receive log.
    """
    rng = random.Random(seed)
    tree = tree.resolve()
    files = log_files(tree)
    truth = FaultTruth(tree, {}, {}, "")
    for p in files:
        truth.files[str(p)] = FileTruth(str(p), count_data_lines(p.read_bytes()))
    receive = _pick(files, "SMTP Receive Protocol Log", "frontend")
    if len(receive) < 2:
        raise ValueError(f"{tree}: need two SMTP receive logs with 20+ lines to inject into")
    target, tail = receive[0], receive[-1]
    tpl = _template(target.read_bytes())
    truth.hostile_server = tpl.connector.split(b"\\")[0].decode()
    _inject_lines(truth, target, tpl, rng)
    _inject_send(truth, files, rng)
    _hostile_name(truth, target.parent, tpl)
    _inject_tracking(truth, files, rng)
    _truncate_tail(truth, tail)
    for name, (content, kind, severity, valid) in _new_files(tpl, 0x900).items():
        path = target.parent / name
        path.write_bytes(content)
        ft = FileTruth(str(path), valid, file_problem=kind, file_severity=severity)
        if content.removeprefix(BOM) and not content.endswith(b"\n"):
            ft.held_back = content.count(b"\n") + 1
        truth.files[str(path)] = ft
        truth.injected.setdefault(kind, []).append(str(path))
    return truth


def _inject_lines(truth: FaultTruth, target: Path, tpl: _Template, rng: random.Random) -> None:
    ed = _Editor(target)
    n = 0x100
    for name, payload in PAYLOADS.items():
        sid = _sid(n)
        truth.hostile_sessions[sid] = name
        ed.insert(rng, [(r, "data") for r in hostile_session(tpl, sid, payload)])
        n += 1
    long_row = tpl.row(_sid(n), 0, "*", "L" * LONG_VALID_BYTES, "long but valid line")
    ed.insert(rng, [(long_row, "data")])
    for kind, raw in BAD_TEMPLATES.items():
        n += 1
        line = raw.replace(b"{p}", tpl.prefix(_sid(n), 1))
        line = line.replace(b"{big}", b"X" * 3_000_000)
        line = line.replace(b"{bp}", tpl.prefix(_sid(n), 1).replace(tpl.ts, b"2026-13-45T99:99"))
        ed.insert(rng, [(line, f"bad:{kind}")])
    for kind, raw in WARN_TEMPLATES.items():
        n += 1
        ed.insert(rng, [(raw.replace(b"{p}", tpl.prefix(_sid(n), 2)), f"warn:{kind}")])
    ed.insert(rng, [(r, "header") for r in _header_block("SMTP Receive Protocol Log", RECV_FIELDS)])
    ed.write(truth.files[str(target)])
    for kind in ["hostile", "long_valid_line", *BAD_TEMPLATES, *WARN_TEMPLATES, "mid_file_header"]:
        truth.injected.setdefault(kind, []).append(str(target))


#: A file name carrying an OSC 52 sequence and markup (a name chosen by whoever built a zip).
HOSTILE_NAME: Final = "RECV2026010100-908\x1b]52;c;aGk=\x07[bold red]\u202e.LOG"


def _hostile_name(truth: FaultTruth, folder: Path, tpl: _Template) -> None:
    """A log whose file name is hostile; it holds one filler session and one bad line."""
    rows = _header_block("SMTP Receive Protocol Log", RECV_FIELDS)
    data_rows = filler_session(tpl, _sid(0x908))
    path = folder / HOSTILE_NAME
    path.write_bytes(BOM + b"".join(r + CRLF for r in [*rows, *data_rows, b"broken,line"]))
    ft = FileTruth(str(path), len(data_rows), bad={len(rows) + len(data_rows) + 1: "hostile_name"})
    truth.files[str(path)] = ft
    truth.injected.setdefault("hostile_file_name", []).append(str(path))


def _inject_send(truth: FaultTruth, files: list[Path], rng: random.Random) -> None:
    send = _pick(files, "SMTP Send Protocol Log", "hub")
    if not send:
        return
    ed = _Editor(send[0])
    tpl = _template(send[0].read_bytes())
    for i, (name, payload) in enumerate(PAYLOADS.items()):
        sid = _sid(0x200 + i)
        truth.hostile_send_sessions[sid] = name
        ed.insert(rng, [(r, "data") for r in hostile_send_session(tpl, sid, payload)])
    ed.write(truth.files[str(send[0])])
    truth.injected.setdefault("hostile_send", []).append(str(send[0]))


def _inject_tracking(truth: FaultTruth, files: list[Path], rng: random.Random) -> None:
    track = _pick(files, "Message Tracking Log", "")
    if not track:
        return
    data = track[0].read_bytes()
    fields = _headers(data)["fields"].split(",")
    ts = next(ln for ln in data.removeprefix(BOM).split(b"\n") if ln[:1].isdigit())[:24]
    ed = _Editor(track[0])
    for i, (name, payload) in enumerate(PAYLOADS.items()):
        msg_id = f"<0bad{i:04d}.hostile@evil.example>"
        truth.hostile_message_ids[msg_id] = name
        ed.insert(rng, [(tracking_row(fields, ts, msg_id, payload), "data")])
    ed.write(truth.files[str(track[0])])
    truth.injected.setdefault("hostile_tracking", []).append(str(track[0]))


def _truncate_tail(truth: FaultTruth, path: Path) -> None:
    ed = _Editor(path)
    ed.write(truth.files[str(path)], cut_last=True)
    truth.injected.setdefault("truncated_last_line", []).append(str(path))
