"""Sessions built from generated logs equal the generator's ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from mailhops.index import schema
from mailhops.index import sessions as sessions_module
from mailhops.index.parse import parse
from mailhops.index.sessions import build_sessions, collect_sessions
from mailhops.sample import SampleOptions, generate


def _lines_from_truth(root: Path) -> pl.LazyFrame:
    """LINES of every protocol file, classified from truth/files.jsonl (not by our code)."""
    frames = []
    for i, line in enumerate((root / "truth" / "files.jsonl").read_text().splitlines()):
        f = json.loads(line)
        if f["log_type"] not in (schema.SMTP_RECEIVE, schema.SMTP_SEND):
            continue
        parsed = parse((root / f["path"]).read_bytes(), f["path"])
        direction = schema.SEND if f["log_type"] == schema.SMTP_SEND else schema.RECEIVE
        frames.append(
            parsed.frame.with_columns(
                pl.lit(i, pl.UInt32).alias("file_id"),
                pl.lit(f["server"]).alias("server"),
                pl.lit(f["service"]).alias("service"),
                pl.lit(direction).alias("direction"),
            ).select(list(schema.LINES))
        )
    return pl.concat(frames).lazy()


@pytest.fixture(scope="module", params=["2019", "2013", "2010"])
def corpus(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    out = tmp_path_factory.mktemp("gen") / "logs"
    # Small files force rollover: sessions span several files.
    options = SampleOptions(version=request.param, max_file_bytes=64 * 1024)
    generate(out, size_mb=1.0, seed=7, options=options)
    return out


def test_sessions_equal_truth(corpus: Path) -> None:
    truth = pl.read_ndjson(corpus / "truth" / "sessions.jsonl")
    built = build_sessions(_lines_from_truth(corpus)).collect()
    keys = ["server", "service", "direction", "session_id"]
    joined = truth.join(built, on=keys, how="full", coalesce=True, suffix="_built")
    assert built.height == truth.height
    assert joined.filter(pl.col("key").is_null() | pl.col("lines").is_null()).height == 0
    assert (joined["lines"] == joined["line_count"].cast(pl.Int64)).all()
    wrong = joined.filter(pl.col("outcome") != pl.col("outcome_built"))
    assert wrong.height == 0, wrong.select([*keys, "outcome", "outcome_built"]).head(10)
    assert (joined["noise"] == joined["noise_built"]).all()
    # Some sessions really span files in this corpus.
    assert (built["file_ids"].list.len() > 1).any()


def test_message_ids_and_connectors_match_truth(corpus: Path) -> None:
    truth = pl.read_ndjson(corpus / "truth" / "sessions.jsonl")
    built = build_sessions(_lines_from_truth(corpus)).collect()
    keys = ["server", "service", "direction", "session_id"]
    joined = truth.join(built, on=keys, suffix="_built")
    assert (joined["connector"] == joined["connector_built"]).all()
    # The truth lists every message a session carried, also where Exchange logs no id (e.g.
    # Mailbox Delivery): every id we extract must be one of them, and most are found.
    extra = joined.filter(
        pl.col("message_ids_built").list.set_difference(pl.col("message_ids")).list.len() > 0
    )
    assert extra.height == 0, extra.select([*keys, "message_ids", "message_ids_built"])
    carried = joined.filter(pl.col("message_ids").list.len() > 0)
    found = carried.filter(pl.col("message_ids_built").list.len() > 0)
    assert found.height >= 0.7 * carried.height


@pytest.mark.parametrize("order", ["files", "files reversed", "shuffled"])
def test_collect_sessions_equals_the_sorted_aggregation(
    corpus: Path, order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build skips the sort when every session's rows already come in its own order
    (file order) and sorts when any does not (a session continued in a file listed before
    the one it began in, rows in any order): the sessions are the same either way."""
    lines = _lines_from_truth(corpus).collect()
    if order == "files reversed":  # each file's lines kept, the files listed last first
        lines = lines.sort("file_id", descending=True, maintain_order=True)
    elif order == "shuffled":
        lines = lines.sample(fraction=1.0, shuffle=True, seed=5)
    calls: list[int] = []
    aggregate = sessions_module._sessions
    monkeypatch.setattr(sessions_module, "_sessions", lambda *a: calls.append(1) or aggregate(*a))
    fast = collect_sessions(lines.lazy())
    aggregations = len(calls)
    assert fast.columns == list(schema.SESSIONS)
    assert fast.equals(build_sessions(lines.lazy()).collect())
    # In file order the first aggregation is kept; otherwise the sorted one replaces it.
    assert aggregations == (1 if order == "files" else 2)
