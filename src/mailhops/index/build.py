"""Orchestration: discover -> manifest diff -> parse new/grown/changed files -> classify ->
resolve servers -> sessions -> messages -> links -> manifest (written last).

Python handles files here, never lines: each file is parsed by ``parse.parse`` (polars over the
whole file), written to its Parquet part at once and dropped, so memory stays at one file plus
the derived tables. Sessions are aggregated one log stream (server, service, direction) at a
time because a session never crosses streams; that bounds the peak to the largest stream.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from mailhops.index import schema
from mailhops.index.cache import HEAD_BYTES, MANIFEST, Cache, head_hash
from mailhops.index.copies import copies, copy_problems, without_copies
from mailhops.index.derive import (
    STREAMS_DIR,
    StreamCache,
    code_digest,
    derive,
    peak_mb,
    read_tables,
    resolve,
)
from mailhops.index.model import LogIndex
from mailhops.index.problems import Problem, problems_frame
from mailhops.index.stages import StageFns, part_columns, stage_functions

# Files in flight: one more than the cores, so that while one worker holds the GIL (byte
# counts, expression set-up) the others keep polars' thread pool busy (2 cores: 3 workers
# made the files phase ~10-15% faster than 2). Each holds one file: memory stays small.
_WORKERS = min(4, (os.cpu_count() or 2) + 1)


@dataclass(frozen=True, slots=True)
class Progress:
    """Build progress, reported after every file."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    lines_done: int


ProgressFn = Callable[[Progress], None]


@dataclass
class BuildStats:
    """What one open_index did (the numbers behind ``mailhops index --json``)."""

    files: int = 0
    lines: int = 0
    sessions: int = 0
    bad_lines: int = 0
    servers: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    reused_files: int = 0
    parsed_files: int = 0
    grown_files: int = 0
    bytes: int = 0
    log_types: dict[str, int] = field(default_factory=dict)
    cache_dir: str = ""
    rebuilt_tables: bool = False
    reused_streams: int = 0  # log streams whose derived tables the previous build had
    derived_streams: int = 0
    discover_problems: int = 0
    copied_files: int = 0  # files indexed once, from another path (copies.py)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per build phase


class NoLogsError(OSError):
    """Nothing indexable was found under the given paths."""


@dataclass
class _FileState:
    """One manifest row being assembled."""

    row: dict[str, Any]
    parts: list[str]
    part_sizes: list[int]
    problems: list[Problem]
    reused: bool = False
    grown: bool = False


def _plan(source: Any, old: dict[str, Any] | None, cache: Cache) -> str:
    """ "reuse", "grow" or "parse" for one source against its previous manifest row."""
    if old is None or not old["log_type"]:
        # Nothing indexable last time. Read again only when the file changed or could not be
        # read at all (no head_hash: permissions may have been fixed since); an unchanged
        # empty, BOM-only or unknown file is reused, so it never forces a rebuild of the tables.
        stale = old is None or _changed(source, old) or not old["head_hash"]
        return "parse" if stale else "reuse"
    parts_ok = all(
        cache.part_ok(n, s) for n, s in zip(old["parts"], old["part_sizes"], strict=True)
    )
    if not parts_ok:
        return "parse"
    if not _changed(source, old):
        return "reuse"
    if source.size > old["size"] and old["read_bytes"] > 0:
        try:
            head = source.read(0)[: old["head_len"]]
        except OSError:
            return "parse"
        if len(head) == old["head_len"] and head_hash(head) == old["head_hash"]:
            return "grow"
    return "parse"


def _changed(source: Any, old: dict[str, Any]) -> bool:
    return bool(source.size != old["size"] or source.mtime_ns != old["mtime_ns"])


def _new_row(source: Any, file_id: int) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "path": source.path,
        "server": "",
        "server_source": "unknown",
        "service": schema.UNKNOWN,
        "log_type": "",
        "version": "",
        "size": source.size,
        "mtime_ns": source.mtime_ns,
        "read_bytes": 0,
        "read_lines": 0,
        "fields": "",
        "root": source.root,
        "first_ts": None,
        "last_ts": None,
        "lines": 0,
        "bad_lines": 0,
        "head_hash": "",
        "head_len": 0,
        "class_server": "",
        "class_source": "unknown",
    }


