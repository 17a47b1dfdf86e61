"""Field-level helpers of :mod:`mailhops.index.parse`: names, line splitting, validation.

Everything here is polars expressions over whole frames of lines or fields.
"""

from __future__ import annotations

import functools
import io

import polars as pl

from mailhops.index import schema

MAX_LINE = 1 << 20  # a longer line is reported and skipped (Exchange lines are far shorter)
TS_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"
EVENTS = ("+", "-", ">", "<", "*")

#: ``#Log-type`` header values (lower case) -> schema.LOG_TYPES
LOG_TYPE_NAMES: dict[str, str] = {
    "smtp receive protocol log": schema.SMTP_RECEIVE,
    "smtp send protocol log": schema.SMTP_SEND,
    "transport connectivity log": schema.CONNECTIVITY,
    "message tracking log": schema.TRACKING,
}

_PROTOCOL = {
    "date-time": "ts",
    "connector-id": "connector",
    "session-id": "session_id",
    "sequence-number": "seq",
    "local-endpoint": "local_ep",
    "remote-endpoint": "remote_ep",
    "event": "event",
    "data": "data",
    "context": "context",
}
_CONNECTIVITY = {
    "date-time": "ts",
    "session": "session_id",
    "source": "source",
    "destination": "destination",
    "direction": "event",
    "description": "description",
}
_TRACKING = {"date-time": "ts", **{f: f.replace("-", "_") for f in schema.TRACKING_FIELDS}}

#: lower-case #Fields name -> output column, per log type
FIELD_RENAMES: dict[str, dict[str, str]] = {
    schema.SMTP_RECEIVE: _PROTOCOL,
    schema.SMTP_SEND: _PROTOCOL,
    schema.CONNECTIVITY: _CONNECTIVITY,
    schema.TRACKING: _TRACKING,
}

_DEFAULT_FIELDS = {
    schema.SMTP_RECEIVE: list(_PROTOCOL),
    schema.SMTP_SEND: list(_PROTOCOL),
    schema.CONNECTIVITY: [
        "date-time",
        "session",
        "source",
        "Destination",
        "direction",
        "description",
    ],
    schema.TRACKING: ["date-time", *schema.TRACKING_FIELDS],
}

_FILE_LEVEL = ("file_id", "server", "service", "direction")


def default_fields(log_type: str) -> list[str]:
    """The field list Exchange 2013+ writes for ``log_type`` (used when #Fields is missing)."""
    return list(_DEFAULT_FIELDS.get(log_type, []))


def output_columns(log_type: str) -> dict[str, pl.DataType]:
    """Columns and dtypes of the parsed frame of ``log_type`` (table minus file-level columns)."""
    table = {
        schema.CONNECTIVITY: schema.CONNECTIVITY_LINES,
        schema.TRACKING: schema.TRACKING_LINES,
    }.get(log_type, schema.LINES)
    return {name: dtype for name, dtype in table.items() if name not in _FILE_LEVEL}


_LINE_SEPARATORS = [bytes([b]) for b in (*range(1, 9), 11, 12, *range(14, 32))]


def split_lines(body: bytes) -> pl.DataFrame:
    """Split UTF-8 ``body`` (ending with a line feed) into ``_idx`` (0-based) and ``line``.

    A ``read_csv`` with no quoting and a separator byte the file does not contain reads
    one row per physical line (multi-threaded); Python's split is the fallback.
    """
    total = body.count(b"\n")
    sep = next((c for c in _LINE_SEPARATORS if c not in body), None)
    lines: pl.Series | None = None
    if sep is not None and not body.startswith(b"\xef\xbb\xbf"):
        frame = pl.read_csv(
            body,
            has_header=False,
            separator=sep.decode(),
            quote_char=None,
            schema={"line": pl.String()},
            empty_string_is_null=False,
            raise_if_empty=False,
        )
        lines = frame.get_column("line") if frame.height == total else None
    if lines is None:
        text = body.decode("utf-8")
        lines = pl.Series("line", text.split("\n")[:total]).str.strip_suffix("\r")
    frame = pl.DataFrame(lines)
    return frame.with_row_index("_idx").with_columns(pl.col("_idx").cast(pl.Int64))


def _field_pattern(n: int) -> str:
    """Anchored regex matching a line of exactly ``n`` well-formed fields (no captures)."""
    one = '(?:"(?:[^"]|"")*"|[^,"]*)'
    return "^" + one + (f"(?:,{one}){{{n - 1}}}" if n > 1 else "") + "$"


