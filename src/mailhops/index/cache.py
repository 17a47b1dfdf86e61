"""The Parquet cache: a manifest of source files, per-file parts and the derived tables.

Layout (docs/architecture.md)::

    <cache>/<corpus-hash>/manifest.parquet   FILES + bookkeeping columns, written LAST
    <cache>/<corpus-hash>/parts/*.parquet    one part per parse of a file region
    <cache>/<corpus-hash>/{sessions,messages,links,problems}.parquet

Every file is written to a temporary name in its own directory and moved into place with
``os.replace``, so a reader sees either the old file or the new one, never a partial one.
Part names are never reused (a random token is part of the name), so a reader holding an older
manifest keeps valid parts until garbage collection, which spares recent files. Builders
serialise on an ``fcntl`` lock file. The manifest's Parquet metadata carries the format
version and a digest of every derived table, and every part's name carries the CRC-32 of its
bytes; any mismatch, read error or truncated part makes the caller re-parse or rebuild rather
than trust the cache. The cache never lives inside the
log folders: its root is the user's cache directory or ``--cache DIR``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import secrets
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import polars as pl
import polars.exceptions as plx

from mailhops.index import schema

#: Bump whenever the layout or any persisted schema changes: older caches are rebuilt.
FORMAT_VERSION = 2
_META_FORMAT = "mailhops_format"
_META_TABLE = "mailhops_table_"
_ROW_GROUP = 16384  # rows (derived tables): small enough for statistics to skip most of one
_GC_GRACE_S = 600.0  # unreferenced parts younger than this may still be read by a reader

#: Bookkeeping columns of the manifest, beyond schema.FILES.
MANIFEST_EXTRA: dict[str, pl.DataType] = {
    "head_hash": pl.String(),  # sha256 of the first head_len bytes: detects a rewritten file
    "head_len": pl.Int64(),
    "parts": pl.List(pl.String()),  # part file names, in file order
    "part_sizes": pl.List(pl.Int64()),
    "class_server": pl.String(),  # classify() result before corpus-level server resolution
    "class_source": pl.String(),
}
MANIFEST: dict[str, pl.DataType] = {**schema.FILES, **MANIFEST_EXTRA}

HEAD_BYTES = 4096
_READ_ERRORS = (OSError, plx.ComputeError, plx.PolarsError, ValueError)


def default_cache_root() -> Path:
    """The user's cache directory for mailhops (platformdirs), or ~/.cache/mailhops."""
    try:
        import platformdirs
    except ImportError:  # platformdirs is a declared dependency; stay usable without it
        return Path.home() / ".cache" / "mailhops"
    return Path(platformdirs.user_cache_dir("mailhops"))


def corpus_hash(paths: Sequence[str | Path]) -> str:
    """Hash of the sorted resolved input paths: one cache directory per corpus."""
    resolved = sorted({str(Path(p).expanduser().resolve()) for p in paths})
    return hashlib.sha256("\n".join(resolved).encode()).hexdigest()[:20]


def head_hash(data: bytes) -> str:
    """Digest of a file's first bytes (at most HEAD_BYTES)."""
    return hashlib.sha256(data[:HEAD_BYTES]).hexdigest()


class CacheError(OSError):
    """The cache directory cannot be used (e.g. not writable)."""


