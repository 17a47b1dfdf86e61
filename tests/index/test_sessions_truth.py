"""Sessions built from generated logs equal the generator's ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from mailhops.index import schema
from mailhops.index.parse import parse
from mailhops.index.sessions import build_sessions
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
