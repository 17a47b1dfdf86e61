"""Parse the bytes of one Exchange transport log file into a typed polars frame.

One physical line is one record (Exchange escapes CR/LF inside fields), so a damaged line
costs that line only. The hot path is one ``pl.read_csv`` over the whole file, trusted only
when its row count and comma count agree with the physical lines; otherwise (unbalanced
quotes, ragged lines, undecodable bytes, a ``#Fields`` change mid-file) the file is split
into lines and fields with polars string expressions. Python loops over header lines,
segments and bad lines only, never over all lines.
"""

from __future__ import annotations

import codecs
import functools
import threading
from dataclasses import dataclass, field

import polars as pl

from mailhops.index import schema
from mailhops.index.parse_fields import (
    FIELD_RENAMES,
    LOG_TYPE_NAMES,
    MAX_LINE,
    default_fields,
    output_columns,
    split_fields,
    split_lines,
    validate,
)
from mailhops.index.problems import Problem

BOM = b"\xef\xbb\xbf"
_ERRORS = "mailhops-escape"
_tls = threading.local()


@dataclass
class Parsed:
    """The result of parsing one file (or the grown tail of one)."""

    log_type: str  # schema.LOG_TYPES value, "" when unknown (file-level problem)
    version: str
    fields: str  # the #Fields value as written
    frame: pl.DataFrame  # LINES / CONNECTIVITY_LINES / TRACKING_LINES minus file-level columns
    consumed_bytes: int  # absolute offset just after the last complete line
    consumed_lines: int  # absolute count of complete physical lines
    bad_lines: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Header:
    idx: int  # 0-based line index within the parsed region
    key: str  # lower-case key without "#", e.g. "fields"
    value: str
    commas: int  # commas on the raw line


@dataclass(frozen=True, slots=True)
class _Segment:
    start: int  # first line index (inclusive)
    end: int  # last line index (exclusive)
    log_type: str
    fields: str


def _escape_handler(exc: UnicodeError) -> tuple[str, int]:
    """Replace undecodable bytes by visible ``\\xNN`` text and remember where they were."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _tls.bad.append(exc.start)
    bad = exc.object[exc.start : exc.end]
    return "".join(f"\\x{b:02x}" for b in bad), exc.end


codecs.register_error(_ERRORS, _escape_handler)


def _decode(body: bytes) -> tuple[bytes, list[int]]:
    """Return ``body`` as valid UTF-8 and the sorted 0-based line indexes that had bad bytes.

    Valid UTF-8 comes back unchanged (no copy); otherwise undecodable bytes become visible
    ``\\xNN`` text (Python runs once per bad byte sequence, not per line).
    """
    if body.isascii():
        return body, []
    try:
        body.decode("utf-8")
        return body, []
    except UnicodeDecodeError:
        pass
    _tls.bad = []
    text = body.decode("utf-8", errors=_ERRORS)
    positions: list[int] = _tls.bad
    _tls.bad = []
    lines: list[int] = []
    count, prev = 0, 0
    for pos in positions:  # newlines counted incrementally between bad sequences
        count += body.count(b"\n", prev, pos)
        prev = pos
        if not lines or lines[-1] != count:
            lines.append(count)
    return text.encode("utf-8"), lines


def _scan_headers(
    data: bytes, start: int, end: int, *, leading_only: bool = False
) -> list[_Header]:
    """Find the lines starting with ``#`` in ``data[start:end]`` (Python loops over them only).

    ``idx`` is relative to ``start``. With ``leading_only`` stop at the first data line.
    """
    headers: list[_Header] = []
    pos = start if data.startswith(b"#", start) else _next_header(data, start, end)
    idx, prev = 0, start
    while pos >= 0:
        idx += data.count(b"\n", prev, pos)
        prev = pos
        eol = data.find(b"\n", pos, end)
        raw = data[pos:eol]
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        key, _, value = text[1:].partition(":")
        headers.append(_Header(idx, key.strip().lower(), value.strip(), raw.count(b",")))
        if leading_only:
            pos = eol + 1 if data.startswith(b"#", eol + 1) and eol + 1 < end else -1
        else:
            pos = _next_header(data, eol, end)
    return headers


def _next_header(data: bytes, pos: int, end: int) -> int:
    """Offset of the next line starting with ``#`` after ``pos``, or -1."""
    found = data.find(b"\n#", pos, end)
    return found + 1 if found >= 0 else -1


def _segments(log_type: str, fields: str, headers: list[_Header], total: int) -> list[_Segment]:
    """Runs of data lines that share one (log type, #Fields); header lines are excluded."""
    segments: list[_Segment] = []
    start = 0
    for h in [*headers, _Header(total, "", "", 0)]:
        if h.idx > start:
            last = segments[-1] if segments else None
            if last and (last.log_type, last.fields) == (log_type, fields):
                segments[-1] = _Segment(last.start, h.idx, log_type, fields)
            else:
                segments.append(_Segment(start, h.idx, log_type, fields))
        if h.key == "log-type":
            log_type = LOG_TYPE_NAMES.get(h.value.lower(), "?" + h.value)
        elif h.key == "fields":
            fields = h.value
        start = h.idx + 1
    return segments