def _parse_file(fns: StageFns, cache: Cache, source: Any, state: _FileState, grow: bool) -> int:
    """Parse a whole file or its grown tail into a new part; returns data lines added."""
    row = state.row
    offset = row["read_bytes"] if grow else 0
    try:
        data = source.read(offset)
    except OSError as exc:
        state.problems.append(Problem(source.path, 0, schema.ERROR, f"unreadable: {exc}"))
        return 0
    kwargs: dict[str, Any] = {}
    if grow:
        kwargs = {
            "line_no": row["read_lines"],
            "fields": row["fields"],
            "log_type": row["log_type"],
        }
    parsed = fns.parse(data, source.path, offset=offset, **kwargs)
    state.problems.extend(parsed.problems)
    if grow and row["head_len"] < HEAD_BYTES:
        # A file first read when it was small: its head grows with it, so a copy of it is
        # still recognised (copies.py) and a rewrite still detected.
        with contextlib.suppress(OSError):
            head = source.read(0)[:HEAD_BYTES]
            row.update(head_hash=head_hash(head), head_len=len(head))
    if not grow:
        head = data[:HEAD_BYTES]
        row.update(head_hash=head_hash(head), head_len=len(head), log_type=parsed.log_type)
        row.update(version=parsed.version, fields=parsed.fields)
        if parsed.log_type:
            cls = fns.classify(source, parsed)
            row.update(class_server=cls.server, class_source=cls.server_source)
            row.update(service=cls.service)
    row.update(read_bytes=parsed.consumed_bytes, read_lines=parsed.consumed_lines)
    row["bad_lines"] += parsed.bad_lines
    frame = parsed.frame
    if not parsed.log_type or frame.height == 0:
        return 0
    frame = _part_frame(frame, row["file_id"], row["log_type"])
    name, size = cache.write_part(row["file_id"], offset, frame)
    state.parts.append(name)
    state.part_sizes.append(size)
    row["lines"] += frame.height
    ts = frame.get_column("ts")
    lo, hi = ts.min(), ts.max()
    row["first_ts"] = lo if row["first_ts"] is None or lo is None else min(lo, row["first_ts"])
    row["last_ts"] = hi if row["last_ts"] is None or hi is None else max(hi, row["last_ts"])
    return frame.height


def _part_frame(frame: pl.DataFrame, file_id: int, log_type: str) -> pl.DataFrame:
    """The part as stored: file_id added, columns in schema order, rows in file order.

    Not sorted: every reader orders rows itself (transcripts by seq, sessions by key), and
    a part is small enough to scan whole. The parsed frame already has the part's other
    columns and dtypes, so this is column bookkeeping, not a query (~0.25 ms a file)."""
    cols = part_columns(log_type)
    ids = pl.Series("file_id", [file_id], dtype=pl.UInt32).new_from_index(0, frame.height)
    if dict(frame.schema) == {c: t for c, t in cols.items() if c != "file_id"}:
        return pl.DataFrame([ids, *frame.get_columns()])
    frame = frame.select([pl.col(c).cast(t) for c, t in cols.items() if c != "file_id"])
    return frame.insert_column(0, ids)


def _prepare(
    source: Any,
    old: dict[str, Any] | None,
    old_problems: dict[str, list[Problem]],
    cache: Cache,
    new_id: int,
) -> tuple[_FileState, str]:
    """The state a source starts from (its previous row when reused or grown) and the action."""
    action = _plan(source, old, cache)
    if old is not None and action != "parse":
        row = {k: old[k] for k in old if k not in ("parts", "part_sizes")}
        kept = old_problems.get(source.path, [])
        if action != "reuse":  # the held-back partial line is re-read now
            kept = [p for p in kept if p.severity != schema.INFO]
        state = _FileState(row, list(old["parts"]), list(old["part_sizes"]), kept)
    else:
        file_id = int(old["file_id"]) if old is not None else new_id
        state = _FileState(_new_row(source, file_id), [], [], [])
    state.row.update(size=source.size, mtime_ns=source.mtime_ns, root=source.root)
    state.reused = action == "reuse"
    state.grown = action == "grow"
    return state, action


