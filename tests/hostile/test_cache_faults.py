"""A damaged, outdated or shared cache is detected and rebuilt: never wrong results."""

from __future__ import annotations

import multiprocessing as mp
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hostilekit import Corpus

from mailhops.index.build import open_index


def snapshot(index: Any) -> tuple[Any, ...]:
    """Everything a user sees, in a comparable form."""
    sessions = index.sessions.drop("file_ids").sort("key")
    lines = (
        index.lines()
        .select("file_id", "line_no", "session_id", "seq", "data")
        .sort("file_id", "line_no")
        .collect()
    )
    paths = dict(zip(index.files["file_id"], index.files["path"], strict=True))
    lines = lines.with_columns(pl.col("file_id").replace_strict(paths).alias("file_id"))
    problems = index.problems.sort("path", "line", "severity", "reason")
    return (
        index.stats.lines,
        index.stats.bad_lines,
        sessions.rows(),
        lines.rows(),
        problems.rows(),
    )


@pytest.fixture(scope="module")
def fresh(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, ...]:
    """The snapshot of a fresh build of the injected corpus in its own cache."""
    cache = tmp_path_factory.mktemp("fresh-cache")
    return snapshot(open_index([corpus.tree], cache_dir=cache))


def _warm_cache(corpus: Corpus, tmp_path: Path) -> tuple[Path, Path]:
    cache = tmp_path / "cache"
    index = open_index([corpus.tree], cache_dir=cache)
    return cache, Path(index.stats.cache_dir)


def _largest_part(corpus_dir: Path) -> Path:
    return max((corpus_dir / "parts").glob("*.parquet"), key=lambda p: p.stat().st_size)


def test_truncated_part_is_detected(corpus: Corpus, tmp_path: Path, fresh: Any) -> None:
    cache, cdir = _warm_cache(corpus, tmp_path)
    part = _largest_part(cdir)
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    assert snapshot(open_index([corpus.tree], cache_dir=cache)) == fresh


def test_corrupted_part_same_size_is_detected(corpus: Corpus, tmp_path: Path, fresh: Any) -> None:
    """Bytes flipped inside a part (magics and size intact): a silent disk error."""
    cache, cdir = _warm_cache(corpus, tmp_path)
    for part in (cdir / "parts").glob("*.parquet"):  # every part: the result is deterministic
        raw = bytearray(part.read_bytes())
        mid = len(raw) // 2
        raw[mid : mid + 64] = bytes(b ^ 0xFF for b in raw[mid : mid + 64])
        part.write_bytes(bytes(raw))
    assert snapshot(open_index([corpus.tree], cache_dir=cache)) == fresh


@pytest.mark.parametrize("table", ["sessions", "links", "problems", "manifest"])
def test_corrupted_table_is_rebuilt(corpus: Corpus, tmp_path: Path, fresh: Any, table: str) -> None:
    cache, cdir = _warm_cache(corpus, tmp_path)
    path = cdir / f"{table}.parquet"
    path.write_bytes(path.read_bytes()[:100] + b"garbage" * 10)
    assert snapshot(open_index([corpus.tree], cache_dir=cache)) == fresh


def test_manifest_of_an_older_version_is_rebuilt(
    corpus: Corpus, tmp_path: Path, fresh: Any
) -> None:
    cache, cdir = _warm_cache(corpus, tmp_path)
    manifest = cdir / "manifest.parquet"
    old = pl.read_parquet(manifest)
    meta = pl.read_parquet_metadata(manifest)
    meta = {k: ("0" if k == "mailhops_format" else v) for k, v in meta.items()}
    old.write_parquet(manifest, metadata=meta)
    index = open_index([corpus.tree], cache_dir=cache)
    assert index.stats.reused_files == 0
    assert snapshot(index) == fresh


def test_manifest_with_an_older_schema_is_rebuilt(
    corpus: Corpus, tmp_path: Path, fresh: Any
) -> None:
    """Same format number, but a column an older mailhops did not write."""
    cache, cdir = _warm_cache(corpus, tmp_path)
    manifest = cdir / "manifest.parquet"
    meta = pl.read_parquet_metadata(manifest)
    pl.read_parquet(manifest).drop("head_hash").write_parquet(manifest, metadata=meta)
    assert snapshot(open_index([corpus.tree], cache_dir=cache)) == fresh


def test_cache_dir_is_a_file(corpus: Corpus, tmp_path: Path) -> None:
    from mailhops.index.cache import CacheError

    (tmp_path / "cache").write_text("not a folder")
    with pytest.raises(CacheError):
        open_index([corpus.tree], cache_dir=tmp_path / "cache")


def _build_in_child(tree: str, cache: str, out: Any) -> None:
    index = open_index([tree], cache_dir=cache)
    out.put((index.stats.lines, index.stats.bad_lines, index.sessions.height))


def test_two_processes_share_one_cache(corpus: Corpus, tmp_path: Path, fresh: Any) -> None:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    cache = tmp_path / "cache"
    procs = [
        ctx.Process(target=_build_in_child, args=(str(corpus.tree), str(cache), queue))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    expected = (fresh[0], fresh[1], len(fresh[2]))
    assert results == [expected, expected]
    assert snapshot(open_index([corpus.tree], cache_dir=cache)) == fresh
    leftovers = [p.name for p in cache.rglob(".tmp-*")]
    assert leftovers == []


def test_cache_deleted_under_a_reader(corpus: Corpus, tmp_path: Path, fresh: Any) -> None:
    cache, cdir = _warm_cache(corpus, tmp_path)
    shutil.rmtree(cdir)
    assert snapshot(open_index([corpus.tree], cache_dir=cache)) == fresh
