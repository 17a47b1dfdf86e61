"""The derived tables of a built corpus: SESSIONS and MESSAGES one log stream at a time, then
the corpus-level server resolution and LINKS; and reading them back from the cache."""

from __future__ import annotations

import functools
import hashlib
import importlib
import resource
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from mailhops.index import schema
from mailhops.index.cache import FORMAT_VERSION, Cache
from mailhops.index.links_common import own_strings
from mailhops.index.model import scan_log_type
from mailhops.index.servers import SERVER_COLUMNS, server_lines
from mailhops.index.sessions import collect_sessions
from mailhops.index.stages import StageFns, direction_of
from mailhops.index.stages import links as stage_links
from mailhops.index.stages import messages as stage_messages


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (for the phase timings)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return round(peak / 1024, 1)


#: Rows of one stream aggregated into sessions at once: a larger stream is split into
#: buckets of whole sessions (by session id hash), so the working memory of the session
#: aggregation (several times the lines it reads) is bounded whatever the size of the
#: stream.
CHUNK_ROWS: Final = 150_000


def _chunks(stream: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """``stream`` in buckets of whole sessions of about CHUNK_ROWS rows."""
    k = -(-stream.height // CHUNK_ROWS)
    if k <= 1:
        yield stream
        return
    bucket = stream.select((pl.col("session_id").hash() % k).alias("b")).to_series()
    for i in range(k):
        yield stream.filter(bucket == i)


def _first_key(frame: pl.DataFrame) -> str:
    """The first session key of one stream's MESSAGES ("" when it has none)."""
    return str(frame["key"][0]) if frame.height and "key" in frame.columns else ""


#: Directory (inside the corpus cache) of the per-stream tables.
STREAMS_DIR: Final = "streams"
_STREAM_TABLES: Final = ("sessions", "messages", "learn")


def _stream_table(key: str, table: str) -> str:
    """The cache name of one of a stream's tables ("streams/<key>-<table>")."""
    return f"{STREAMS_DIR}/{key}-{table}"


@dataclass
class StreamCache:
    """What the per-stream tables of the previous build vouch for, and this build's.

    A stream's SESSIONS, MESSAGES and server-learning lines depend on its lines only (a
    session never crosses streams), and its parts are content-addressed (a part's name
    carries the CRC-32 of its bytes), so a stream whose (server, service, log type, parts)
    is unchanged reuses the tables derived last time: a grown current-hour file re-derives
    its own stream, not the corpus. Each table's SHA-256 is recorded in the manifest like
    the corpus tables'; a missing or damaged one is derived again."""

    previous: Mapping[str, str]
    code: str = ""  # code_digest() of the functions deriving the tables
    digests: dict[str, str] = field(default_factory=dict)  # this build's, for the manifest
    reused: int = 0
    derived: int = 0

    def key(self, server: str, service: str, log_type: str, parts: list[str]) -> str:
        """The stream's identity: the code that derives it, its place and the content
        addresses (name and size) of its parts."""
        text = "\0".join([str(FORMAT_VERSION), self.code, server, service, log_type, *parts])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def read(self, cache: Cache, key: str) -> dict[str, pl.DataFrame] | None:
        out: dict[str, pl.DataFrame] = {}
        kept: dict[str, str] = {}
        for table, want in zip(_STREAM_TABLES, _stream_schemas(), strict=True):
            name = _stream_table(key, table)
            digest = cache.table_digest(self.previous, name)
            frame = cache.read_table(name, digest, want)
            if frame is None or digest is None:
                return None
            out[table], kept[name] = frame, digest
        self.digests.update(kept)
        return out

    def write(self, cache: Cache, key: str, tables: dict[str, pl.DataFrame]) -> None:
        for table in _STREAM_TABLES:
            name = _stream_table(key, table)
            self.digests[name] = cache.write_table(name, tables[table], sync=False)


#: Modules whose code decides what a stream's tables hold (parsing is covered by the parts).
_DERIVING: Final = ("sessions", "segments", "servers", "derive", "links_common")


@functools.cache
def _sources_digest() -> str:
    h = hashlib.sha256()
    for name in _DERIVING:
        module = importlib.import_module(f"mailhops.index.{name}")
        h.update(Path(str(module.__file__)).read_bytes())
    return h.hexdigest()


def code_digest(fns: StageFns) -> str:
    """Digest of the code deriving a stream's tables: an upgrade that changes it, or other
    stage functions (tests), never reuses tables derived by the old code."""
    stage = fns.build_messages
    name = f"{stage.__module__}.{stage.__qualname__}" if stage is not None else "-"
    return hashlib.sha256(f"{_sources_digest()}\0{name}".encode()).hexdigest()[:16]


def _stream_schemas() -> tuple[dict[str, pl.DataType], ...]:
    return (
        dict(schema.SESSIONS),
        {"key": schema.MESSAGES["key"]},  # MESSAGES carries extra linking columns
        {c: schema.LINES[c] for c in SERVER_COLUMNS},
    )


def _derive_stream(fns: StageFns, stream: pl.DataFrame, spent: list[float]) -> dict[str, Any]:
    """SESSIONS, MESSAGES and the server-learning lines of one stream's lines."""
    learn = own_strings(server_lines(stream.lazy()).collect(engine="in-memory"))
    sessions = []
    for chunk in _chunks(stream):
        t = time.perf_counter()
        sessions.append(own_strings(collect_sessions(chunk.lazy())))
        spent[0] += time.perf_counter() - t
    # Segments keep only the transaction lines before their heavy steps: the whole
    # stream at once is both faster and small enough.
    t = time.perf_counter()
    messages = own_strings(stage_messages(fns, stream.lazy()))
    spent[1] += time.perf_counter() - t
    return {"sessions": pl.concat(sessions), "messages": messages, "learn": learn}


@dataclass(frozen=True)
class _Stream:
    """One (server, service, log type) stream of protocol log parts."""

    server: str
    service: str
    log_type: str
    parts: list[str]
    key: str


#: Streams derived side by side (see :func:`_stream_tables`).
STREAM_WORKERS: Final = 2


def _derive_stream_parts(
    fns: StageFns, cache: Cache, job: _Stream, spent: list[float]
) -> dict[str, Any]:
    """:func:`_derive_stream` of the lines of one stream's parts."""
    # The in-memory engine is both faster and leaner than streaming for this group_by.
    t = time.perf_counter()
    stream = (
        pl.scan_parquet([str(cache.part_path(n)) for n in job.parts])
        .with_columns(
            pl.lit(job.server, pl.String).alias("server"),
            pl.lit(job.service, pl.String).alias("service"),
            pl.lit(direction_of(job.log_type), pl.String).alias("direction"),
        )
        .select(list(schema.LINES))
        .collect(engine="in-memory")
    )
    spent[0] += time.perf_counter() - t
    return _derive_stream(fns, stream, spent)


def _stream_tables(
    fns: StageFns,
    manifest: pl.DataFrame,
    cache: Cache,
    timings: dict[str, float],
    streams: StreamCache,
) -> tuple[list[str], pl.DataFrame]:
    """SESSIONS, MESSAGES and the lines server learning reads, built one (server, service,
    log type) stream at a time (a session never crosses streams; sessions in buckets of
    whole sessions), each stream read once for all three; unchanged streams are read back
    from the previous build (:class:`StreamCache`). Returns the stream keys in MESSAGES
    order and the learning lines; the stream tables hold the rest (:func:`_read_back`)."""
    proto = manifest.filter(
        pl.col("log_type").is_in([schema.SMTP_RECEIVE, schema.SMTP_SEND])
        & (pl.col("parts").list.len() > 0)
    )
    learn = [pl.DataFrame(schema={c: schema.LINES[c] for c in SERVER_COLUMNS})]
    jobs: list[tuple[int, _Stream]] = []  # (bytes, stream)
    for (server, service, log_type), group in proto.group_by(
        ["server", "service", "log_type"], maintain_order=True
    ):
        names = [str(n) for n in group["parts"].explode().drop_nulls()]
        sizes = [str(n) for n in group["part_sizes"].explode().drop_nulls()]
        key = streams.key(str(server), str(service), str(log_type), [*names, *sizes])
        stream = _Stream(str(server), str(service), str(log_type), names, key)
        jobs.append((int(group["size"].sum()), stream))
    # Biggest first (no long tail), STREAM_WORKERS side by side: one stream's Python and
    # single-threaded steps overlap the other's parallel ones.
    jobs.sort(key=lambda job: -job[0])

    def one(job: _Stream) -> tuple[str, str, pl.DataFrame, list[float] | None]:
        """(first MESSAGES key, stream key, learning lines, seconds in sessions and
        messages or None when the previous build's tables were reused)."""
        own: list[float] | None = None
        tables = streams.read(cache, job.key)
        if tables is None:
            own = [0.0, 0.0]
            tables = _derive_stream_parts(fns, cache, job, own)
            streams.write(cache, job.key, tables)
        # Only the small learning lines stay in memory; SESSIONS and MESSAGES are read back
        # from the stream tables once all are written (one copy, not one a stream plus
        # their concatenation).
        return _first_key(tables["messages"]), job.key, tables["learn"], own

    done: list[tuple[str, str]] = []  # (first MESSAGES key, stream key)
    spent = [0.0, 0.0]  # summed over streams derived side by side: more than the wall time
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=STREAM_WORKERS) as pool:
        for first, key, lines, own in pool.map(one, [stream for _, stream in jobs]):
            done.append((first, key))
            learn.append(lines)
            if own is None:
                streams.reused += 1
            else:
                streams.derived += 1
                spent = [spent[0] + own[0], spent[1] + own[1]]
    timings["streams"] = round(time.perf_counter() - started, 3)  # wall time of both
    timings["sessions"] = round(spent[0], 3)
    timings["messages"] = round(spent[1], 3)
    timings["peak_mb_after_sessions"] = peak_mb()
    # Streams have disjoint key prefixes: in the order of their first keys the concatenation
    # of their MESSAGES is in (key, msg) order, which the linker needs.
    return [key for _, key in sorted(done)], pl.concat(learn).unique()


def _scan_back(
    cache: Cache, order: list[str], table: str, want: dict[str, pl.DataType], drop: list[str]
) -> pl.LazyFrame:
    """One table of every stream, concatenated in ``order``, without the ``drop`` columns."""
    frames = [pl.LazyFrame(schema=want).drop(drop, strict=False)]
    for key in order:
        path = cache.dir / f"{_stream_table(key, table)}.parquet"
        frames.append(pl.scan_parquet(path).drop(drop, strict=False))
    return pl.concat(frames, how="diagonal_relaxed")


def _read_back(
    cache: Cache, order: list[str], table: str, want: dict[str, pl.DataType], drop: list[str]
) -> pl.DataFrame:
    """:func:`_scan_back`, read."""
    return _scan_back(cache, order, table, want, drop).collect(engine="in-memory")


def resolve(fns: StageFns, manifest: pl.DataFrame, cache: Cache) -> pl.DataFrame:
    """Corpus-level server resolution from the per-file classifications."""
    manifest = manifest.with_columns(
        pl.col("class_server").alias("server"), pl.col("class_source").alias("server_source")
    )
    if fns.resolve_servers is None:
        return manifest
    lines = scan_log_type(manifest, cache, (schema.SMTP_RECEIVE, schema.SMTP_SEND))
    resolved = fns.resolve_servers(manifest.select(list(schema.FILES)), lines)
    fixed = resolved.select("file_id", "server", "server_source")
    return manifest.drop("server", "server_source").join(fixed, on="file_id", how="left")


def derive(
    fns: StageFns,
    manifest: pl.DataFrame,
    cache: Cache,
    servers_file: str | Path | None,
    timings: dict[str, float],
    streams: StreamCache,
) -> dict[str, pl.DataFrame]:
    """SESSIONS, MESSAGES and LINKS of a manifest whose servers are resolved; the
    per-stream tables are reused or recorded through ``streams``."""
    order, learn = _stream_tables(fns, manifest, cache, timings, streams)
    t = time.perf_counter()
    # Linking reads a few columns of SESSIONS and MESSAGES: it gets only those (MESSAGES as
    # a scan, read into its node table), and the whole tables are read after it, so its
    # working set never sits on top of them.
    slim_sessions = [
        c for c in schema.SESSIONS if c not in ("key", "start", "local_ep", "remote_ep")
    ]
    tables: dict[str, Any] = {
        # Linking reads only what server learning needs of the protocol lines
        # (servers.server_lines): SESSIONS and MESSAGES carry the rest, so the corpus is
        # not scanned a second time.
        "lines": learn.lazy(),
        "connectivity": scan_log_type(manifest, cache, (schema.CONNECTIVITY,)),
        "tracking": scan_log_type(manifest, cache, (schema.TRACKING,)),
        "sessions": _read_back(cache, order, "sessions", schema.SESSIONS, slim_sessions),
        # A scan: linking reads only the columns it uses of it (build_links).
        "messages": _scan_back(cache, order, "messages", schema.MESSAGES, []),
    }
    links = stage_links(fns, tables, servers_file)
    del tables, learn  # nothing after linking reads them
    timings["links"] = round(time.perf_counter() - t, 3)
    timings["peak_mb_after_links"] = peak_mb()
    sessions = _read_back(cache, order, "sessions", schema.SESSIONS, []).sort(["start", "key"])
    messages = _read_back(cache, order, "messages", schema.MESSAGES, [])
    return {"sessions": sessions, "messages": messages, "links": links}


_TABLES = {"sessions": schema.SESSIONS, "messages": schema.MESSAGES, "links": schema.LINKS}


def read_tables(cache: Cache, meta: dict[str, str]) -> dict[str, pl.DataFrame] | None:
    """The derived tables the manifest vouches for, or None when any is missing or damaged."""
    out: dict[str, pl.DataFrame] = {}
    for name, want in _TABLES.items():
        frame = cache.read_table(name, cache.table_digest(meta, name), want)
        if frame is None:
            return None
        out[name] = frame
    return out
