"""A large stream is aggregated into sessions in buckets of whole sessions (derive.CHUNK_ROWS):
the derived tables must not depend on the bucket size, even when sessions span several files."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mailhops.index import derive
from mailhops.index.build import open_index
from mailhops.sample import SampleOptions, generate


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "logs"
    # Small files force rollover: sessions span several files, hence several buckets' rows.
    generate(out, size_mb=1.0, seed=11, options=SampleOptions(max_file_bytes=32 * 1024))
    return out


def _tables(corpus: Path, cache: Path) -> dict[str, pl.DataFrame]:
    index = open_index([corpus], cache_dir=cache)
    return {"sessions": index.sessions, "messages": index.messages, "links": index.links}


def test_bucketed_streams_give_the_same_tables(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _tables(corpus, tmp_path / "whole")
    monkeypatch.setattr(derive, "CHUNK_ROWS", 50)
    bucketed = _tables(corpus, tmp_path / "bucketed")
    assert whole["sessions"].height > 100
    # Streams of this corpus are several buckets each.
    assert whole["sessions"]["line_count"].sum() > 40 * 50
    assert_frame_equal(whole["sessions"], bucketed["sessions"])
    assert_frame_equal(whole["messages"], bucketed["messages"])
    links = ["src", "src_msg", "dst", "dst_msg", "rule"]
    assert_frame_equal(whole["links"].sort(links), bucketed["links"].sort(links))


def test_buckets_hold_whole_sessions() -> None:
    rows = 5000
    stream = pl.DataFrame(
        {"session_id": [f"{i % 97:016X}" for i in range(rows)], "seq": list(range(rows))}
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(derive, "CHUNK_ROWS", 1000)
        chunks = list(derive._chunks(stream))
    assert len(chunks) == 5
    assert sum(c.height for c in chunks) == rows
    seen = [set(c["session_id"]) for c in chunks]
    for i, a in enumerate(seen):
        for b in seen[i + 1 :]:
            assert not a & b
