"""Discovery, parsing and classification against the generator's truth (truth/files.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from mailhops.index import schema
from mailhops.index.classify import classify, resolve_servers
from mailhops.index.discover import Source, discover
from mailhops.index.parse import parse
from mailhops.sample import SampleOptions, generate

CASES = {
    "2019-mixed": SampleOptions(
        layouts={"EX19MBX1": "collector", "EX19MBX2": "custom", "EX19MBX3": "default"},
        zip_servers=("EX19MBX3",),
        max_file_bytes=64 * 1024,
    ),
    "2013-zip-collector": SampleOptions(
        version="2013", layouts={"EX19MBX1": "collector"}, zip_servers=("EX19MBX1",)
    ),
    "2010": SampleOptions(version="2010"),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def tree(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(request.param)
    generate(out, size_mb=0.6, seed=3, options=CASES[request.param])
    return out


def relative(source: Source, top: Path) -> str:
    if source.archive:
        return f"{Path(source.archive).relative_to(top)}!{source.member}"
    return str(Path(source.path).relative_to(top))


def test_every_file_matches_truth(tree: Path) -> None:
    truth = {}
    for row in (tree / "truth" / "files.jsonl").read_text().splitlines():
        record = json.loads(row)
        truth[record["path"]] = record
    sources, problems = discover([tree])
    assert problems == []
    assert sorted(relative(s, tree) for s in sources) == sorted(truth)
    for source in sources:
        want = truth[relative(source, tree)]
        parsed = parse(source.read(), source.path)
        c = classify(source, parsed)
        got = (parsed.log_type, c.server, c.service, parsed.frame.height, parsed.bad_lines)
        assert got == (want["log_type"], want["server"], want["service"], want["lines"], 0)
        assert c.server_source != "unknown"
        assert parsed.problems == []


def test_resolve_servers_without_path_hints(tree: Path) -> None:
    """Strip every path hint: receive connectors and local IPs still name the senders."""
    sources, _ = discover([tree])
    rows, frames = [], []
    for file_id, source in enumerate(sources):
        bare = Source(
            source.path, source.size, source.mtime_ns, archive=source.archive, member=source.member
        )
        parsed = parse(bare.read(), bare.path)
        c = classify(bare, parsed)
        rows.append(
            {
                "file_id": file_id,
                "server": c.server,
                "server_source": c.server_source,
                "log_type": parsed.log_type,
                "root": "",
                "path": source.path,
            }
        )
        if parsed.log_type in (schema.SMTP_RECEIVE, schema.SMTP_SEND):
            frames.append(
                parsed.frame.select("local_ep").with_columns(file_id=pl.lit(file_id, pl.UInt32))
            )
    files = pl.DataFrame([{**dict.fromkeys(schema.FILES), **r} for r in rows], schema=schema.FILES)
    out = resolve_servers(files, pl.concat(frames).lazy())
    send = out.filter(pl.col("log_type") == schema.SMTP_SEND)
    assert send.height > 0
    # every send file is attributed, from its own EHLO or a receive log's local IP, never silently
    assert send.filter(pl.col("server") == "").height == 0
    assert set(send["server_source"].to_list()) <= {"banner", "ip"}
    truth = {
        json.loads(r)["path"]: json.loads(r)["server"]
        for r in (tree / "truth/files.jsonl").read_text().splitlines()
    }
    for path, server in send.select("path", "server").iter_rows():
        source = next(s for s in sources if s.path == path)
        assert truth[relative(source, tree)] == server
