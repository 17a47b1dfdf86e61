"""Malformed lines and files: counted with file and line, every valid line indexed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from hostilekit import Corpus

from mailhops import hostile


def _problems(index: Any, severity: str) -> pl.DataFrame:
    return index.problems.filter(pl.col("severity") == severity)


def test_injector_keeps_the_generator_truth(corpus: Corpus) -> None:
    """Untouched files keep exactly the generator's data lines; damage adds known lines."""
    touched = {p for paths in corpus.truth.injected.values() for p in paths}
    for rel, lines in corpus.gen_lines.items():
        path = str((corpus.tree / rel).resolve())
        if path not in touched:
            assert corpus.truth.files[path].valid_lines == lines, rel
    assert set(corpus.truth.injected) >= {
        *hostile.BAD_TEMPLATES,
        *hostile.WARN_TEMPLATES,
        "hostile",
        "mid_file_header",
        "truncated_last_line",
        "missing_fields",
        "headers_only",
        "zero_byte",
        "unknown_log_type",
        "not_a_log",
    }


def test_every_bad_line_is_counted_with_its_file_and_line(corpus: Corpus, built: Any) -> None:
    errors = _problems(built, "error").filter(pl.col("line") > 0)
    counted = set(zip(errors["path"], errors["line"], strict=True))
    assert counted == corpus.truth.bad_set()
    assert built.stats.bad_lines == len(corpus.truth.bad_set())
    assert built.files["bad_lines"].sum() == len(corpus.truth.bad_set())


def test_every_valid_line_is_indexed(corpus: Corpus, built: Any) -> None:
    assert built.stats.lines == corpus.truth.valid_total
    per_file = dict(zip(built.files["path"], built.files["lines"], strict=True))
    expected = {p: f.valid_lines for p, f in corpus.truth.files.items()}
    assert per_file == expected
    indexed = built.lines().select(pl.len()).collect().item()
    conn = built.connectivity().select(pl.len()).collect().item()
    track = built.tracking().select(pl.len()).collect().item()
    assert indexed + conn + track == corpus.truth.valid_total


def test_undecodable_bytes_are_indexed_with_a_warning(corpus: Corpus, built: Any) -> None:
    warnings = _problems(built, "warning").filter(pl.col("line") > 0)
    warned = set(zip(warnings["path"], warnings["line"], strict=True))
    assert corpus.truth.warn_set() <= warned
    assert warned - corpus.truth.bad_set() == corpus.truth.warn_set()
    target = Path(next(iter(corpus.truth.warn_set()))[0])
    rows = (
        built.lines()
        .filter(pl.col("line_no").is_in([n for p, n in corpus.truth.warn_set()]))
        .filter(pl.col("session_id").str.starts_with("0BAD"))
        .collect()
    )
    assert rows.height == len(corpus.truth.warn_set())
    assert any("\\xff" in d or "\\xf6" in d for d in rows["data"]), target


def test_file_level_problems_have_the_expected_severity(corpus: Corpus, built: Any) -> None:
    whole = built.problems.filter(pl.col("line") == 0)
    found = {(p, s) for p, s in zip(whole["path"], whole["severity"], strict=True)}
    for path, ft in corpus.truth.files.items():
        if ft.file_problem:
            assert (path, ft.file_severity) in found, (ft.file_problem, path)
    skipped = {p for p, s in found if s == "error"}
    assert skipped == {p for p, f in corpus.truth.files.items() if f.file_severity == "error"}


def test_partial_last_line_is_held_back_as_info(corpus: Corpus, built: Any) -> None:
    info = _problems(built, "info").filter(pl.col("line") > 0)
    held = set(zip(info["path"], info["line"], strict=True))
    expected = {(p, f.held_back) for p, f in corpus.truth.files.items() if f.held_back}
    assert held == expected
    assert not held & corpus.truth.bad_set()


def test_long_valid_line_is_indexed_whole(built: Any) -> None:
    long = (
        built.lines()
        .filter(pl.col("data").str.len_bytes() >= hostile.LONG_VALID_BYTES)
        .select("session_id", pl.col("data").str.len_bytes().alias("n"))
        .collect()
    )
    assert long.rows() == [(long["session_id"][0], hostile.LONG_VALID_BYTES)]
    assert long["session_id"][0].startswith("0BAD")


def test_mid_file_header_is_not_data(corpus: Corpus, built: Any) -> None:
    target = corpus.truth.injected["mid_file_header"][0]
    rows = built.lines().filter(pl.col("data").str.starts_with("#")).collect()
    assert rows.height == 0
    raw = Path(target).read_bytes().split(b"\n")
    header_lines = [
        i + 1 for i, ln in enumerate(raw) if ln.removeprefix(hostile.BOM).startswith(b"#Software")
    ]
    assert len(header_lines) == 2  # the file's own header and the injected one
    ids = built.files.filter(pl.col("path") == target)["file_id"].to_list()
    at = header_lines[1]
    around = (
        built.lines()
        .filter(pl.col("file_id").is_in(ids), pl.col("line_no").is_between(at, at + 4))
        .collect()
    )
    assert around.height == 0


def test_hostile_tracking_rows_are_indexed_raw(corpus: Corpus, built: Any) -> None:
    """Raw bytes stay in the index for search: only the door to the screen cleans them."""
    rows = (
        built.tracking()
        .filter(pl.col("message_id").is_in(list(corpus.truth.hostile_message_ids)))
        .collect()
    )
    assert rows.height == len(hostile.PAYLOADS)
    subjects = "".join(rows["message_subject"])
    assert all(p in subjects for p in hostile.PAYLOADS.values())


def test_hostile_send_sessions_keep_the_remote_reply(corpus: Corpus, built: Any) -> None:
    sessions = built.sessions.filter(
        pl.col("session_id").is_in(list(corpus.truth.hostile_send_sessions))
    )
    assert sessions.height == len(hostile.PAYLOADS)
    assert set(sessions["direction"]) == {"send"}
    assert set(sessions["last_code"]) == {550}


def test_messages_keep_the_same_addresses_as_sessions(corpus: Corpus, built: Any) -> None:
    sessions = built.sessions.filter(
        pl.col("session_id").is_in(list(corpus.truth.hostile_sessions))
    )
    messages = built.messages.filter(pl.col("key").is_in(list(sessions["key"])))
    by_key = dict(zip(sessions["key"], sessions["mail_from"], strict=True))
    assert messages.height == len(corpus.truth.hostile_sessions)
    assert {k: m for k, m in zip(messages["key"], messages["mail_from"], strict=True)} == by_key
