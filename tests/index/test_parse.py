"""parse(): formats, quoting, headers and every single-file fault of issue 5."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from mailhops.index import schema
from mailhops.index.parse import BOM, parse
from mailhops.index.parse_fields import output_columns

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FIELDS = (
    "date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,"
    "event,data,context"
)
HEADER = (
    "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
    "#Log-type: SMTP Receive Protocol Log\r\n#Date: 2023-01-11T16:00:04.113Z\r\n"
    f"#Fields: {FIELDS}\r\n"
).encode()


def line(seq: int, data: str = "EHLO client.example", context: str = "") -> bytes:
    """One well-formed receive line (data/context written as given: quote them yourself)."""
    return (
        f"2023-01-11T15:59:{seq % 60:02d}.433Z,EX1\\Default Frontend EX1,08DA9806C5B670C1,"
        f"{seq},10.0.3.4:25,1.2.3.4:5000,<,{data},{context}\r\n"
    ).encode()


def log(*lines: bytes) -> bytes:
    return BOM + HEADER + b"".join(lines)


def errors(parsed: object) -> list[tuple[int, str]]:
    return [(p.line, p.reason) for p in parsed.problems if p.severity == schema.ERROR]  # type: ignore[attr-defined]


# --- formats -------------------------------------------------------------------------------


def test_receive_fixture_values_and_schema() -> None:
    data = (FIXTURES / "recv_fe_2019.log").read_bytes()
    assert data.startswith(BOM) and b"\r\n" in data
    p = parse(data, "recv.log")
    assert (p.log_type, p.version, p.fields) == (schema.SMTP_RECEIVE, "15.0.0.0", FIELDS)
    assert p.frame.schema == pl.Schema(output_columns(schema.SMTP_RECEIVE))
    assert p.frame.height == 11 and p.bad_lines == 0 and p.problems == []
    assert p.frame["line_no"].to_list() == list(range(6, 17))  # headers count as lines
    assert p.consumed_bytes == len(data) and p.consumed_lines == 16
    first = p.frame.row(1, named=True)
    assert first["ts"] == datetime(2023, 1, 11, 15, 59, 51, 434000, tzinfo=UTC)
    assert first["connector"] == "EX19MBX1\\Default Frontend EX19MBX1"
    assert first["session_id"] == "08DA9806C5B670C1" and first["seq"] == 1
    assert first["data"].endswith("16:59:51 +0100") and ", 11 Jan" in first["data"]
    rows = p.frame.rows_by_key("seq", named=True, unique=True)
    assert rows[3]["data"].startswith(" CN=EX19MBX1")  # leading space kept
    assert rows[4]["context"].startswith("TLS protocol") and "bits, MAC" in rows[4]["context"]
    assert rows[6]["data"] == 'RCPT TO:<"odd,name"@contoso.lab>'  # "" unescaped
    assert rows[0]["data"] == "" and rows[10]["context"] == "Local"


def test_send_fixture_empty_local_endpoint() -> None:
    p = parse((FIXTURES / "send_fe_2019.log").read_bytes(), "send.log")
    assert p.log_type == schema.SMTP_SEND and p.frame.height == 5
    assert p.frame["local_ep"].to_list()[:2] == ["", "10.0.3.4:41001"]
    assert p.frame["connector"].unique().to_list() == ["Inbound Proxy Internal Send Connector"]


def test_connectivity_fixture_capital_destination() -> None:
    p = parse((FIXTURES / "connectivity_2019.log").read_bytes(), "c.log")
    assert p.log_type == schema.CONNECTIVITY
    assert p.frame.schema == pl.Schema(output_columns(schema.CONNECTIVITY))
    assert p.frame["destination"].to_list()[:3] == ["internalproxy"] * 3
    assert p.frame["event"].to_list() == ["+", ">", "-", "*"]
    assert p.frame["session_id"].to_list()[3] == ""  # server-level row has no session
    assert (
        p.frame["description"][1]
        == "EX19MBX3.contoso.lab[10.0.3.6], EX19MBX2.contoso.lab[10.0.3.5]"
    )


@pytest.mark.parametrize(
    ("name", "present", "absent"),
    [
        ("tracking_2019.log", ["network_message_id", "schema_version"], []),
        ("tracking_2013.log", ["network_message_id"], ["schema_version", "log_id"]),
        ("tracking_2010.log", [], ["network_message_id", "schema_version"]),
    ],
)
def test_tracking_fields_by_version(name: str, present: list[str], absent: list[str]) -> None:
    p = parse((FIXTURES / name).read_bytes(), name)
    assert p.log_type == schema.TRACKING and p.bad_lines == 0
    assert p.frame.schema == pl.Schema(output_columns(schema.TRACKING))
    row = p.frame.row(0, named=True)
    assert row["message_subject"] == 'Quarterly report, "final"'
    assert row["recipient_address"] == "bob@contoso.lab;carol@contoso.lab"
    assert row["connector_id"] == "EX19MBX3\\Default EX19MBX3"
    assert row["source_context"] == "08DA9806C5B670C3;2023-01-11T16:00:02.290Z;0"
    for col in present:
        assert row[col] not in (None, "")
    for col in absent:
        assert p.frame[col].null_count() == p.frame.height  # missing columns are null


def test_exchange_2010_receive() -> None:
    p = parse((FIXTURES / "recv_2010.log").read_bytes(), "r.log")
    assert (p.log_type, p.version, p.frame.height) == (schema.SMTP_RECEIVE, "14.0.0.0", 3)


def test_header_keys_case_insensitive_and_no_bom() -> None:
    data = HEADER.replace(b"#Log-type: SMTP Receive", b"#LOG-TYPE: smtp receive") + line(1)
    p = parse(data, "x.log")
    assert p.log_type == schema.SMTP_RECEIVE and p.frame.height == 1


def test_bom_only_at_offset_zero() -> None:
    data = log(line(1), line(2))
    first = parse(data, "x.log")
    tail = BOM + line(3)  # a BOM inside a grown file is not a BOM: the line is bad
    grown = parse(
        tail, "x.log", offset=len(data), line_no=7, fields=FIELDS, log_type=schema.SMTP_RECEIVE
    )
    assert first.frame.height == 2
    assert grown.frame.height == 0 and errors(grown) == [(8, "bad timestamp")]


def test_lf_only_lines() -> None:
    data = log(line(1), line(2)).replace(b"\r\n", b"\n")
    p = parse(data, "x.log")
    assert p.frame.height == 2 and p.frame["context"].to_list() == ["", ""]


# --- resume and partial lines ----------------------------------------------------------------


def test_cr_only_lines_are_read_and_reported() -> None:
    """A log saved with CR line ends (old Mac style) is read line by line, with a warning;
    its line numbers are the CRLF file's."""
    crlf = log(line(1), line(2, '"a,b"'), line(3))
    parsed = parse(crlf.replace(b"\r\n", b"\r"), "x.log")
    assert parsed.frame.equals(parse(crlf, "x.log").frame)
    assert parsed.consumed_lines == 8 and parsed.bad_lines == 0
    warned = [(p.line, p.severity) for p in parsed.problems]
    assert warned == [(0, schema.WARNING)]
    assert "CR only" in parsed.problems[0].reason
    # CRLF and LF files are not touched by it.
    assert parse(crlf, "x.log").problems == []