def _collect_files(
    sources: list[Any],
    old_rows: dict[str, dict[str, Any]],
    old_problems: pl.DataFrame,
    cache: Cache,
    fns: StageFns,
    progress: ProgressFn | None,
) -> tuple[list[_FileState], BuildStats]:
    """Reuse, grow or parse every source; states come back in discovery order.

    Files are parsed on a small thread pool: polars releases the GIL while it reads CSV and
    writes Parquet, so two files overlap even though the Python around them does not."""
    stats = BuildStats()
    next_id = 1 + max((int(r["file_id"]) for r in old_rows.values()), default=0)
    by_path: dict[str, list[Problem]] = {}
    for row in old_problems.iter_rows():
        by_path.setdefault(row[0], []).append(Problem(*row))
    states: list[_FileState] = []
    todo: list[tuple[Any, _FileState]] = []
    for source in sources:
        old = old_rows.get(source.path)
        state, action = _prepare(source, old, by_path, cache, next_id)
        next_id += old is None
        states.append(state)
        if action == "reuse":
            stats.reused_files += 1
        else:
            stats.grown_files += state.grown
            stats.parsed_files += not state.grown
            todo.append((source, state))
    total = sum(s.size for s in sources)
    done = [len(states) - len(todo), sum(s.size for s in sources) - sum(s.size for s, _ in todo)]
    lines = sum(int(s.row["lines"]) for s in states if s.reused)

    def work(item: tuple[Any, _FileState]) -> tuple[Any, _FileState]:
        _parse_file(fns, cache, item[0], item[1], item[1].grown)
        return item

    todo.sort(key=lambda item: -int(item[0].size))  # biggest first: no long tail at the end
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        for source, state in pool.map(work, todo):
            done[0] += 1
            done[1] += source.size
            lines += int(state.row["lines"])
            if progress is not None:
                progress(Progress(done[0], len(sources), done[1], total, lines))
    if progress is not None and not todo:
        progress(Progress(len(sources), len(sources), total, total, lines))
    return states, stats


def manifest_frame(states: list[_FileState]) -> pl.DataFrame:
    """The manifest rows of ``states`` with the MANIFEST schema."""
    rows = [{**s.row, "parts": s.parts, "part_sizes": s.part_sizes} for s in states]
    return (
        pl.DataFrame(rows, schema=MANIFEST, orient="row") if rows else pl.DataFrame(schema=MANIFEST)
    )


def discover_or_fail(fns: StageFns, paths: Sequence[str | Path]) -> tuple[list[Any], list[Problem]]:
    """Discover the sources of ``paths``; NoLogsError when there is nothing to index."""
    sources, problems = fns.discover(paths)
    if not sources:
        where = ", ".join(str(p) for p in paths)
        if problems:
            raise NoLogsError(f"{problems[0].path}: {problems[0].reason}")
        raise NoLogsError(f"no Exchange log files found in {where}")
    return list(sources), list(problems)


def build_files(
    found: tuple[list[Any], list[Problem]], cache: Cache, progress: ProgressFn | None
) -> tuple[pl.DataFrame, list[Problem], BuildStats, bool, dict[str, str]]:
    """Discover and bring every file's parts up to date (caller holds the cache lock).

    Returns the manifest (servers not yet resolved), all problems, stats, whether anything
    changed since the previous manifest, and the previous manifest's metadata."""
    fns = stage_functions()
    sources, problems = found
    previous = cache.read_manifest()
    old_rows: dict[str, dict[str, Any]] = {}
    meta: dict[str, str] = {}
    old_problems = pl.DataFrame(schema=schema.PROBLEMS)
    if previous is not None:
        old_rows = {r["path"]: r for r in previous[0].iter_rows(named=True)}
        meta = previous[1]
        kept = cache.read_table("problems", cache.table_digest(meta, "problems"), schema.PROBLEMS)
        if kept is not None:
            old_problems = kept
        else:  # the reused files' problems would be lost: parse everything again
            old_rows = {}
    states, stats = _collect_files(sources, old_rows, old_problems, cache, fns, progress)
    stats.discover_problems = len(problems)
    manifest = manifest_frame(states)
    for state in states:
        problems.extend(state.problems)
    changed = stats.reused_files != len(states) or len(old_rows) != len(states)
    return manifest, problems, stats, changed, meta


