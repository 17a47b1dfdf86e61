"""open_index end to end on a generated corpus: tables, counts against truth, progress."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import polars as pl
import pytest

from mailhops.index import schema
from mailhops.index.build import NoLogsError, Progress, open_index
from mailhops.index.model import LogIndex
from mailhops.sample import SampleOptions, generate


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "logs"
    generate(out, size_mb=1.0, seed=3, options=SampleOptions(max_file_bytes=96 * 1024))
    return out


@pytest.fixture(scope="module")
def built(
    corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[LogIndex, list[Progress]]:
    seen: list[Progress] = []
    index = open_index([corpus], cache_dir=tmp_path_factory.mktemp("cache"), progress=seen.append)
    return index, seen


def truth(corpus: Path, name: str) -> list[dict[str, object]]:
    text = (corpus / "truth" / f"{name}.jsonl").read_text()
    return [json.loads(x) for x in text.splitlines()]


def test_tables_have_the_contract_schemas(built: tuple[LogIndex, list[Progress]]) -> None:
    index, _ = built
    assert dict(index.files.schema) == schema.FILES
    assert dict(index.sessions.schema) == schema.SESSIONS
    assert dict(index.problems.schema) == schema.PROBLEMS
    assert dict(index.lines().collect_schema()) == schema.LINES
    assert dict(index.connectivity().collect_schema()) == schema.CONNECTIVITY_LINES
    assert dict(index.tracking().collect_schema()) == schema.TRACKING_LINES
    for col, dtype in schema.MESSAGES.items():
        assert index.messages.schema[col] == dtype
    for col, dtype in schema.LINKS.items():
        assert index.links.schema[col] == dtype


def test_counts_equal_truth(corpus: Path, built: tuple[LogIndex, list[Progress]]) -> None:
    index, _ = built
    files = truth(corpus, "files")
    assert index.stats.files == len(files)
    assert index.stats.lines == sum(int(f["lines"]) for f in files)  # type: ignore[call-overload]
    assert index.stats.bad_lines == 0
    assert index.stats.sessions == len(truth(corpus, "sessions"))
    assert index.stats.servers == ["EX19MBX1", "EX19MBX2", "EX19MBX3"]
    by_path = {str(corpus / str(f["path"])): f for f in files}
    for row in index.files.iter_rows(named=True):
        f = by_path[row["path"]]
        assert (row["server"], row["service"], row["log_type"]) == (
            f["server"],
            f["service"],
            f["log_type"],
        )
        assert row["lines"] == f["lines"]
    proto = sum(int(f["lines"]) for f in files if f["log_type"] in ("smtp-receive", "smtp-send"))  # type: ignore[call-overload]
    assert index.lines().select(pl.len()).collect().item() == proto


def test_transcripts_are_whole_sessions_in_order(
    corpus: Path, built: tuple[LogIndex, list[Progress]]
) -> None:
    index, _ = built
    spanning = index.sessions.filter(pl.col("file_ids").list.len() > 1)
    assert spanning.height > 0
    sample = pl.concat([spanning.head(5), index.sessions.sample(10, seed=1)])
    for s in sample.iter_rows(named=True):
        lines = index.transcript(s["key"])
        assert lines.height == s["line_count"]
        assert lines["seq"].is_sorted()
        assert set(lines["file_id"].unique()) == set(s["file_ids"])
        assert (lines["session_id"] == s["session_id"]).all()
        assert (lines["server"] == s["server"]).all()
    assert index.transcript("NOPE|Hub|receive|0").height == 0


def test_find_sessions_is_case_insensitive(built: tuple[LogIndex, list[Progress]]) -> None:
    index, _ = built
    s = index.sessions.row(0, named=True)
    found = index.find_sessions(s["session_id"].lower(), s["server"].lower())
    assert s["key"] in found["key"].to_list()
    assert index.find_sessions("0000000000000000").height == 0


def test_progress_reports_every_file(built: tuple[LogIndex, list[Progress]]) -> None:
    index, seen = built
    assert len(seen) == index.stats.files
    assert [p.files_done for p in seen] == list(range(1, len(seen) + 1))
    last = seen[-1]
    assert last.files_total == index.stats.files
    assert last.bytes_done == last.bytes_total == index.stats.bytes
    assert last.lines_done == index.stats.lines
    assert all(a.bytes_done <= b.bytes_done for a, b in itertools.pairwise(seen))


def test_summary_has_the_json_contract(built: tuple[LogIndex, list[Progress]]) -> None:
    index, _ = built
    doc = index.summary()
    json.dumps(doc)
    for key in ("files", "lines", "sessions", "bad_lines"):
        assert isinstance(doc[key], int)
    assert isinstance(doc["servers"], list) and isinstance(doc["elapsed_s"], float)
    assert isinstance(doc["problems"], list) and isinstance(doc["problems_total"], int)


def test_no_logs_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("not a log")
    with pytest.raises(NoLogsError):
        open_index([tmp_path], cache_dir=tmp_path / "cache-elsewhere")
    with pytest.raises(OSError, match="no-such"):
        open_index([tmp_path / "no-such"], cache_dir=tmp_path / "cache2")
    assert not (tmp_path / "cache2").exists()