def _fast_path(
    data: bytes,
    log_type: str,
    names: list[str],
    lead: list[_Header],
    counts: tuple[int, int],
    first_line: int,
) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """One ``read_csv`` over the whole region; None when the result cannot be trusted.

    Trusted when polars saw no line with too many fields (it raises), the row count equals
    the physical data lines (no quoted field ran across a line end, no header mid-file) and
    the comma count matches (no line with too few fields). Returns (good, bad) frames.
    """
    total, commas = counts
    n = len(names)
    scan = pl.scan_csv(
        data,
        has_header=False,
        comment_prefix="#",
        schema={f"f{i}": pl.String() for i in range(n)},
        empty_string_is_null=False,
        raise_if_empty=False,
    )
    idx = pl.int_range(0, pl.len(), dtype=pl.Int64) + len(lead)
    try:  # read and validate in one query
        good, bad, inner = validate(
            scan,
            names,
            log_type,
            idx=idx,
            first_line=first_line,
            check_nul=b"\x00" in data,
            check_len=len(data) > MAX_LINE,
            count_commas=b'"' in data,  # commas inside values exist only in quoted fields
        )
    except (pl.exceptions.PolarsError, ValueError):
        return None  # unbalanced quotes, ragged lines, invalid UTF-8: the line path decides
    rows = good.height + bad.height
    if rows == 0 or rows != total - len(lead):
        return None  # a quoted field ran across lines, or a header sits mid-file
    if commas - sum(h.commas for h in lead) != rows * (n - 1) + inner:
        return None  # some line has too few fields
    return good, bad


def _names(fields: str, log_type: str) -> list[str]:
    raw = fields.split(",") if fields else default_fields(log_type)
    renames = FIELD_RENAMES[log_type]
    return [renames.get(f.strip().lower(), "") for f in raw]


@functools.cache
def _empty(log_type: str) -> pl.DataFrame:
    return pl.DataFrame(schema=output_columns(log_type))


def parse(
    data: bytes,
    path: str,
    *,
    offset: int = 0,
    line_no: int = 0,
    fields: str | None = None,
    log_type: str | None = None,
) -> Parsed:
    """Parse ``data`` (the file content from ``offset``) into a typed frame.

    ``line_no`` is the number of physical lines already consumed before ``offset``;
    ``fields``/``log_type`` carry the header state of an earlier read when resuming.
    Never raises on bad content: every problem is a :class:`Problem` in the result.
    """
    cr_only = b"\n" not in data and data.count(b"\r", 0, 1 << 16) >= 2
    if cr_only:  # a file saved with old Mac line ends; same length: offsets stay valid
        data = data.replace(b"\r", b"\n")
    start = len(BOM) if offset == 0 and data.startswith(BOM) else 0
    end = max(data.rfind(b"\n") + 1, start)
    total = _newlines(data)  # none before start (BOM) or after end (partial line)
    consumed = offset + end if total else offset
    result = Parsed("", "", fields or "", _empty(log_type or ""), consumed, line_no + total)
    if cr_only and offset == 0:
        reason = "lines end in CR only (not CRLF): read as separate lines"
        result.problems.append(Problem(path, 0, schema.WARNING, reason))
    if len(data) > end:
        reason = "partial last line (no line feed yet): held back until complete"
        result.problems.append(Problem(path, line_no + total + 1, schema.INFO, reason))
    if offset == 0 and not total and len(data) > start and not data.startswith(b"#", start):
        result.problems.append(Problem(path, 0, schema.ERROR, "not an Exchange log: file skipped"))
    lead = _scan_headers(data, start, end, leading_only=True)
    _apply(result, lead, log_type or "")
    try:
        fast = bool(total > len(lead) and result.log_type)
        if fast and _try_fast(result, data, (start, end, total), lead, path):
            return result
    except pl.exceptions.PanicException:
        pass  # a polars bug on odd input: the line path decides
    body = data[start:end]
    headers = _scan_headers(body, 0, len(body))
    lt = _apply(result, headers, log_type or "")
    segments = _segments(log_type or "", fields or "", headers, total)
    if _file_checks(result, path, segments, lt, first=offset == 0 and total > 0):
        try:
            _parse_body(result, body, path, segments, line_no)
        except pl.exceptions.PanicException as exc:  # a BaseException: never let it escape
            _give_up(result, path, total - len(headers), f"internal polars error: {exc}")
    return result


def _newlines(data: bytes) -> int:
    """The number of line feeds in ``data``.

    Deleting them (memchr-driven, as line feeds are sparse) and comparing lengths costs
    about 40% of ``bytes.count``, which tests every byte; both hold the GIL. The copy is
    transient; past _COPY_MAX bytes the count is taken in place."""
    if len(data) > _COPY_MAX:
        return data.count(b"\n")
    return len(data) - len(data.replace(b"\n", b""))


