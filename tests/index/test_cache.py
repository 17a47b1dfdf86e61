"""The Parquet cache: reuse, growth, change, corruption, old formats, concurrency, no writes
into the log folders."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
from pathlib import Path

import polars as pl
import pytest
from logwriter import write_log

from mailhops.index import cache as cache_mod
from mailhops.index import stages
from mailhops.index.build import open_index
from mailhops.index.stages import StageFns

CONN = "EX1\\Default Frontend EX1"


def session_rows(sid: str, minute: int, *, quit_: bool = True) -> list[str]:
    t = f"2026-03-02T10:{minute:02d}"
    pre = f"{CONN},{sid}"
    ep = "10.0.3.4:25,203.0.113.9:5000"
    rows = [
        f"{t}:00.000Z,{pre},0,{ep},+,,",
        f"{t}:00.100Z,{pre},1,{ep},>,220 EX1 ready,",
        f"{t}:00.200Z,{pre},2,{ep},<,EHLO client.example,",
        f"{t}:00.300Z,{pre},3,{ep},<,MAIL FROM:<a@example.com>,",
        f"{t}:00.400Z,{pre},4,{ep},<,RCPT TO:<b@lab.test>,",
        f"{t}:00.500Z,{pre},5,{ep},<,DATA,",
        f"{t}:00.600Z,{pre},6,{ep},>,250 2.6.0 <m{sid}@x> [InternalId=1] Queued mail for delivery,",
    ]
    if quit_:
        rows.append(f"{t}:00.700Z,{pre},7,{ep},-,,Local")
    return rows


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Install the stages with a parse() that counts its calls."""
    fns = stages.stage_functions()
    calls = {"parse": 0}

    def parse(*args: object, **kwargs: object) -> object:
        calls["parse"] += 1
        return fns.parse(*args, **kwargs)

    counted = StageFns(
        fns.discover,
        parse,
        fns.classify,
        fns.resolve_servers,
        fns.build_messages,
        fns.build_links,
        fns.learn_servers,
    )
    stages.set_stage_functions(counted)
    yield calls
    stages.set_stage_functions(None)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "logs"
    recv = root / "EX1" / "FrontEnd" / "ProtocolLog" / "SmtpReceive"
    write_log(
        recv / "RECV2026030210-1.LOG",
        session_rows("08DE0000000000A1", 1) + session_rows("08DE0000000000A2", 2),
    )
    write_log(recv / "RECV2026030211-1.LOG", session_rows("08DE0000000000A3", 3))
    return root


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def test_unchanged_corpus_opens_without_parsing(
    corpus: Path, tmp_path: Path, counting: dict[str, int]
) -> None:
    cache = tmp_path / "cache"
    before = tree_digest(corpus)
    first = open_index([corpus], cache_dir=cache)
    assert counting["parse"] == 2
    assert first.stats.parsed_files == 2
    assert first.stats.sessions == 3
    again = open_index([corpus], cache_dir=cache)
    assert counting["parse"] == 2
    assert again.stats.parsed_files == 0
    assert again.stats.reused_files == 2
    assert again.stats.rebuilt_tables is False
    assert again.sessions.equals(first.sessions)
    assert tree_digest(corpus) == before
    assert not [p for p in corpus.rglob("*") if p.suffix in (".parquet", ".lock")]


def test_grown_file_is_read_from_its_offset(
    corpus: Path, tmp_path: Path, counting: dict[str, int]
) -> None:
    cache = tmp_path / "cache"
    log = corpus / "EX1" / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "RECV2026030211-1.LOG"
    first = open_index([corpus], cache_dir=cache)
    lines_before = first.stats.lines
    write_log(log, session_rows("08DE0000000000A4", 4), header=False)
    seen: list[int] = []
    real = stages.stage_functions().parse

    def spy(data: bytes, path: str, **kw: object) -> object:
        seen.append(int(kw.get("offset", 0)))  # type: ignore[call-overload]
        assert not data.startswith(b"\xef\xbb\xbf#")  # only the new bytes
        return real(data, path, **kw)

    fns = stages.stage_functions()
    stages.set_stage_functions(
        StageFns(
            fns.discover,
            spy,
            fns.classify,
            fns.resolve_servers,
            fns.build_messages,
            fns.build_links,
            fns.learn_servers,
        )
    )
    grown = open_index([corpus], cache_dir=cache)
    assert grown.stats.grown_files == 1
    assert grown.stats.parsed_files == 0
    assert seen and seen[0] > 0
    assert grown.stats.lines == lines_before + 8
    assert grown.stats.sessions == 4
    assert grown.transcript(grown.sessions["key"][-1]).height == 8


