"""LogIndex: the read-only handle on one built index (what the CLI and the app query).

Small tables (files, sessions, messages, links, problems) are held in memory; log lines stay
in the Parquet parts and are scanned lazily. ``transcript`` reads only the parts of the
files a session touched (``file_ids`` of its SESSIONS row) and filters them on the session
key; parts are written in file order, unsorted and without statistics (cheaper to write),
so the reader sorts the few matching rows by (seq, file_id, line_no).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import polars as pl

from mailhops.index import schema
from mailhops.index.cache import Cache
from mailhops.index.copies import without_copies
from mailhops.index.stages import direction_of, table_of

if TYPE_CHECKING:
    from mailhops.index.build import BuildStats

_PROTOCOL = (schema.SMTP_RECEIVE, schema.SMTP_SEND)
_PROBLEM_CAP = 100
_SEVERITY_RANK = {schema.ERROR: 0, schema.WARNING: 1, schema.INFO: 2}


def scan_log_type(manifest: pl.DataFrame, cache: Cache, log_types: tuple[str, ...]) -> pl.LazyFrame:
    """Lines of every file of ``log_types``, file-level columns joined from ``manifest``."""
    want = table_of(log_types[0])
    files = manifest.filter(
        pl.col("log_type").is_in(list(log_types)) & (pl.col("parts").list.len() > 0)
    )
    paths = [str(cache.part_path(n)) for n in files["parts"].explode().drop_nulls()]
    if not paths:
        return pl.LazyFrame(schema=want)
    meta = files.select(
        "file_id",
        "server",
        "service",
        pl.when(pl.col("log_type") == schema.SMTP_SEND)
        .then(pl.lit(schema.SEND))
        .otherwise(pl.lit(schema.RECEIVE))
        .alias("direction"),
    )
    if "direction" not in want:
        meta = meta.drop("direction")
    scan = pl.scan_parquet(paths).join(meta.lazy(), on="file_id", how="left")
    return scan.select([pl.col(c).cast(t) for c, t in want.items()])


class KeyIndex:
    """Session key -> row number of a SESSIONS frame, by binary search over the sorted keys.

    Built once (a stable sort of the key column, ~0.5 s at 1M sessions, in polars without the
    GIL); a lookup is then ~0.1 ms where a filter over a million keys is ~5-10 ms. Equal keys
    (a session id reused after a restart) answer the first row, as a filter would.
    """

    def __init__(self, keys: pl.Series) -> None:
        frame = pl.LazyFrame({"key": keys})
        self.order = frame.select(pl.arg_sort_by("key", maintain_order=True)).collect().to_series()
        self.sorted = keys.gather(self.order)

    def row(self, key: str) -> int | None:
        """Return the row number of ``key``, or None when no session has it."""
        pos = int(self.sorted.search_sorted(key, side="left"))
        if pos < self.sorted.len() and self.sorted[pos] == key:
            return int(self.order[pos])
        return None


class LogIndex:
    """The read-only handle returned by ``open_index``."""

    def __init__(
        self,
        *,
        cache: Cache,
        manifest: pl.DataFrame,
        sessions: pl.DataFrame,
        messages: pl.DataFrame,
        links: pl.DataFrame,
        problems: pl.DataFrame,
        stats: BuildStats,
    ) -> None:
        self._cache = cache
        self._manifest = without_copies(manifest)  # what the tables were built from
        self.files: pl.DataFrame = manifest.select(list(schema.FILES))
        self.sessions = sessions
        self.messages = messages
        self.links = links
        self.problems = problems
        self.stats = stats
        self._keys: KeyIndex | None = None
        self._keys_lock = threading.Lock()

    @property
    def cache_dir(self) -> str:
        """The corpus directory inside the cache."""
        return str(self._cache.dir)

    def lines(self) -> pl.LazyFrame:
        """LINES of every SMTP protocol log (server/service/direction from the files)."""
        return scan_log_type(self._manifest, self._cache, _PROTOCOL)

    def connectivity(self) -> pl.LazyFrame:
        """CONNECTIVITY_LINES of every connectivity log."""
        return scan_log_type(self._manifest, self._cache, (schema.CONNECTIVITY,))

    def tracking(self) -> pl.LazyFrame:
        """TRACKING_LINES of every message tracking log."""
        return scan_log_type(self._manifest, self._cache, (schema.TRACKING,))

    def tracking_events(self, message_id: str) -> pl.DataFrame:
        """The message tracking events of ``message_id`` (with or without <>), oldest first:
        TRACKING_EVENT columns. Reads the message-id column of every tracking part (no
        statistics): a query on demand, not for every selection."""
        return (
            self.tracking()
            .filter(pl.col("message_id") == schema.message_id(message_id))
            .sort(["ts", "file_id", "line_no"])
            .select(list(schema.TRACKING_EVENT))
            .collect()
        )

    def tracking_message_ids(self, internal_id: str) -> list[str]:
        """The Message-IDs message tracking logged with InternalId ``internal_id``."""
        return (
            self.tracking()
            .filter(pl.col("internal_message_id") == internal_id.strip())
            .select(pl.col("message_id").drop_nulls().unique().sort())
            .collect()
            .get_column("message_id")
            .to_list()
        )

    @property
    def keys(self) -> KeyIndex:
        """Session key -> SESSIONS row, built on first use (by whichever thread asks first)."""
        with self._keys_lock:
            if self._keys is None:
                self._keys = KeyIndex(self.sessions.get_column("key"))
            return self._keys

    def session(self, key: str) -> dict[str, Any] | None:
        """The SESSIONS row of ``key`` as a dict, or None."""
        row = self.keys.row(key)
        return None if row is None else self.sessions.row(row, named=True)

    def transcript(self, key: str) -> pl.DataFrame:
        """One session's LINES in (seq, file_id, line_no) order; empty if unknown."""
        row = self.session(key)
        if row is None:
            return pl.DataFrame(schema=schema.LINES)
        files = self._manifest.filter(pl.col("file_id").is_in(row["file_ids"]))
        lines = scan_log_type(files, self._cache, _PROTOCOL)
        wanted = lines.filter(
            (pl.col("session_id") == row["session_id"])
            & (pl.col("server") == row["server"])
            & (pl.col("service") == row["service"])
            & (pl.col("direction") == row["direction"])
        )
        return wanted.sort(["seq", "file_id", "line_no"]).collect()

    def find_sessions(self, session_id: str, server: str | None = None) -> pl.DataFrame:
        """Sessions whose id is ``session_id`` (any case), optionally on one server."""
        found = self.sessions.filter(pl.col("session_id") == session_id.strip().upper())
        if server:
            found = found.filter(pl.col("server") == server.strip().upper())
        return found

    def stream_of(self, file_id: int) -> tuple[str, str, str]:
        """(server, service, direction) of one file."""
        row = self._manifest.filter(pl.col("file_id") == file_id).row(0, named=True)
        return row["server"], row["service"], direction_of(row["log_type"])

    def summary(self, problem_cap: int = _PROBLEM_CAP) -> dict[str, object]:
        """The ``mailhops index --json`` object."""
        s = self.stats
        rank = pl.col("severity").replace_strict(_SEVERITY_RANK, default=3, return_dtype=pl.Int8)
        problems = self.problems.sort([rank, pl.col("path"), pl.col("line")])
        shown = [
            {"file": p, "line": int(n), "reason": r, "severity": sev}
            for p, n, sev, r in problems.head(problem_cap).iter_rows()
        ]
        by_severity = dict(problems.group_by("severity").len().iter_rows())
        return {
            "files": s.files,
            "copied_files": s.copied_files,
            "lines": s.lines,
            "sessions": s.sessions,
            "bad_lines": s.bad_lines,
            "servers": s.servers,
            "elapsed_s": s.elapsed_s,
            "problems": shown,
            "problems_total": problems.height,
            "problems_by_severity": {k: int(v) for k, v in by_severity.items()},
            "reused_files": s.reused_files,
            "parsed_files": s.parsed_files,
            "grown_files": s.grown_files,
            "reused_streams": s.reused_streams,
            "derived_streams": s.derived_streams,
            "bytes": s.bytes,
            "log_types": s.log_types,
            "messages": self.messages.height,
            "links": self.links.height,
            "cache_dir": self.cache_dir,
            "timings": s.timings,
        }

    def chain(self, ident: str) -> Any:
        """The hop chain of a session key, session id or message id (chain.py)."""
        from mailhops.index.chain import chain

        return chain(self, ident)