_COPY_MAX = 64 << 20


def _give_up(result: Parsed, path: str, data_lines: int, reason: str) -> None:
    """Report a file that could not be parsed at all; its data lines count as bad."""
    result.frame = _empty(result.log_type)
    result.bad_lines = data_lines
    result.problems = [p for p in result.problems if p.line == 0 or p.severity == schema.INFO]
    result.problems.append(Problem(path, 0, schema.ERROR, reason[:300] + ": file skipped"))


def _apply(result: Parsed, headers: list[_Header], log_type: str) -> str:
    """Take version, #Fields and log type from ``headers``; return the raw log type."""
    for h in headers:
        if h.key == "version":
            result.version = h.value
        elif h.key == "fields":
            result.fields = h.value
        elif h.key == "log-type" and not log_type:  # the file's first type is its type
            log_type = LOG_TYPE_NAMES.get(h.value.lower(), "?" + h.value)
    result.log_type = log_type if log_type in schema.LOG_TYPES else ""
    return log_type


def _try_fast(
    result: Parsed, data: bytes, span: tuple[int, int, int], lead: list[_Header], path: str
) -> bool:
    """The whole-file ``read_csv`` path; False when the line-based path must decide."""
    start, end, total = span
    if not start and data.startswith(BOM):
        return False  # polars would drop a BOM that is not at the start of the file
    view = data if end == len(data) else data[:end]  # polars skips the file's BOM itself
    names = _names(result.fields, result.log_type)
    line_no = result.consumed_lines - total
    counts = (total, data.count(b",", start, end))
    frames = _fast_path(view, result.log_type, names, lead, counts, line_no + 1)
    if frames is None:
        return False
    _finish(result, frames[0], frames[1], path, line_no)
    if not result.fields:
        reason = "no #Fields line: the standard field list is assumed"
        result.problems.append(Problem(path, 0, schema.WARNING, reason))
    return True


def _file_checks(
    result: Parsed, path: str, segments: list[_Segment], lt: str, *, first: bool
) -> bool:
    """File-level problems (line 0); False when there is nothing to parse."""
    if not segments:
        if first:
            result.problems.append(Problem(path, 0, schema.INFO, "no log lines (headers only)"))
        elif result.consumed_bytes == 0 and not result.problems:
            result.problems.append(Problem(path, 0, schema.INFO, "empty file"))
        return False
    if not result.log_type:
        reason = f"unknown #Log-type {lt[1:]!r}" if lt else "not an Exchange log (no #Log-type)"
        result.problems.append(Problem(path, 0, schema.ERROR, reason + ": file skipped"))
        return False
    if any(not s.fields for s in segments if s.log_type == result.log_type):
        reason = "no #Fields line: the standard field list is assumed"
        result.problems.append(Problem(path, 0, schema.WARNING, reason))
    return True


def _finish(result: Parsed, good: pl.DataFrame, bad: pl.DataFrame, path: str, line_no: int) -> None:
    """Set ``result.frame`` and turn bad rows into ERROR problems (Python over bad rows only)."""
    result.frame = good
    result.bad_lines = bad.height
    result.problems += [
        Problem(path, line_no + idx + 1, schema.ERROR, reason) for idx, reason in bad.iter_rows()
    ]


def _parse_body(
    result: Parsed, body: bytes, path: str, segments: list[_Segment], line_no: int
) -> None:
    """The line-based path: split lines and fields with polars, one segment at a time."""
    clean, bad_idx = _decode(body)
    reason = "undecodable bytes (not UTF-8), shown as \\xNN"
    result.problems += [Problem(path, line_no + i + 1, schema.WARNING, reason) for i in bad_idx]
    lines = split_lines(clean)
    good: list[pl.DataFrame] = []
    bad: list[pl.DataFrame] = []
    for seg in segments:
        part = lines.filter(pl.col("_idx").is_between(seg.start, seg.end - 1))
        # rechunk: polars 2.1 panics in split_fields' when/then on this filtered string view
        # when a >1 MiB line precedes a bad line (tests/hostile/test_parse_property.py)
        part = part.filter(~pl.col("line").str.starts_with("#")).rechunk()
        if seg.log_type != result.log_type:
            reason = f"line of another log type ({seg.log_type.lstrip('?') or 'unknown'})"
            bad.append(part.select("_idx", reason=pl.lit(reason)))
            continue
        names = _names(seg.fields, seg.log_type)
        fields_frame, split_bad = split_fields(part, len(names))
        idx = pl.col("_idx")
        g, b, _ = validate(fields_frame, names, seg.log_type, idx=idx, first_line=line_no + 1)
        good.append(g)
        bad += [split_bad, b]
    frame = pl.concat([_empty(result.log_type), *good], how="vertical_relaxed").sort("line_no")
    problems = pl.concat([_NO_BAD, *bad], how="vertical_relaxed").sort("_idx")
    _finish(result, frame, problems, path, line_no)


_NO_BAD = pl.DataFrame(schema={"_idx": pl.Int64, "reason": pl.String})