def test_session_cut_by_a_growing_file_completes(
    corpus: Path, tmp_path: Path, counting: dict[str, int]
) -> None:
    cache = tmp_path / "cache"
    log = corpus / "EX1" / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "RECV2026030211-1.LOG"
    rows = session_rows("08DE0000000000B1", 5)
    write_log(log, rows[:-1], header=False)
    index = open_index([corpus], cache_dir=cache)
    key = index.find_sessions("08de0000000000b1")["key"][0]
    assert index.session(key)["outcome"] == "delivered"  # type: ignore[index]
    assert index.session(key)["line_count"] == 7  # type: ignore[index]
    write_log(log, rows[-1:], header=False)
    index = open_index([corpus], cache_dir=cache)
    assert index.session(key)["line_count"] == 8  # type: ignore[index]
    assert index.transcript(key)["seq"].to_list() == list(range(8))


def test_rewritten_file_is_parsed_again(
    corpus: Path, tmp_path: Path, counting: dict[str, int]
) -> None:
    cache = tmp_path / "cache"
    open_index([corpus], cache_dir=cache)
    log = corpus / "EX1" / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "RECV2026030210-1.LOG"
    log.unlink()
    write_log(log, session_rows("08DE0000000000C1", 7))  # smaller: a new file, same name
    index = open_index([corpus], cache_dir=cache)
    assert index.stats.parsed_files == 1
    assert index.stats.reused_files == 1
    assert sorted(index.sessions["session_id"]) == ["08DE0000000000A3", "08DE0000000000C1"]
    # Same size, different head: also a rewrite, not growth.
    data = log.read_bytes().replace(b"08DE0000000000C1", b"08DE0000000000C2")
    log.write_bytes(data)
    os.utime(log, ns=(1, 1))
    index = open_index([corpus], cache_dir=cache)
    assert "08DE0000000000C2" in index.sessions["session_id"].to_list()
    assert "08DE0000000000C1" not in index.sessions["session_id"].to_list()