def test_partial_last_line_held_back_then_read() -> None:
    full = log(line(1), line(2), line(3))
    cut = len(full) - 10
    p = parse(full[:cut], "x.log")
    assert p.frame.height == 2 and p.bad_lines == 0
    assert p.consumed_bytes == len(log(line(1), line(2))) and p.consumed_lines == 7
    assert [(x.line, x.severity) for x in p.problems] == [(8, schema.INFO)]
    rest = parse(
        full[p.consumed_bytes :],
        "x.log",
        offset=p.consumed_bytes,
        line_no=p.consumed_lines,
        fields=p.fields,
        log_type=p.log_type,
    )
    assert rest.frame["line_no"].to_list() == [8] and rest.frame["seq"].to_list() == [3]
    assert rest.consumed_bytes == len(full) and rest.consumed_lines == 8 and rest.problems == []


def test_no_complete_line_consumes_nothing() -> None:
    p = parse(b"#Software: Micro", "x.log")
    assert (p.consumed_bytes, p.consumed_lines, p.bad_lines) == (0, 0, 0)
    assert [x.severity for x in p.problems] == [schema.INFO]


# --- faults (issue 5): counts and line numbers -----------------------------------------------


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (line(2, '"unbalanced, quote'), "unbalanced quote"),
        (line(2, 'a"b'), "unbalanced quote"),
        (line(2, "a", "b,c"), "10 fields, expected 9"),
        (line(2, "a,b", "c"), "10 fields, expected 9"),
        (line(2)[:-5] + b"\r\n", "8 fields, expected 9"),
        (line(2, '"x,y"', '"z,"w'), "malformed quoting"),
        (line(2, "NUL\x00byte"), "NUL byte in line"),
        (line(2).replace(b"2023-01-11T", b"2023-13-11T"), "bad timestamp"),
        (line(2).replace(b"08DA9806C5B670C1", b"08C8881116H56738"), "bad session id"),
        (line(2).replace(b"08DA9806C5B670C1", b"+8DA9806C5B670C1"), "bad session id"),
        (line(2).replace(b"08DA9806C5B670C1", b"8DA9806C5B670C1"), "bad session id"),
        (line(2).replace(b",2,10.0", b",x2,10.0"), "bad sequence number"),
        (line(2).replace(b",<,", b",?,"), "bad event"),
        (b"\r\n", "empty line"),
        (b"garbage\r\n", "1 fields, expected 9"),
    ],
)
def test_bad_line_costs_only_itself(bad: bytes, reason: str) -> None:
    p = parse(log(line(1), bad, line(3), line(4, '"quoted, ok"')), "x.log")
    assert errors(p) == [(7, reason)]
    assert p.bad_lines == 1
    assert p.frame["line_no"].to_list() == [6, 8, 9]
    assert p.frame["data"].to_list()[-1] == "quoted, ok"


