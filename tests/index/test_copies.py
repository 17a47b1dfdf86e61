"""A log given twice (a copied folder, a zip beside its extraction, an older copy) is indexed
once; logs that merely share their header are not taken for copies."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import polars as pl
import pytest
from logwriter import write_log

from mailhops.index import schema
from mailhops.index.build import open_index

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_logs"


def _rows(sid: str, minute: int, host: str) -> list[str]:
    t = f"2026-03-02T10:{minute:02d}"
    pre = f"{host}\\Default Frontend {host},{sid}"
    ep = "10.0.3.4:25,203.0.113.9:5000"
    return [
        f"{t}:00.000Z,{pre},0,{ep},+,,",
        f"{t}:00.100Z,{pre},1,{ep},>,220 {host} ready,",
        f"{t}:00.200Z,{pre},2,{ep},<,EHLO client.example,",
        f"{t}:00.300Z,{pre},3,{ep},-,,Local",
    ]


def _tables(index: object) -> dict[str, pl.DataFrame]:
    return {
        "sessions": index.sessions.drop("file_ids").sort("key"),  # type: ignore[attr-defined]
        "messages": index.messages.sort(["key", "msg"]),  # type: ignore[attr-defined]
        "links": index.links.sort(pl.all()),  # type: ignore[attr-defined]
    }


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory) -> object:
    return open_index([SAMPLE], cache_dir=tmp_path_factory.mktemp("alone"))


def _logs(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.upper() == ".LOG")


def test_a_copied_server_folder_is_indexed_once(alone: object, tmp_path: Path) -> None:
    copy = tmp_path / "collected"
    shutil.copytree(SAMPLE / "EX19MBX2", copy / "EX19MBX2")
    both = open_index([SAMPLE, copy], cache_dir=tmp_path / "cache")
    copied = _logs(copy)
    assert both.stats.copied_files == len(copied) > 0
    assert both.stats.files == alone.stats.files + len(copied)  # type: ignore[attr-defined]
    assert both.stats.lines == alone.stats.lines  # type: ignore[attr-defined]
    for name, frame in _tables(alone).items():
        assert _tables(both)[name].equals(frame), name
    warned = both.problems.filter(pl.col("reason").str.starts_with("same log as "))
    assert warned.height == len(copied)
    assert set(warned["severity"]) == {schema.WARNING}
    # One of each pair is reported, naming the other.
    for path, reason in warned.select("path", "reason").iter_rows():
        other = reason.removeprefix("same log as ").split(": indexed once")[0]
        assert Path(path).name == Path(other).name and path != other
    key = both.sessions.filter(pl.col("server") == "EX19MBX2")["key"][0]
    transcript = both.transcript(key)
    assert transcript.height == alone.transcript(key).height  # type: ignore[attr-defined]
    assert transcript["seq"].is_unique().all()
    again = open_index([SAMPLE, copy], cache_dir=tmp_path / "cache")  # warm: same answer
    assert again.stats.rebuilt_tables is False
    assert again.problems.filter(pl.col("reason").str.starts_with("same log as ")).height == len(
        copied
    )


def test_a_zip_beside_its_extraction_is_indexed_once(alone: object, tmp_path: Path) -> None:
    archive = tmp_path / "collected.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in _logs(SAMPLE):
            zf.write(path, str(path.relative_to(SAMPLE)))
    both = open_index([SAMPLE, archive], cache_dir=tmp_path / "cache")
    assert both.stats.copied_files == len(_logs(SAMPLE))
    for name, frame in _tables(alone).items():
        assert _tables(both)[name].equals(frame), name


def test_an_older_copy_of_a_growing_log_is_left_for_the_log(tmp_path: Path) -> None:
    """A copy taken while Exchange was writing is a prefix of the log: the log is indexed."""
    log = tmp_path / "live" / "EX1" / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "R1.LOG"
    rows = [r for i in range(60) for r in _rows(f"08DE00000000{i:04X}", i % 60, "EX1")]
    rows.insert(5, "a line Exchange never wrote")  # a problem of the log and of its copy
    write_log(log, rows[:200])
    older = tmp_path / "old" / "EX1" / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "R1.LOG"
    older.parent.mkdir(parents=True)
    shutil.copy(log, older)
    write_log(log, rows[200:], header=False)
    assert older.stat().st_size > 4096
    index = open_index([tmp_path / "live", tmp_path / "old"], cache_dir=tmp_path / "cache")
    assert index.stats.copied_files == 1
    assert index.stats.sessions == 60 and index.stats.lines == len(rows) - 1
    assert index.stats.bad_lines == 1
    (problem,) = index.problems.filter(pl.col("path") == str(older)).iter_rows()
    assert problem[3].startswith("same log as ") and str(log) in problem[3]
    assert index.problems.filter(pl.col("path") == str(log)).height == 1  # the bad line


def test_a_copy_of_a_log_first_read_when_small_is_still_found(tmp_path: Path) -> None:
    """A current-hour log first indexed with a few lines keeps growing; a copy of it taken
    later is recognised once the log has grown past the first 4 KB."""
    log = tmp_path / "live" / "EX1" / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "R1.LOG"
    write_log(log, _rows("08DE000000000001", 0, "EX1"))
    assert log.stat().st_size < 4096
    cache = tmp_path / "cache"
    open_index([tmp_path / "live"], cache_dir=cache)
    rows = [r for i in range(2, 60) for r in _rows(f"08DE00000000{i:04X}", i, "EX1")]
    write_log(log, rows, header=False)
    copy = tmp_path / "live" / "copy" / "R1.LOG"
    copy.parent.mkdir()
    shutil.copy(log, copy)
    index = open_index([tmp_path / "live"], cache_dir=cache)
    assert index.stats.grown_files == 1
    assert index.stats.copied_files == 1 and index.stats.sessions == 59


def test_logs_that_share_only_their_header_are_both_indexed(tmp_path: Path) -> None:
    """Two servers' files opened in the same millisecond have the same header; read first
    while they held nothing else, they are still two logs once lines come."""
    one = tmp_path / "EX1" / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "RECV2026030210-1.LOG"
    two = tmp_path / "EX2" / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "RECV2026030210-1.LOG"
    write_log(one, [])
    write_log(two, [])
    assert one.read_bytes() == two.read_bytes()
    cache = tmp_path / "cache"
    open_index([tmp_path], cache_dir=cache)
    write_log(one, _rows("08DE0000000000A1", 1, "EX1"), header=False)
    write_log(two, _rows("08DE0000000000B1", 2, "EX2"), header=False)
    index = open_index([tmp_path], cache_dir=cache)
    assert index.stats.grown_files == 2
    assert index.stats.copied_files == 0
    assert sorted(index.sessions["session_id"]) == ["08DE0000000000A1", "08DE0000000000B1"]