def test_corrupt_part_and_table_are_rebuilt(
    corpus: Path, tmp_path: Path, counting: dict[str, int]
) -> None:
    cache = tmp_path / "cache"
    good = open_index([corpus], cache_dir=cache)
    parts = sorted(Path(good.cache_dir, "parts").glob("*.parquet"))
    parts[0].write_bytes(parts[0].read_bytes()[:-50])  # truncated
    index = open_index([corpus], cache_dir=cache)
    assert index.stats.parsed_files == 1
    assert index.sessions.drop("file_ids").equals(good.sessions.drop("file_ids"))
    sessions = Path(good.cache_dir, "sessions.parquet")
    raw = bytearray(sessions.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte inside the data pages
    sessions.write_bytes(bytes(raw))
    index = open_index([corpus], cache_dir=cache)
    assert index.stats.rebuilt_tables is True
    assert index.sessions.drop("file_ids").equals(good.sessions.drop("file_ids"))


def test_old_format_version_is_rebuilt(
    corpus: Path, tmp_path: Path, counting: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setattr(cache_mod, "FORMAT_VERSION", cache_mod.FORMAT_VERSION - 1)
    open_index([corpus], cache_dir=cache)
    monkeypatch.undo()
    index = open_index([corpus], cache_dir=cache)
    assert index.stats.parsed_files == 2
    assert index.stats.sessions == 3


def _open_in_child(corpus: str, cache: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    index = open_index([corpus], cache_dir=cache)
    out.put(sorted(index.sessions["key"].to_list()))


def test_two_processes_share_one_cache(corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_open_in_child, args=(str(corpus), str(cache), out)) for _ in range(3)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert all(r == results[0] for r in results)
    assert len(results[0]) == 3
    manifest = pl.read_parquet(next(cache.glob("*/manifest.parquet")))
    assert manifest.height == 2
    assert not list(cache.glob("*/.tmp-*")) and not list(cache.glob("*/parts/.tmp-*"))


def test_flipped_bytes_inside_a_part_are_detected(
    corpus: Path, tmp_path: Path, counting: dict[str, int]
) -> None:
    cache = tmp_path / "cache"
    good = open_index([corpus], cache_dir=cache)
    part = max(Path(good.cache_dir, "parts").glob("*.parquet"), key=lambda p: p.stat().st_size)
    raw = bytearray(part.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # same size, magics intact: a silent disk error
    part.write_bytes(bytes(raw))
    index = open_index([corpus], cache_dir=cache)
    assert index.stats.parsed_files == 1
    assert (
        index.lines()
        .collect()
        .sort("file_id", "line_no")
        .equals(good.lines().collect().sort("file_id", "line_no"))
    )


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"#Software: x\r\nnot a log\r\n"])
def test_unchanged_file_without_lines_keeps_the_cache_warm(
    corpus: Path, tmp_path: Path, counting: dict[str, int], content: bytes
) -> None:
    """A zero-byte, BOM-only or unknown file (Exchange's fresh log, a stray file) is reported
    once; opening again must not parse it again nor rebuild the derived tables."""
    recv = corpus / "EX1" / "FrontEnd" / "ProtocolLog" / "SmtpReceive"
    (recv / "RECV2026030212-1.LOG").write_bytes(content)
    cache = tmp_path / "cache"
    first = open_index([corpus], cache_dir=cache)
    assert counting["parse"] == 3
    again = open_index([corpus], cache_dir=cache)
    assert counting["parse"] == 3
    assert again.stats.parsed_files == 0
    assert again.stats.rebuilt_tables is False
    assert again.problems.equals(first.problems)
    (recv / "RECV2026030212-1.LOG").write_bytes(content + b"\r\n" * 2)  # it changed: read again
    open_index([corpus], cache_dir=cache)
    assert counting["parse"] == 4


REPO = Path(__file__).resolve().parents[2]


def _comparable(index: object) -> dict[str, pl.DataFrame]:
    """The derived tables, in an order that does not depend on how they were built."""
    return {
        "sessions": index.sessions.sort("key"),  # type: ignore[attr-defined]
        "messages": index.messages.sort(["key", "msg"]),  # type: ignore[attr-defined]
        "links": index.links.sort(pl.all()),  # type: ignore[attr-defined]
    }


def test_a_grown_file_re_derives_only_its_own_stream(tmp_path: Path) -> None:
    """A growing current-hour log (the usual case on a live server) makes the next open
    re-derive the stream it belongs to; the tables equal a build from scratch."""
    import shutil

    logs = tmp_path / "logs"
    shutil.copytree(REPO / "sample_logs", logs, ignore=shutil.ignore_patterns("truth"))
    cache = tmp_path / "cache"
    first = open_index([logs], cache_dir=cache)
    streams = first.stats.derived_streams
    assert streams >= 6 and first.stats.reused_streams == 0
    fe = logs / "EX19MBX1" / "ExchangeLogs" / "Frontend" / "ProtocolLog" / "SmtpReceive"
    log = sorted(fe.glob("RECV*.LOG"))[-1]
    conn, ep = "EX19MBX1\\Default Frontend EX19MBX1", "10.0.3.4:25,203.0.113.250:40000"
    rows = [
        r.replace("EX1\\Default Frontend EX1", conn) for r in session_rows("08DFFFFF00000001", 59)
    ]
    rows = [r.replace("10.0.3.4:25,203.0.113.9:5000", ep) for r in rows]
    write_log(log, rows, header=False)

    grown = open_index([logs], cache_dir=cache)
    assert grown.stats.grown_files == 1
    assert (grown.stats.derived_streams, grown.stats.reused_streams) == (1, streams - 1)
    assert grown.stats.sessions == first.stats.sessions + 1
    fresh = open_index([logs], cache_dir=tmp_path / "fresh")
    for name, frame in _comparable(fresh).items():
        assert _comparable(grown)[name].equals(frame), name
    # The grown stream's old tables are gone; as many stream tables as streams remain.
    assert len(list(Path(grown.cache_dir, "streams").glob("*.parquet"))) == 3 * streams


def test_a_damaged_stream_table_is_derived_again(corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = open_index([corpus], cache_dir=cache)
    (stream,) = Path(first.cache_dir, "streams").glob("*-sessions.parquet")
    raw = bytearray(stream.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    stream.write_bytes(bytes(raw))
    log = corpus / "EX1" / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "RECV2026030211-1.LOG"
    write_log(log, session_rows("08DE0000000000A4", 4), header=False)
    index = open_index([corpus], cache_dir=cache)
    assert (index.stats.derived_streams, index.stats.reused_streams) == (1, 0)
    assert index.stats.sessions == 4


def test_stream_tables_of_other_code_are_not_reused(corpus: Path, tmp_path: Path) -> None:
    """Tables derived by other code (an upgrade, other stage functions) are derived again."""
    cache = tmp_path / "cache"
    first = open_index([corpus], cache_dir=cache)
    assert first.stats.derived_streams == 1
    fns = stages.stage_functions()
    assert fns.build_messages is not None
    real = fns.build_messages

    def build_messages(lines: pl.LazyFrame) -> pl.DataFrame:
        return real(lines)

    stages.set_stage_functions(
        StageFns(
            fns.discover,
            fns.parse,
            fns.classify,
            fns.resolve_servers,
            build_messages,
            fns.build_links,
            fns.learn_servers,
        )
    )
    try:
        log = corpus / "EX1" / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "RECV2026030210-1.LOG"
        os.utime(log)  # touched: the tables are derived again, by the other code
        index = open_index([corpus], cache_dir=cache)
    finally:
        stages.set_stage_functions(None)
    assert (index.stats.derived_streams, index.stats.reused_streams) == (1, 0)