def test_unbalanced_quote_does_not_swallow_following_lines() -> None:
    lines = [line(i) for i in range(1, 200)]
    lines[10] = line(11, '"open, never closed')
    lines[50] = line(51, '"another')
    p = parse(log(*lines), "x.log")
    assert errors(p) == [(16, "unbalanced quote"), (56, "unbalanced quote")]
    assert p.frame.height == 197


def test_many_faults_counted_with_line_numbers() -> None:
    lines = [line(i) for i in range(1, 101)]
    bad_at = {3: line(3, '"x'), 40: b"\r\n", 41: line(41)[:30] + b"\r\n", 99: line(99, "a\x00")}
    for i, value in bad_at.items():
        lines[i - 1] = value
    p = parse(log(*lines), "x.log")
    assert [ln for ln, _ in errors(p)] == [i + 5 for i in sorted(bad_at)]
    assert p.bad_lines == 4 and p.frame.height == 96


def test_invalid_utf8_and_cp1252_are_indexed_with_warning() -> None:
    bad = line(2).replace(b"EHLO", b"EHLO caf\xe9 \xff\xfe")  # cp1252 e-acute + junk
    p = parse(log(line(1), bad, line(3)), "x.log")
    assert p.bad_lines == 0 and p.frame.height == 3
    assert p.frame["data"][1] == "EHLO caf\\xe9 \\xff\\xfe client.example"
    warnings = [(x.line, x.severity) for x in p.problems]
    assert warnings == [(7, schema.WARNING)]


