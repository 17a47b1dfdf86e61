"""Property tests of the parser: random bytes never raise; damage costs the damaged line only."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mailhops import hostile

parse_mod = pytest.importorskip("mailhops.index.parse")
parse = parse_mod.parse

HEADER = (
    hostile.BOM
    + b"#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
    + b"#Log-type: SMTP Receive Protocol Log\r\n#Date: 2026-01-01T00:00:00.000Z\r\n"
    + b"#Fields: "
    + hostile.RECV_FIELDS.encode()
    + b"\r\n"
)
HEADER_LINES = 5
_TPL = hostile._Template(
    b"2026-01-01T10:00:00.123Z", b"EX1\\Default Frontend EX1", b"10.0.3.4:25", b"1.2.3.4:5555"
)
# Real shapes: quoted replies with commas and doubled quotes, empty fields, '*' rows.
REAL_LINES = [
    *hostile.filler_session(_TPL, "08DE000000000001"),
    _TPL.row("08DE000000000001", 5, ">", '250 2.6.0 <a@b> [InternalId=1, Hostname=X] "ok"'),
    _TPL.row("08DE000000000001", 6, "*", "", "TLS protocol SP_PROT_TLS1_2, strength 128"),
    _TPL.row("08DE000000000002", 0, "<", "MAIL FROM:<ü@exämple.com> SMTPUTF8"),
    *hostile.filler_session(_TPL, "08DE000000000003"),
]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rows(data: bytes) -> dict[int, tuple[object, ...]]:
    parsed = parse(data, "x.LOG")
    frame = parsed.frame.select(pl.exclude("line_no"), pl.col("line_no"))
    return {row[-1]: row[:-1] for row in frame.rows()}  # type: ignore[misc]


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(data: bytes) -> None:
    result = parse(data, "random.LOG")
    assert result.frame.height + result.bad_lines <= data.count(b"\n")
    assert all(p.line >= 0 for p in result.problems)


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes_after_a_valid_header_never_raise(data: bytes) -> None:
    result = parse(HEADER + data, "random.LOG")
    assert result.consumed_bytes <= len(HEADER) + len(data)


mutation = st.tuples(
    st.sampled_from(["insert", "replace", "delete", "truncate"]),
    st.integers(min_value=0, max_value=400),
    st.binary(min_size=1, max_size=12).filter(lambda b: b"\n" not in b),
)


def _mutate(line: bytes, op: str, at: int, junk: bytes) -> bytes:
    at = min(at, len(line))
    if op == "insert":
        return line[:at] + junk + line[at:]
    if op == "replace":
        return line[:at] + junk + line[at + len(junk) :]
    if op == "delete":
        return line[:at] + line[at + len(junk) :]
    return line[:at]


@SETTINGS
@given(
    st.integers(min_value=0, max_value=len(REAL_LINES) - 1),
    st.lists(mutation, min_size=1, max_size=3),
)
def test_valid_lines_around_the_damage_survive(victim: int, muts: list[tuple]) -> None:  # type: ignore[type-arg]
    damaged = REAL_LINES[victim]
    for op, at, junk in muts:
        damaged = _mutate(damaged, op, at, junk)
    assume(not damaged.startswith(b"#"))  # a header line changes the file, not one record
    lines = list(REAL_LINES)
    lines[victim] = damaged
    clean = _rows(HEADER + b"".join(ln + b"\r\n" for ln in REAL_LINES))
    data = HEADER + b"".join(ln + b"\r\n" for ln in lines)
    result = parse(data, "damaged.LOG")
    got = _rows(data)
    damaged_no = HEADER_LINES + victim + 1
    assert {n: r for n, r in got.items() if n != damaged_no} == {
        n: r for n, r in clean.items() if n != damaged_no
    }
    errors = {p.line for p in result.problems if p.severity == "error"}
    assert errors <= {damaged_no}
    assert (damaged_no in got) != (damaged_no in errors) or damaged.strip(b"\r") == b""
    assert result.consumed_lines == HEADER_LINES + len(lines)


@SETTINGS
@given(st.integers(min_value=1, max_value=len(REAL_LINES)), st.integers(min_value=1, max_value=80))
def test_partial_last_line_is_held_back(keep: int, cut: int) -> None:
    body = b"".join(ln + b"\r\n" for ln in REAL_LINES[:keep])
    partial = REAL_LINES[keep % len(REAL_LINES)][:cut]
    result = parse(HEADER + body + partial, "growing.LOG")
    assert result.frame.height == keep
    assert result.bad_lines == 0
    assert result.consumed_bytes == len(HEADER) + len(body)
    info = [p.line for p in result.problems if p.severity == "info"]
    assert info == [HEADER_LINES + keep + 1]


# Regression: polars panicked (PanicException is a BaseException and escaped every `except
# Exception`) when a >1 MiB line was followed by a line with the wrong field count.
@pytest.mark.parametrize(
    "after",
    [b"a,b", b"\x00" * 300, _TPL.prefix("08DE000000000009", 1)],
    ids=["short", "nul", "6-fields"],
)
def test_long_line_followed_by_a_bad_line(after: bytes) -> None:
    big = _TPL.row("08DE000000000008", 0, "*", b"X" * (hostile.LONG_VALID_BYTES * 3))
    good = REAL_LINES[0]
    data = HEADER + b"".join(ln + b"\r\n" for ln in (good, big, after, good))
    result = parse(data, "long.LOG")
    assert result.frame.height == 2
    assert sorted(p.line for p in result.problems if p.severity == "error") == [
        HEADER_LINES + 2,
        HEADER_LINES + 3,
    ]


def _real_files() -> dict[str, tuple[bytes, list[bytes]]]:
    """log type -> (header block, first data lines) of one generated file each.

    Taken from the committed ``sample_logs/`` (written by mailhops.sample), so the mutated
    lines have every real shape: quoted replies, empty fields, tracking rows, 2010 fields.
    """
    root = Path(__file__).resolve().parents[2] / "sample_logs"
    found: dict[str, tuple[bytes, list[bytes]]] = {}
    for path in hostile.log_files(root) if root.is_dir() else []:
        raw = path.read_bytes().split(b"\n")
        head = [ln for ln in raw[:10] if ln.removeprefix(hostile.BOM).startswith(b"#")]
        kind = next((h for h in head if h.lower().startswith(b"#log-type")), b"")
        data = [ln.rstrip(b"\r") for ln in raw[len(head) : len(head) + 25] if ln.strip()]
        if kind and len(data) >= 10 and kind not in found and len(head) == 5:
            found[kind.decode().strip()] = (b"\n".join(head) + b"\n", data)
    return found


REAL_FILES = _real_files()


@pytest.mark.skipif(not REAL_FILES, reason="sample_logs/ not generated yet")
@pytest.mark.parametrize("kind", sorted(REAL_FILES) or ["none"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_generated_lines_cost_one_line(kind: str, data: st.DataObject) -> None:
    header, lines = REAL_FILES[kind]
    victim = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    damaged = lines[victim]
    for op, at, junk in data.draw(st.lists(mutation, min_size=1, max_size=3)):
        damaged = _mutate(damaged, op, at, junk)
    assume(not damaged.startswith(b"#"))
    mutated = [*lines[:victim], damaged, *lines[victim + 1 :]]
    clean = _rows(header + b"".join(ln + b"\r\n" for ln in lines))
    body = header + b"".join(ln + b"\r\n" for ln in mutated)
    got = _rows(body)
    damaged_no = HEADER_LINES + victim + 1
    assert len(clean) == len(lines)
    assert {n: r for n, r in got.items() if n != damaged_no} == {
        n: r for n, r in clean.items() if n != damaged_no
    }
    errors = {p.line for p in parse(body, "x.LOG").problems if p.severity == "error"}
    assert errors <= {damaged_no}