# The --servers file is an input of the links: its digest is kept beside the tables' ones.
_SERVERS_KEY = "servers_file"


def servers_digest(path: str | Path | None) -> str:
    """Digest of the ``--servers`` file's bytes ("none" without one, "unreadable")."""
    if path is None:
        return "none"
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def open_index(
    paths: Sequence[str | Path],
    *,
    cache_dir: str | Path | None = None,
    progress: ProgressFn | None = None,
    servers_file: str | Path | None = None,
) -> LogIndex:
    """Build or refresh the index of ``paths`` in the cache and return its read-only handle.

    Raises NoLogsError when nothing indexable is found and CacheError when the cache
    directory cannot be used; every problem inside the logs is reported, never raised."""
    started = time.perf_counter()
    fns = stage_functions()
    found = discover_or_fail(fns, paths)  # fail before creating a cache directory
    cache = Cache(cache_dir, paths)
    with cache.lock():
        t = time.perf_counter()
        manifest, problems, stats, changed, meta = build_files(found, cache, progress)
        copied = copies(manifest)  # from the files alone: the same before and after resolve
        stats.timings["discover"] = round(t - started, 3)
        stats.timings["files"] = round(time.perf_counter() - t, 3)
        stats.timings["peak_mb_after_files"] = peak_mb()
        inputs = servers_digest(servers_file)
        stale = changed or cache.table_digest(meta, _SERVERS_KEY) != inputs
        tables = None if stale else read_tables(cache, meta)
        if tables is None:
            stats.rebuilt_tables = True
            t = time.perf_counter()
            manifest = resolve(fns, manifest, cache)
            stats.timings["servers"] = round(time.perf_counter() - t, 3)
            streams = StreamCache(meta, code=code_digest(fns))
            indexed = without_copies(manifest, copied)
            tables = derive(fns, indexed, cache, servers_file, stats.timings, streams)
            stats.reused_streams, stats.derived_streams = streams.reused, streams.derived
            t = time.perf_counter()
            file_problems = problems_frame(problems[stats.discover_problems :])
            digests = {name: cache.write_table(name, df) for name, df in tables.items()}
            digests["problems"] = cache.write_table("problems", file_problems)
            digests[_SERVERS_KEY] = inputs
            digests.update(streams.digests)
            cache.write_manifest(manifest, digests)
            cache.gc({n for parts in manifest["parts"] for n in parts})
            cache.prune(STREAMS_DIR, set(streams.digests))
            stats.timings["persist"] = round(time.perf_counter() - t, 3)
    # Copies are found again at every open (from the manifest alone): their warnings are not
    # kept with the files' own problems, and a copy's own problems are its original's.
    if copied.height:
        skip = set(copied.get_column("path").to_list())
        problems = [p for p in problems if p.path not in skip] + copy_problems(copied)
    stats = finish(stats, manifest, without_copies(manifest, copied), tables["sessions"], started)
    stats.cache_dir = str(cache.dir)
    return LogIndex(
        cache=cache,
        manifest=manifest,
        sessions=tables["sessions"],
        messages=tables["messages"],
        links=tables["links"],
        problems=problems_frame(problems),
        stats=stats,
    )


def finish(
    stats: BuildStats,
    manifest: pl.DataFrame,
    indexed: pl.DataFrame,
    sessions: pl.DataFrame,
    started: float,
) -> BuildStats:
    """Fill the corpus-level numbers of ``stats``: files of ``manifest`` (every file found),
    lines of ``indexed`` (its rows without the copies, which are not counted)."""
    stats.files = manifest.height
    stats.copied_files = manifest.height - indexed.height
    stats.lines = int(indexed["lines"].sum())
    stats.bad_lines = int(indexed["bad_lines"].sum())
    stats.bytes = int(manifest["size"].sum())
    stats.sessions = sessions.height
    stats.servers = sorted(s for s in manifest["server"].unique().to_list() if s)
    counts = manifest.group_by("log_type").len().iter_rows()
    stats.log_types = {(k or "unknown"): int(v) for k, v in counts}
    stats.elapsed_s = round(time.perf_counter() - started, 3)
    return stats