def test_valid_utf8_is_kept() -> None:
    p = parse(log(line(1, "MAIL FROM:<jörg@bücher.de>")), "x.log")
    assert p.frame["data"][0] == "MAIL FROM:<jörg@bücher.de>" and p.problems == []


def test_over_long_line_is_an_error() -> None:
    p = parse(log(line(1), line(2, "x" * (1 << 20)), line(3)), "x.log")
    assert errors(p) == [(7, "line longer than 1 MiB")]
    assert p.frame["seq"].to_list() == [1, 3]


def test_header_in_the_middle_is_skipped() -> None:
    p = parse(log(line(1), HEADER, line(2)), "x.log")
    assert p.frame["line_no"].to_list() == [6, 12] and p.bad_lines == 0


def test_fields_change_mid_file() -> None:
    short = FIELDS.rsplit(",", 1)[0]
    new_header = f"#Fields: {short}\r\n".encode()
    p = parse(log(line(1), new_header, line(2)[:-3] + b"\r\n", line(3)), "x.log")
    assert p.frame["line_no"].to_list() == [6, 8]
    assert p.frame["context"].to_list() == ["", None]  # the column the new #Fields lacks
    assert errors(p) == [(9, "9 fields, expected 8")]


def test_other_log_type_mid_file_lines_are_bad() -> None:
    other = HEADER.replace(b"SMTP Receive", b"SMTP Send")
    p = parse(log(line(1), other, line(2)), "x.log")
    assert p.log_type == schema.SMTP_RECEIVE
    assert errors(p) == [(12, "line of another log type (smtp-send)")]


@pytest.mark.parametrize(
    ("data", "severity", "reason"),
    [
        (b"", schema.INFO, "empty file"),
        (BOM + HEADER, schema.INFO, "no log lines (headers only)"),
        (
            log(line(1)).replace(b"SMTP Receive Protocol Log", b"Pop3 Log"),
            schema.ERROR,
            "unknown #Log-type 'Pop3 Log': file skipped",
        ),
        (b"hello\r\nworld\r\n", schema.ERROR, "not an Exchange log (no #Log-type): file skipped"),
        (b"\x00\x01\x02binary", schema.ERROR, "not an Exchange log: file skipped"),
    ],
)
def test_file_level_problems(data: bytes, severity: str, reason: str) -> None:
    p = parse(data, "x.log")
    file_level = [(x.line, x.severity, x.reason) for x in p.problems if x.line == 0]
    assert file_level == [(0, severity, reason)]
    assert p.frame.height == 0 and p.bad_lines == 0


def test_missing_fields_line_uses_standard_fields() -> None:
    data = log(line(1), line(2)).replace(f"#Fields: {FIELDS}\r\n".encode(), b"")
    p = parse(data, "x.log")
    assert p.log_type == schema.SMTP_RECEIVE and p.frame.height == 2
    assert [(x.line, x.severity) for x in p.problems] == [(0, schema.WARNING)]
    assert p.frame["line_no"].to_list() == [5, 6]


def test_large_clean_file_takes_fast_path_and_matches_slow_path() -> None:
    lines = [line(i, f'"reply {i}, ""q"""' if i % 3 else f"EHLO h{i}") for i in range(3000)]
    clean = parse(log(*lines), "x.log")
    damaged = parse(log(*lines, b"\r\n"), "x.log")  # one empty line forces the line path
    assert clean.frame.height == 3000 and damaged.frame.height == 3000
    assert clean.frame.equals(damaged.frame)
    assert clean.frame["data"][1] == 'reply 1, "q"'


def test_too_few_fields_in_a_file_without_quotes() -> None:
    cut = line(2)[: line(2).rindex(b",")] + b"\r\n"  # context field missing
    p = parse(log(line(1), cut, line(3)), "x.log")
    assert errors(p) == [(7, "8 fields, expected 9")]
    assert p.frame["seq"].to_list() == [1, 3]


