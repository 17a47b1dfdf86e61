"""Pure parts of the app: filter parsing, history, export, aggregates, rendering."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from appfakes import HOSTILE_EHLO, build_sessions
from hypothesis import given
from hypothesis import strategies as st

from mailhops.app.export import ExportError, export_frame
from mailhops.app.filters import FilterError, SessionFilter, parse_query, parse_time
from mailhops.app.history import History
from mailhops.app.render import session_cells, transcript_line
from mailhops.app.screens.actions import find_ident
from mailhops.app.screens.compare import merge_by_time
from mailhops.app.views import (
    connector_counts,
    connector_summary,
    connectors_of,
    server_summary,
)
from mailhops.app.widgets.sessions import VIEW_COLUMNS, FrameWindow, KeyIndex, view_of
from mailhops.records import KEYS, records

SESSIONS = build_sessions()


def test_parse_query_tokens_and_free_text() -> None:
    f = parse_query('contoso from:alice@ ip:203.0.113.5 sid:08dc mid:"<a b>" outcome:5xx noise:on')
    assert f.text == "contoso"
    assert (f.address, f.ip, f.session_id, f.message_id) == (
        "alice@",
        "203.0.113.5",
        "08dc",
        "<a b>",
    )
    assert f.outcome == "5xx" and f.show_noise
    assert parse_query(f.query()) == f


def test_parse_query_keeps_scope_and_resets_query_fields() -> None:
    base = SessionFilter(text="old", server="EX01", connector="X", outcome="failed")
    f = parse_query("new", base)
    assert (f.text, f.server, f.connector, f.outcome) == ("new", "EX01", "X", "all")


def test_parse_errors_are_clear() -> None:
    with pytest.raises(FilterError, match="not a date/time"):
        parse_query("after:soon")
    with pytest.raises(FilterError, match="unknown outcome"):
        parse_query("outcome:maybe")
    with pytest.raises(FilterError, match="unbalanced quotes"):
        parse_query('"open')


def test_parse_time_utc_and_offsets() -> None:
    assert parse_time("2024-05-01T10:00") == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert parse_time("2024-05-01 12:00+02:00") == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert parse_time("2024-05-01T10:00Z") == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", 47),
        ("noise:on", 48),
        ("ALICE", 4),
        ("from:user3@contoso", 1),
        ("ip:203.0.113.1", 15),  # substring: .1, .10-.19 and .100-.103
        ("sid:a01", 1),
        ("mid:<chain@", 4),
        ("mid:4242", 2),
        ("outcome:failed", 2),
        ("outcome:4xx", 1),  # by the error reply, though both sessions end with 221
        ("outcome:5xx", 1),
        ("outcome:rejected", 1),
        ("after:2024-05-01T10:00:30 before:2024-05-01T10:00:39", 10),
    ],
)
def test_filter_counts(query: str, expected: int) -> None:
    assert parse_query(query).apply(SESSIONS).height == expected


@given(st.text(max_size=30))
def test_any_free_text_filters_without_error(text: str) -> None:
    f = SessionFilter(text=text, show_noise=True)
    assert f.apply(SESSIONS).height <= SESSIONS.height


def test_history_back_forward_and_replace() -> None:
    h = History()
    assert h.back() is None and h.current is None
    h.visit("a")
    h.replace("a2")  # cursor moves do not add steps
    h.visit("b")
    h.visit("c")
    assert h.back() == "b" and h.back() == "a2" and h.back() is None
    assert h.forward() == "b"
    h.visit("d")  # drops the forward entry "c"
    assert h.forward() is None and h.back() == "b" and len(h) == 3


def test_export_csv_json_parquet(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    frame = SESSIONS.filter(pl.col("session_id") == "08DC000000BAD666")
    csv = export_frame(frame, tmp_path / "out.csv", [logs])
    text = csv.read_text()
    assert "\x1b" not in text and "\\x1b]52" in text
    assert pl.read_csv(csv).height == 1
    data = json.loads(export_frame(frame, tmp_path / "out.json", [logs]).read_text())
    assert data[0]["ehlo"].startswith("\\x1b]52")
    back = pl.read_parquet(export_frame(frame, tmp_path / "out.parquet", [logs]))
    assert back["ehlo"][0] == HOSTILE_EHLO  # Parquet is data, not text: raw like the index


def test_export_text_formats_are_the_cli_records(tmp_path: Path) -> None:
    """CSV and JSON hold what `mailhops sessions --csv/--json` prints: its keys, times with
    a Z, and no cell a spreadsheet would run as a formula."""
    logs = tmp_path / "logs"
    logs.mkdir()
    frame = SESSIONS.head(3).with_columns(
        pl.Series("ehlo", ["=HYPERLINK(1)", "+cmd", "plain.example"])
    )
    data = json.loads(export_frame(frame, tmp_path / "out.json", [logs]).read_text())
    assert data == records(frame)
    assert list(data[0]) == KEYS and data[0]["start"].endswith("Z")
    written = export_frame(frame, tmp_path / "o.csv", [logs]).read_text()
    rows = list(csv.DictReader(written.splitlines()))
    assert [r["ehlo"] for r in rows] == ["'=HYPERLINK(1)", "'+cmd", "plain.example"]
    assert list(rows[0]) == KEYS


def test_export_refuses_log_folders_and_unknown_formats(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "EX01").mkdir(parents=True)
    with pytest.raises(ExportError, match="inside the log folder"):
        export_frame(SESSIONS, logs / "EX01" / "x.csv", [logs])
    with pytest.raises(ExportError, match=r"\.csv, \.json or \.parquet"):
        export_frame(SESSIONS, tmp_path / "x.txt", [logs])
    with pytest.raises(ExportError, match="does not exist"):
        export_frame(SESSIONS, tmp_path / "missing" / "x.csv", [logs])
    assert sorted(p.name for p in logs.rglob("*")) == ["EX01"]


def test_server_and_connector_summaries() -> None:
    problems = pl.DataFrame({"path": ["/a"], "line": [1], "severity": ["error"], "reason": ["x"]})
    files = pl.DataFrame({"path": ["/a"], "server": ["EX01"]})
    servers = server_summary(SESSIONS, files, problems)
    assert servers["server"].to_list() == ["EX01", "EX02"]
    assert servers["sessions"].to_list() == [44, 4]
    assert servers["problems"].to_list() == [1, 0]
    connectors = connector_summary(SESSIONS, "EX02")
    assert set(connectors["connector"]) == {
        "EX02\\Default EX02",
        "Intra-Organization SMTP Send Connector",
        "EX02\\Default Frontend EX02",
    }
    assert connectors["service"].to_list()[0] == "FrontEnd"  # FE first, then Hub


def test_rendered_cells_have_no_controls_and_fixed_widths() -> None:
    row = SESSIONS.filter(pl.col("session_id") == "08DC000000BAD666").row(0, named=True)
    cells = session_cells(row)
    assert all("\x1b" not in c.plain for c in cells)
    assert [c.cell_len for c in cells] == [18, 11, 10, 9, 16, 21, 22, 26, 28, 34]
    line = transcript_line({"event": "<", "data": "XPROXYFROM SID=1", "context": "", "seq": 3})
    assert any("reverse" in str(span.style) for span in line.spans)  # linking line


def test_find_ident_by_every_kind_of_id() -> None:
    assert find_ident(SESSIONS, "08dc000000000a01")["session_id"].to_list() == ["08DC000000000A01"]
    assert find_ident(SESSIONS, "chain@example.org").height == 4
    assert find_ident(SESSIONS, "4242").height == 2
    assert find_ident(SESSIONS, "nope").is_empty()


def test_find_ident_prefers_the_id_as_written_and_falls_back_to_any_case() -> None:
    """Message-IDs are case-sensitive: the one written wins over one that differs in case
    only; an id no session has as written is still found in another case."""
    base = SESSIONS.head(2).with_columns(
        pl.Series("key", ["a|b|c|1", "a|b|c|2"]),
        pl.Series("session_id", ["1", "2"]),
        pl.Series("message_ids", [["<Mixed@Host>"], ["<mixed@host>"]]),
        pl.Series("internal_ids", [[], []], dtype=pl.List(pl.String)),
    )
    assert find_ident(base, "<Mixed@Host>")["key"].to_list() == ["a|b|c|1"]
    assert find_ident(base, "mixed@host")["key"].to_list() == ["a|b|c|2"]
    assert find_ident(base, "MIXED@HOST")["key"].to_list() == ["a|b|c|1", "a|b|c|2"]
    assert find_ident(base, "A|B|C|2")["key"].to_list() == ["a|b|c|2"]
    assert find_ident(base, "a|b|c|2").columns == ["key", "session_id", "start"]


def test_merge_by_time_orders_both_sides() -> None:
    t = datetime(2024, 5, 1, tzinfo=UTC)
    left = pl.DataFrame({"ts": [t, t.replace(second=2)], "seq": [0, 1], "data": ["a", "c"]})
    right = pl.DataFrame({"ts": [t.replace(second=1)], "seq": [0], "data": ["b"]})
    merged = merge_by_time(left, right)
    assert merged["data"].to_list() == ["a", "b", "c"]
    assert merged["side"].to_list() == [0, 1, 0]


def test_empty_filter_selects_every_row_by_number() -> None:
    f = SessionFilter(show_noise=True)
    rows = SESSIONS.select(pl.arg_where(f.expr())).to_series()
    assert rows.to_list() == list(range(SESSIONS.height))


def test_time_order_is_stable_for_equal_times() -> None:
    from mailhops.app.screens.main import _time_order

    t = datetime(2024, 5, 1, tzinfo=UTC)
    frame = pl.DataFrame({"start": [t.replace(second=s % 3) for s in range(3000)]})
    order = _time_order(frame).to_list()
    expected = sorted(range(3000), key=lambda i: (i % 3, i))
    assert order == expected
    ordered = frame.sort("start")  # already in order (the shortcut): same as a stable sort
    assert _time_order(ordered).to_list() == list(range(3000))
    with_null = pl.DataFrame({"start": [t, None, t.replace(second=1), t]})
    assert _time_order(with_null).to_list() == [0, 3, 2, 1]


def test_connector_figures_per_server_match_a_pass_over_that_servers_sessions() -> None:
    counts = connector_counts(SESSIONS)
    for server in (None, "EX01", "EX02"):
        scoped = SESSIONS if server is None else SESSIONS.filter(pl.col("server") == server)
        direct = scoped.group_by("connector", "direction", "service").agg(
            pl.len().alias("sessions"), pl.col("start").min().alias("first")
        )
        from_counts = connectors_of(counts, server)
        assert from_counts.height == direct.height
        assert (
            from_counts.select("connector", "direction", "sessions", "first")
            .sort("connector", "direction")
            .to_dicts()
            == direct.select("connector", "direction", "sessions", "first")
            .sort("connector", "direction")
            .with_columns(pl.col("sessions").cast(pl.UInt32))
            .to_dicts()
        )
    assert connectors_of(counts, "NOSUCH").is_empty()


def test_key_index_finds_every_session_row_and_nothing_else() -> None:
    keys = KeyIndex(SESSIONS["key"])
    for row, key in enumerate(SESSIONS["key"]):
        assert keys.row(key) == row
    assert keys.row("EX01|FrontEnd|receive|0000000000000000") is None
    assert keys.row("") is None and keys.row("\uffff") is None


@pytest.mark.parametrize("ascending", [True, False], ids=["frame-order", "other-order"])
def test_frame_window_finds_a_key_among_the_filtered_rows_with_or_without_the_index(
    ascending: bool,
) -> None:
    # Rows in frame order (a filter over sessions in time order) are binary-searched.
    rows = SESSIONS.select(pl.arg_where(pl.col("server") == "EX02")).to_series()
    rows = rows if ascending else rows.reverse()
    window = FrameWindow(SESSIONS, rows, view_of(SESSIONS))
    keys = KeyIndex(SESSIONS["key"])
    for pos, row in enumerate(rows):
        key = SESSIONS["key"][row]
        assert window.index_of("key", key) == pos == window.index_of("key", key, keys)
        assert window.row(pos)["key"] == key  # drawn from the view, same row
    # Hidden rows before, between and after the shown ones.
    hidden = SESSIONS.with_row_index("row").filter(pl.col("server") != "EX02")
    assert hidden["row"].min() < rows.min() and hidden["row"].max() > rows.max()  # type: ignore[operator]
    for key in hidden["key"]:
        assert window.index_of("key", key) is None is window.index_of("key", key, keys)


def test_view_keeps_the_drawn_columns_and_makes_list_columns_one_chunk() -> None:
    chunked = pl.concat([SESSIONS.head(10), SESSIONS.slice(10)], rechunk=False)
    view = view_of(chunked)
    assert set(view.columns) <= set(VIEW_COLUMNS) and "key" in view.columns
    assert view["rcpt_to"].n_chunks() == 1 and view["message_ids"].n_chunks() == 1
    assert view.to_dicts() == chunked.select(view.columns).to_dicts()
