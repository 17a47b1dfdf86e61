"""Log files given twice: the same file through two paths, a copy, a zip and its extraction,
an older copy taken while Exchange was still writing the file.

Each is indexed once. Two files are the same log when their first bytes are: the manifest's
``head_hash`` covers the first HEAD_BYTES of every file (its ``head_len``), which holds the
headers and then dozens of data lines with timestamps and session ids, so two different logs
never share it. Only heads that still say something about the whole file are compared: a
full HEAD_BYTES, or a head that is the whole file (a file first read when it held little more
than its headers, and grown since, is never taken for a copy of another that shares them).
Of a group, the biggest file is indexed (an older copy is a prefix of it), the first path on
a tie; the others are reported and left out of every table.
"""

from __future__ import annotations

import polars as pl

from mailhops.index import schema
from mailhops.index.cache import HEAD_BYTES
from mailhops.index.problems import Problem

_SAME = ["log_type", "head_hash", "head_len"]


def copies(manifest: pl.DataFrame) -> pl.DataFrame:
    """``file_id``, ``path`` and ``original`` (the path indexed instead) of every copy."""
    candidates = manifest.filter(
        (pl.col("log_type") != "")
        & (pl.col("head_len") > 0)
        & ((pl.col("head_len") == HEAD_BYTES) | (pl.col("head_len") == pl.col("size")))
    )
    first = pl.col("path").sort_by(["size", "path"], descending=[True, False]).first()
    return (
        candidates.with_columns(first.over(_SAME).alias("original"))
        .filter(pl.col("path") != pl.col("original"))
        .select("file_id", "path", "original")
        .sort("path")
    )


def without_copies(manifest: pl.DataFrame, found: pl.DataFrame | None = None) -> pl.DataFrame:
    """The manifest rows of the files that are indexed (every file but the copies);
    ``found`` is :func:`copies` of ``manifest`` when the caller already has it."""
    dropped = (copies(manifest) if found is None else found).get_column("file_id")
    return manifest.filter(~pl.col("file_id").is_in(dropped.implode()))


def copy_problems(found: pl.DataFrame) -> list[Problem]:
    """One warning a copy of ``found`` (:func:`copies`; line 0: the whole file)."""
    return [
        Problem(path, 0, schema.WARNING, f"same log as {original}: indexed once, from that file")
        for _, path, original in found.iter_rows()
    ]