def test_resume_through_the_line_path_keeps_absolute_line_numbers() -> None:
    head = log(line(1), line(2))
    first = parse(head, "x.log")
    tail = line(3) + line(4, '"broken') + line(5) + line(6)[:20]
    grown = parse(
        tail,
        "x.log",
        offset=first.consumed_bytes,
        line_no=first.consumed_lines,
        fields=first.fields,
        log_type=first.log_type,
    )
    assert grown.frame["line_no"].to_list() == [8, 10]
    assert errors(grown) == [(9, "unbalanced quote")]
    assert [(x.line, x.severity) for x in grown.problems if x.severity == schema.INFO] == [
        (11, schema.INFO)
    ]
    assert grown.consumed_bytes == len(head) + len(tail) - 20 and grown.consumed_lines == 10


def test_a_polars_panic_never_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    import mailhops.index.parse as parse_mod

    def panic(*args: object, **kwargs: object) -> object:
        raise pl.exceptions.PanicException("boom")

    monkeypatch.setattr(parse_mod, "split_fields", panic)
    monkeypatch.setattr(parse_mod, "_fast_path", panic)
    p = parse(log(line(1), line(2)), "x.log")
    assert p.frame.height == 0 and p.bad_lines == 2
    assert [(x.line, x.severity) for x in p.problems] == [(0, schema.ERROR)]
    assert "boom" in p.problems[0].reason


def _no_line_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import mailhops.index.parse as parse_mod

    def fail(*args: object, **kwargs: object) -> object:
        raise AssertionError("the line path ran")

    monkeypatch.setattr(parse_mod, "_parse_body", fail)


def test_comma_in_a_checked_field_of_a_bad_line_keeps_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The fast path counts commas of checked columns (session id, ...) on bad rows only.
    bad = line(2).replace(b"08DA9806C5B670C1", b'"08DA,806C5B670C"')
    _no_line_path(monkeypatch)
    p = parse(log(line(1), bad, line(3, '"a, b"')), "x.log")
    assert errors(p) == [(7, "bad session id")]
    assert p.frame["seq"].to_list() == [1, 3]


def test_short_line_is_found_next_to_a_comma_in_a_checked_field() -> None:
    bad = line(2).replace(b"08DA9806C5B670C1", b'"08DA,806C5B670C"')
    cut = line(3)[: line(3).rindex(b",")] + b"\r\n"  # context field missing
    p = parse(log(line(1), bad, cut, line(4, '"a, b"')), "x.log")
    assert errors(p) == [(7, "bad session id"), (8, "8 fields, expected 9")]
    assert p.frame["seq"].to_list() == [1, 4]


def test_comma_in_every_kind_of_field_of_good_lines_keeps_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    odd = line(2).replace(b"EX1\\Default Frontend EX1", b'"EX1\\Default, Frontend"')
    odd = odd.replace(b"10.0.3.4:25", b'"10.0.3.4:25,x"')
    _no_line_path(monkeypatch)
    p = parse(log(line(1), odd, line(3, '"a, b"', '"c,d"')), "x.log")
    assert errors(p) == []
    assert p.frame["connector"].to_list()[1] == "EX1\\Default, Frontend"


def test_line_count_is_the_same_in_place_and_by_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    import mailhops.index.parse as parse_mod

    data = log(line(1), line(2, "a\nb"), b"\n", line(4)) + line(5)[:20]
    by_copy = parse(data, "x.log")
    monkeypatch.setattr(parse_mod, "_COPY_MAX", 0)
    in_place = parse(data, "x.log")
    assert by_copy.consumed_lines == in_place.consumed_lines == 10
    assert by_copy.problems == in_place.problems and by_copy.frame.equals(in_place.frame)
