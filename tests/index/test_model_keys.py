"""LogIndex.session finds a session by its key through one sorted key index (model.KeyIndex)."""

from __future__ import annotations

import threading
from typing import Any

import polars as pl

from mailhops.index.cache import MANIFEST
from mailhops.index.model import KeyIndex, LogIndex

# Unsorted keys, one of them twice (a session id reused after a restart).
KEYS = ["EX2|Hub|send|B", "EX1|FrontEnd|receive|A", "EX1|Hub|receive|C", "EX1|FrontEnd|receive|A"]
SESSIONS = pl.DataFrame({"key": KEYS, "n": list(range(len(KEYS)))})


def _index(sessions: pl.DataFrame) -> LogIndex:
    empty = pl.DataFrame(schema=MANIFEST)
    stats: Any = None
    return LogIndex(
        cache=None,  # type: ignore[arg-type]
        manifest=empty,
        sessions=sessions,
        messages=pl.DataFrame(),
        links=pl.DataFrame(),
        problems=pl.DataFrame(),
        stats=stats,
    )


def test_key_index_answers_the_first_row_of_a_key_as_a_filter_would() -> None:
    keys = KeyIndex(SESSIONS["key"])
    for key in KEYS:
        first = SESSIONS.with_row_index().filter(pl.col("key") == key)["index"][0]
        assert keys.row(key) == first
    assert keys.row("EX1|FrontEnd|receive|B") is None
    assert keys.row("") is None and keys.row("\uffff") is None


def test_session_is_the_row_a_filter_over_every_session_finds() -> None:
    index = _index(SESSIONS)
    for key in KEYS:
        assert index.session(key) == SESSIONS.filter(pl.col("key") == key).row(0, named=True)
    assert index.session("EX9|Hub|send|Z") is None


def test_the_key_index_is_built_once_whichever_thread_asks_first() -> None:
    big = pl.DataFrame({"key": [f"EX1|Hub|send|{i:016X}" for i in range(50_000)]})
    index = _index(big)
    seen: list[KeyIndex] = []
    threads = [threading.Thread(target=lambda: seen.append(index.keys)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 6 and all(keys is index.keys for keys in seen)
    assert index.session(big["key"][31_337]) == {"key": big["key"][31_337]}
