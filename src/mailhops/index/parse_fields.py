"""Field-level helpers of :mod:`mailhops.index.parse`: names, line splitting, validation.

Everything here is polars expressions over whole frames of lines or fields.
"""

from __future__ import annotations

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


def split_lines(text: str) -> pl.DataFrame:
    """Split decoded text (ending with a line feed) into ``_idx`` (0-based) and ``line``."""
    lines = pl.Series("line", [text]).str.split("\n").explode()
    lines = lines.slice(0, max(lines.len() - 1, 0)).str.strip_suffix("\r")
    return pl.DataFrame(lines).with_row_index("_idx").with_columns(pl.col("_idx").cast(pl.Int64))


def _field_pattern(n: int) -> str:
    one = '"(?:[^"]|"")*"|[^,"]*'
    return "^" + ",".join(f"(?P<f{i}>{one})" for i in range(n)) + "$"


def _unquote(name: str) -> pl.Expr:
    col = pl.col(name)
    inner = col.str.slice(1, col.str.len_chars() - 2).str.replace_all('""', '"', literal=True)
    return pl.when(col.str.starts_with('"')).then(inner).otherwise(col).alias(name)


def split_fields(lines: pl.DataFrame, n: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split data lines into ``f0..f{n-1}``; return (fields + ``_idx``, bad ``_idx``/reason).

    Lines without quotes are split on commas; lines with quotes go through an anchored
    regex, so an unbalanced quote costs its own line only.
    """
    names = [f"f{i}" for i in range(n)]
    long = pl.col("line").str.len_bytes() > MAX_LINE
    has_q = pl.col("line").str.contains('"', literal=True)
    too_long = lines.filter(long).select("_idx", reason=pl.lit("line longer than 1 MiB"))
    lines = lines.filter(~long)
    plain = lines.filter(~has_q).with_columns(pl.col("line").str.split(","))
    plain_ok = plain.filter(pl.col("line").list.len() == n)
    plain_bad = plain.filter(pl.col("line").list.len() != n).select(
        "_idx",
        reason=pl.when(pl.col("line").list.first() == "")
        .then(pl.lit("empty line"))
        .otherwise(pl.format("{} fields, expected {}", pl.col("line").list.len(), pl.lit(n))),
    )
    split = (
        plain_ok.select("_idx", pl.col("line").list.to_struct(fields=names).struct.unnest())
        if n
        else plain_ok.select("_idx")
    )
    quoted = lines.filter(has_q).with_columns(
        pl.col("line").str.extract_groups(_field_pattern(n)).alias("_g")
    )
    matched = pl.col("_g").struct.field("f0").is_not_null()
    q_ok = quoted.filter(matched).select("_idx", pl.col("_g").struct.unnest())
    q_ok = q_ok.with_columns(_unquote(c) for c in names)
    q_bad = quoted.filter(~matched).select("_idx", reason=_quote_reason(n))
    good = pl.concat([split, q_ok], how="vertical_relaxed")
    bad = pl.concat([too_long, plain_bad, q_bad], how="vertical_relaxed")
    return good, bad


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


def _checks(log_type: str) -> list[tuple[pl.Expr, str]]:
    """(condition that makes a line bad, reason) pairs for ``log_type``; first match wins."""
    checks: list[tuple[pl.Expr, str]] = [(pl.col("ts").is_null(), "bad timestamp")]
    hex16 = pl.col("session_id").str.contains("^[0-9A-Fa-f]{16}$")
    event_ok = pl.col("event").is_in(EVENTS)
    if log_type in (schema.SMTP_RECEIVE, schema.SMTP_SEND):
        checks += [
            (~hex16.fill_null(False), "bad session id"),
            (pl.col("seq").is_null() | (pl.col("seq") < 0), "bad sequence number"),
            (~event_ok.fill_null(False), "bad event"),
        ]
    elif log_type == schema.CONNECTIVITY:
        sid_ok = hex16 | (pl.col("session_id") == "")
        checks += [
            (~sid_ok.fill_null(False), "bad session id"),
            (~event_ok.fill_null(False), "bad direction"),
        ]
    return checks


def validate(
    raw: pl.DataFrame, names: list[str], log_type: str, *, check_nul: bool = True
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Type and check split fields; return (good rows in output columns + ``_idx``, bad rows).

    ``raw`` has ``f0..f{n-1}`` (``names[i]`` is the output column of ``f{i}``, "" = unused)
    and ``_idx``; missing output columns become null.
    """
    fcols = [c for c in raw.columns if c.startswith("f") and c[1:].isdigit()]
    out = output_columns(log_type)
    renames: dict[str, str] = {}
    for col, name in zip(fcols, names, strict=False):
        if name and name in out and name not in renames.values():
            renames[col] = name
    missing = [pl.lit(None, dtype=out[c]).alias(c) for c in out if c not in renames.values()]
    frame = raw.with_columns(
        reason_nul=pl.any_horizontal(pl.col(c).str.contains("\x00", literal=True) for c in fcols)
        if check_nul and fcols
        else pl.lit(False),
        reason_len=pl.sum_horizontal(pl.col(c).str.len_bytes() for c in fcols) > MAX_LINE
        if fcols
        else pl.lit(False),
    ).rename(renames)
    frame = frame.select("_idx", "reason_nul", "reason_len", *[c for c in renames.values()])
    frame = frame.with_columns(missing).with_columns(_typed(out))
    checks = [
        (pl.col("reason_nul"), "NUL byte in line"),
        (pl.col("reason_len"), "line longer than 1 MiB"),
        *_checks(log_type),
    ]
    reason = pl.coalesce([pl.when(cond).then(pl.lit(text)) for cond, text in checks])
    frame = frame.with_columns(reason.alias("reason"))
    bad = frame.filter(pl.col("reason").is_not_null()).select("_idx", "reason")
    if bad.height:  # filtering copies every string column: only when something is bad
        frame = frame.filter(pl.col("reason").is_null())
    return frame.select("_idx", *[c for c in out if c != "line_no"]), bad


def _typed(out: dict[str, pl.DataType]) -> list[pl.Expr]:
    exprs = [
        pl.col("ts")
        .cast(pl.String)
        .str.to_datetime(TS_FORMAT, time_unit="ms", time_zone="UTC", strict=False)
    ]
    if "seq" in out:
        exprs.append(pl.col("seq").cast(pl.String).cast(pl.Int32, strict=False))
    return exprs