class Cache:
    """One corpus directory inside the cache root."""

    def __init__(self, root: str | Path | None, paths: Sequence[str | Path]) -> None:
        base = Path(root).expanduser() if root is not None else default_cache_root()
        self.dir = base / corpus_hash(paths)
        self.parts_dir = self.dir / "parts"
        try:
            self.parts_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot use cache directory {base}: {exc.strerror}") from exc

    # --- locking and atomic writes ---------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the corpus's exclusive build lock (blocks while another process builds)."""
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write_atomic(
        self,
        path: Path,
        frame: pl.DataFrame,
        meta: Mapping[str, str],
        *,
        sync: bool = True,
        name_of: Callable[[bytes], str] | None = None,
        statistics: bool = True,
        row_group_size: int | None = _ROW_GROUP,
    ) -> tuple[Path, int]:
        """Write ``frame`` to a temporary file and rename it to ``path`` (or, with
        ``name_of``, to the name it derives from the written bytes); returns (path, size)."""
        tmp = path.with_name(f".tmp-{os.getpid()}-{secrets.token_hex(4)}-{path.name}")
        try:
            # lz4: about 40% less CPU than zstd to write and faster to read back, for
            # files about a third bigger; the cache is rebuilt data, not an archive.
            frame.write_parquet(
                tmp,
                compression="lz4",
                metadata=dict(meta),
                statistics=statistics,
                row_group_size=row_group_size,
            )
            size = -1
            if name_of is not None:
                data = tmp.read_bytes()
                path, size = path.with_name(name_of(data)), len(data)
            if sync:
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return path, size if size >= 0 else path.stat().st_size

    # --- parts -----------------------------------------------------------------------------

    def write_part(self, file_id: int, offset: int, frame: pl.DataFrame) -> tuple[str, int]:
        """Write one parsed file region; returns (part name, byte size).

        The name carries the CRC-32 of the part's bytes, so part_ok() detects any damage,
        and equal names mean equal bytes (a rename over a part a reader holds is harmless).
        Parts are not fsynced (hundreds of them): one lost to a crash fails part_ok() and
        its file is simply parsed again. Parts carry no statistics and polars' default row
        groups: readers scan whole parts (a transcript reads the few parts of its files, a
        couple of ms each), and min/max of every string column cost a third of the write."""

        def name_of(data: bytes) -> str:
            return f"{file_id}-{offset}-{zlib.crc32(data):08x}.parquet"

        meta = {_META_FORMAT: str(FORMAT_VERSION)}
        path, size = self._write_atomic(
            self.parts_dir / f"{file_id}-{offset}.parquet",
            frame,
            meta,
            sync=False,
            name_of=name_of,
            statistics=False,
            row_group_size=None,
        )
        return path.name, size

    def part_path(self, name: str) -> Path:
        """Absolute path of a part."""
        return self.parts_dir / name

    def part_ok(self, name: str, size: int) -> bool:
        """The part exists with its size and the CRC-32 its name records."""
        want = name.rsplit(".", 1)[0].rsplit("-", 1)[-1]
        try:
            data = (self.parts_dir / name).read_bytes()
        except OSError:
            return False
        return len(data) == size and f"{zlib.crc32(data):08x}" == want

    def gc(self, referenced: set[str]) -> None:
        """Delete parts no manifest refers to (older ones only: a reader may still hold them)."""
        now = time.time()
        for entry in os.scandir(self.parts_dir):
            stale = entry.name not in referenced or entry.name.startswith(".tmp-")
            if stale and now - entry.stat().st_mtime > _GC_GRACE_S:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)

    # --- manifest and derived tables -------------------------------------------------------

    def read_manifest(self) -> tuple[pl.DataFrame, dict[str, str]] | None:
        """The manifest and its metadata; None when missing, unreadable or of another format."""
        path = self.dir / "manifest.parquet"
        try:
            meta = pl.read_parquet_metadata(path)
            if meta.get(_META_FORMAT) != str(FORMAT_VERSION):
                return None
            frame = pl.read_parquet(path)
        except _READ_ERRORS:
            return None
        if dict(frame.schema) != MANIFEST:
            return None
        return frame, meta

    def write_manifest(self, frame: pl.DataFrame, digests: Mapping[str, str]) -> None:
        """Write the manifest last: it commits the parts and tables it names."""
        meta = {_META_FORMAT: str(FORMAT_VERSION)}
        meta.update({_META_TABLE + name: digest for name, digest in digests.items()})
        self._write_atomic(self.dir / "manifest.parquet", frame.select(list(MANIFEST)), meta)

    def write_table(self, name: str, frame: pl.DataFrame, *, sync: bool = True) -> str:
        """Write a derived table; returns its digest (stored in the manifest).

        ``name`` may name a subdirectory ("streams/<key>-sessions"); without ``sync`` a
        table lost to a crash fails its digest and is derived again."""
        path = self.dir / f"{name}.parquet"
        path.parent.mkdir(exist_ok=True)
        path, _ = self._write_atomic(path, frame, {_META_FORMAT: str(FORMAT_VERSION)}, sync=sync)
        return hashlib.sha256(path.read_bytes()).hexdigest()

    def prune(self, subdir: str, keep: set[str]) -> None:
        """Delete the tables of ``subdir`` whose names ("<subdir>/<stem>") are not in
        ``keep`` (only builders, under the lock, read them: no grace period)."""
        try:
            entries = list(os.scandir(self.dir / subdir))
        except FileNotFoundError:
            return
        for entry in entries:
            if f"{subdir}/{entry.name.removesuffix('.parquet')}" not in keep:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)

    def read_table(
        self, name: str, digest: str | None, want: Mapping[str, pl.DataType]
    ) -> pl.DataFrame | None:
        """A derived table if its bytes match ``digest`` and its schema ``want``, else None."""
        if digest is None:
            return None
        try:
            raw = (self.dir / f"{name}.parquet").read_bytes()
            if hashlib.sha256(raw).hexdigest() != digest:
                return None
            frame = pl.read_parquet(io.BytesIO(raw))
        except _READ_ERRORS:
            return None
        missing = any(frame.schema.get(col) != dtype for col, dtype in want.items())
        return None if missing else frame

    @staticmethod
    def table_digest(meta: Mapping[str, str], name: str) -> str | None:
        """The digest the manifest recorded for table ``name``."""
        return meta.get(_META_TABLE + name)
