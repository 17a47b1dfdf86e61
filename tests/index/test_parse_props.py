"""Property tests of parse(): hostile bytes never raise, damage stays local, round trips."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mailhops.index import schema
from mailhops.index.parse import BOM, parse

FIELDS = (
    "date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,"
    "event,data,context"
)
HEADER = (
    "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
    "#Log-type: SMTP Receive Protocol Log\r\n#Date: 2023-01-11T16:00:04.113Z\r\n"
    f"#Fields: {FIELDS}\r\n"
).encode()
N_HEADERS = 5
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Field text as Exchange writes it: anything but CR/LF (escaped as \r \n) and NUL.
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
    max_size=40,
)
timestamps = st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=UTC)
)
rows = st.tuples(
    timestamps,
    text,
    st.integers(min_value=0, max_value=2**64 - 1).map(lambda n: f"{n:016X}"),
    st.integers(min_value=0, max_value=2**31 - 1),
    text,
    text,
    st.sampled_from(["+", "-", ">", "<", "*"]),
    text,
    text,
)


def write(records: list[tuple[object, ...]]) -> bytes:
    """Write records Exchange-style: quote only fields with , or \" (csv QUOTE_MINIMAL)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for ts, *rest in records:
        assert isinstance(ts, datetime)
        stamp = ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
        writer.writerow([stamp, *rest])
    return out.getvalue().encode("utf-8")


def consistent(p: object, data: bytes) -> None:
    """Every complete line is a header, an indexed line or a counted bad line."""
    assert isinstance(p, type(parse(b"", "x")))
    bad = [x for x in p.problems if x.severity == schema.ERROR and x.line > 0]
    assert p.bad_lines == len(bad)
    assert p.consumed_bytes <= len(data)
    if p.log_type:
        body = data[: p.consumed_bytes].removeprefix(BOM)
        headers = sum(1 for ln in body.split(b"\n")[:-1] if ln.startswith(b"#"))
        assert p.frame.height + p.bad_lines + headers == p.consumed_lines
        assert p.frame.schema == pl.Schema(
            {
                k: v
                for k, v in schema.LINES.items()
                if k not in ("file_id", "server", "service", "direction")
            }
        )


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    p = parse(data, "x.log")
    consistent(p, data)


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_after_a_valid_header_never_raise(junk: bytes) -> None:
    data = BOM + HEADER + junk
    p = parse(data, "x.log")
    consistent(p, data)


@SETTINGS
@given(st.lists(rows, min_size=1, max_size=30))
def test_round_trip(records: list[tuple[object, ...]]) -> None:
    data = BOM + HEADER + write(records)
    p = parse(data, "x.log")
    assert p.bad_lines == 0 and p.problems == []
    assert p.frame.height == len(records)
    got = p.frame.drop("line_no").rows()
    assert got == [tuple(r) for r in records]
    # the line-based path (forced by an empty line) gives the same frame
    slow = parse(data + b"\r\n", "x.log")
    assert slow.bad_lines == 1 and slow.frame.equals(p.frame)


mutations = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 300), st.binary(min_size=1, max_size=4)),
    st.tuples(st.just("delete"), st.integers(0, 300), st.integers(1, 30)),
    st.tuples(st.just("truncate"), st.integers(0, 300), st.just(0)),
    st.tuples(
        st.just("char"),
        st.integers(0, 300),
        st.sampled_from([b'"', b",", b"\x00", b"\xff", b"\xe9"]),
    ),
)


def mutate(line: bytes, how: tuple[str, int, object]) -> bytes:
    kind, pos, arg = how
    body = line[:-2]
    pos = pos % (len(body) + 1)
    if kind == "insert" or kind == "char":
        assert isinstance(arg, bytes)
        body = body[:pos] + arg.replace(b"\n", b"").replace(b"\r", b"") + body[pos:]
    elif kind == "delete":
        assert isinstance(arg, int)
        body = body[:pos] + body[pos + arg :]
    else:
        body = body[:pos]
    return body + b"\r\n"


@SETTINGS
@given(st.lists(rows, min_size=3, max_size=12), st.data())
def test_damage_costs_at_most_the_damaged_line(
    records: list[tuple[object, ...]], data: st.DataObject
) -> None:
    lines = write(records).splitlines(keepends=True)
    assume(len(lines) == len(records))  # the writer kept one record per line
    victim = data.draw(st.integers(0, len(lines) - 1))
    damaged = mutate(lines[victim], data.draw(mutations))
    assume(not damaged.startswith(b"#"))
    lines[victim] = damaged
    raw = BOM + HEADER + b"".join(lines)
    p = parse(raw, "x.log")
    consistent(p, raw)
    victim_no = N_HEADERS + victim + 1
    assert all(x.line == victim_no for x in p.problems if x.line)
    kept = p.frame.filter(pl.col("line_no") != victim_no).drop("line_no").rows()
    assert kept == [tuple(r) for i, r in enumerate(records) if i != victim]


def test_round_trip_timestamps_are_utc_ms() -> None:
    ts = datetime(2023, 1, 11, 15, 59, 51, 433000, tzinfo=UTC)
    p = parse(BOM + HEADER + write([(ts, "c", "0" * 16, 0, "", "", "+", "", "")]), "x.log")
    assert p.frame["ts"].dtype == schema.TS
    assert p.frame["ts"][0] - ts == timedelta(0)