def split_fields(lines: pl.DataFrame, n: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split data lines into ``f0..f{n-1}``; return (fields + ``_idx``, bad ``_idx``/reason).

    Each line is checked on its own (comma count, or an anchored regex when it has quotes),
    so an unbalanced quote costs its own line only; the lines that pass are joined again
    and read by ``read_csv``, which then cannot run across line ends.
    """
    line = pl.col("line")
    has_q = line.str.contains('"', literal=True)
    well_formed = (
        pl.when(has_q)
        .then(line.str.contains(_field_pattern(n)))
        .otherwise(line.str.count_matches(",", literal=True) == n - 1)
    )
    ok = (line.str.len_bytes() <= MAX_LINE) & well_formed
    checked = lines.with_columns(ok.alias("_ok"))
    good = checked.filter(pl.col("_ok"))
    # rechunk: polars 2.1 can panic evaluating when/then over filtered huge string views
    bad = checked.filter(~pl.col("_ok")).rechunk().select("_idx", reason=_line_reason(n))
    fields = _read_fields(good, n)
    if fields is None:  # not expected for well-formed lines; never misalign rows and lines
        unread = good.select("_idx", reason=pl.lit("fields could not be split"))
        empty = pl.DataFrame(schema={**{f"f{i}": pl.String() for i in range(n)}, "_idx": pl.Int64})
        return empty, pl.concat([bad, unread])
    return fields, bad


def _read_fields(good: pl.DataFrame, n: int) -> pl.DataFrame | None:
    """``f0..f{n-1}`` + ``_idx`` of well-formed lines, unquoted by one ``read_csv``."""
    schema = {f"f{i}": pl.String() for i in range(n)}
    if good.height == 0:
        return pl.DataFrame(schema={**schema, "_idx": pl.Int64})
    buf = io.BytesIO()
    good.select("line").write_csv(buf, include_header=False, quote_style="never")
    data = buf.getvalue()
    # read_csv drops a BOM at the very start; a BOM there is line content: shield it
    shield = data.startswith(b"\xef\xbb\xbf")
    try:
        fields = pl.read_csv(
            b"," * (n - 1) + b"\n" + data if shield else data,
            has_header=False,
            schema=schema,
            empty_string_is_null=False,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return None
    fields = fields.slice(1) if shield else fields
    if fields.height != good.height:
        return None
    return fields.with_columns(good.get_column("_idx"))


def _line_reason(n: int) -> pl.Expr:
    line = pl.col("line")
    return (
        pl.when(line.str.len_bytes() > MAX_LINE)
        .then(pl.lit("line longer than 1 MiB"))
        .when(line == "")
        .then(pl.lit("empty line"))
        .when(~line.str.contains('"', literal=True))
        .then(
            pl.format(
                "{} fields, expected {}",
                line.str.count_matches(",", literal=True) + 1,
                pl.lit(n),
            )
        )
        .otherwise(_quote_reason(n))
    )


def _quote_reason(n: int) -> pl.Expr:
    line = pl.col("line")
    odd = line.str.count_matches('"', literal=True) % 2 == 1
    fields = line.str.replace_all('"(?:[^"]|"")*"', "").str.count_matches(",", literal=True) + 1
    return (
        pl.when(odd)
        .then(pl.lit("unbalanced quote"))
        .when(fields != n)
        .then(pl.format("{} fields, expected {}", fields, pl.lit(n)))
        .otherwise(pl.lit("malformed quoting"))
    )


def _checks(log_type: str, nul: bool, long: bool) -> list[tuple[pl.Expr, pl.Expr, str]]:
    """(line is fine, line is bad, reason) per check of ``log_type``; first bad one wins.

    The "fine" side may be null (null input): callers treat null as bad.
    """
    sid = pl.col("session_id")
    # 16 hex digits; to_integer is ~2x cheaper than a regex but accepts a leading "+"
    hex16 = (
        (sid.str.len_bytes() == 16)
        & ~sid.str.starts_with("+")
        & sid.str.to_integer(base=16, dtype=pl.UInt64, strict=False).is_not_null()
    )
    event_ok = pl.col("event").is_in(EVENTS)
    checks = []
    if nul:
        checks.append((~pl.col("_nul"), pl.col("_nul"), "NUL byte in line"))
    if long:
        checks.append((~pl.col("_long"), pl.col("_long"), "line longer than 1 MiB"))
    checks.append((pl.col("ts").is_not_null(), pl.col("ts").is_null(), "bad timestamp"))
    if log_type in (schema.SMTP_RECEIVE, schema.SMTP_SEND):
        seq_ok = pl.col("seq") >= 0
        checks += [
            (hex16, ~hex16.fill_null(False), "bad session id"),
            (seq_ok, ~seq_ok.fill_null(False), "bad sequence number"),
            (event_ok, ~event_ok.fill_null(False), "bad event"),
        ]
    elif log_type == schema.CONNECTIVITY:
        sid_ok = hex16 | (pl.col("session_id") == "")
        checks += [
            (sid_ok, ~sid_ok.fill_null(False), "bad session id"),
            (event_ok, ~event_ok.fill_null(False), "bad direction"),
        ]
    return checks


def _checked(log_type: str) -> tuple[str, ...]:
    """Output columns whose check rejects any value with a comma in it (see validate)."""
    if log_type in (schema.SMTP_RECEIVE, schema.SMTP_SEND):
        return ("ts", "session_id", "seq", "event")
    if log_type == schema.CONNECTIVITY:
        return ("ts", "session_id", "event")
    return ("ts",)


@functools.lru_cache(maxsize=64)
def _plan(
    log_type: str, names: tuple[str, ...], check_nul: bool, check_len: bool
) -> tuple[list[pl.Expr], pl.Expr, pl.Expr, tuple[str, ...]]:
    """Cached expressions: (typed columns + flags, "line is good", reason of a bad line,
    the raw columns that feed a checked output column).

    The NUL and length checks cost a pass over every value: only when the file has a NUL
    byte or is longer than the limit at all.
    """
    fcols = [f"f{i}" for i in range(len(names))]
    out = output_columns(log_type)
    source: dict[str, str] = {}
    for col, name in zip(fcols, names, strict=True):
        if name and name in out and name not in source:
            source[name] = col
    typed: list[pl.Expr] = []  # the caller adds _idx
    for name, dtype in out.items():
        if name == "line_no":
            continue
        if name not in source:
            typed.append(pl.lit(None, dtype=dtype).alias(name))
        elif name == "ts":
            ts = pl.col(source[name]).str.to_datetime(
                TS_FORMAT, time_unit="ms", time_zone="UTC", strict=False
            )
            typed.append(ts.alias(name))
        else:
            value = pl.col(source[name])
            if dtype != pl.String():
                value = value.cast(dtype, strict=False)
            typed.append(value.alias(name))
    check_nul, check_len = check_nul and bool(fcols), check_len and bool(fcols)
    if check_nul:
        nul = pl.any_horizontal(pl.col(c).str.contains("\x00", literal=True) for c in fcols)
        typed.append(nul.alias("_nul"))
    if check_len:
        long = pl.sum_horizontal(pl.col(c).str.len_bytes() for c in fcols) > MAX_LINE
        typed.append(long.alias("_long"))
    checks = _checks(log_type, check_nul, check_len)
    good = pl.all_horizontal(ok for ok, _, _ in checks).fill_null(False)
    reason = pl.coalesce([pl.when(bad).then(pl.lit(text)) for _, bad, text in checks])
    checked = tuple(source[name] for name in _checked(log_type) if name in source)
    return typed, good.alias("_good"), reason.fill_null("bad line").alias("reason"), checked


def validate(
    raw: pl.DataFrame | pl.LazyFrame,
    names: list[str],
    log_type: str,
    *,
    idx: pl.Expr,
    first_line: int,
    check_nul: bool = True,
    check_len: bool = True,
    count_commas: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Type and check split fields: (good rows in output columns, bad ``_idx``/reason, commas).

    ``raw`` (a frame, or a lazy CSV scan: then read and checked in one query; its errors
    propagate) has ``f0..f{n-1}`` (``names[i]`` is the output column of ``f{i}``, "" = unused);
    ``idx`` gives each row's 0-based line index; ``line_no`` = ``_idx + first_line``.
    Missing output columns become null. Reasons are computed for bad rows only. With
    ``count_commas`` also return the number of commas inside all values (fast-path check).
    """
    typed, good, reason, checked = _plan(log_type, tuple(names), check_nul, check_len)
    line_no = (pl.col("_idx") + first_line).cast(pl.UInt32).alias("line_no")
    extra: list[pl.Expr] = []
    if count_commas:
        # A good row's checked values (timestamp, hex id, number, event) hold no comma, so
        # commas are counted in the other columns of every row and in the checked ones of
        # the bad rows only: the same exact total at about half the cost.
        rest = tuple(f"f{i}" for i in range(len(names)) if f"f{i}" not in checked)
        extra = [_commas(rest).alias("_commas"), *(pl.col(c).alias("_raw" + c) for c in checked)]
    frame = (
        raw.lazy()
        .select(idx.alias("_idx"), *typed, *extra)
        .with_columns(good, line_no)
        .collect(optimizations=_NO_OPT)
    )
    cols = list(output_columns(log_type))
    commas = int(frame.get_column("_commas").sum()) if count_commas else 0
    if frame.get_column("_good").all():
        return frame[cols], _NO_BAD, commas  # column subset: no query (~0.2 ms a file)
    rejected = frame.filter(~pl.col("_good"))
    if count_commas:
        commas += int(rejected.select(_commas(tuple("_raw" + c for c in checked)).sum()).item())
    bad = rejected.select("_idx", reason)
    return frame.filter(pl.col("_good"))[cols], bad, commas


@functools.lru_cache(maxsize=64)
def _commas(columns: tuple[str, ...]) -> pl.Expr:
    """The number of commas inside the values of ``columns`` (one total per row)."""
    if not columns:
        return pl.lit(0, pl.UInt32)
    return pl.sum_horizontal(pl.col(c).str.count_matches(",", literal=True) for c in columns)


# Eager-like flags: on per-file frames, query planning costs more than it saves.
_NO_OPT = getattr(pl.QueryOptFlags, "_eager", pl.QueryOptFlags)()
_NO_BAD = pl.DataFrame(schema={"_idx": pl.Int64, "reason": pl.String})
