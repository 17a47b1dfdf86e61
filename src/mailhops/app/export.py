"""Export the filtered sessions to CSV, JSON or Parquet (never into the log folders)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from mailhops.records import record_frame, write_csv

FORMATS = {".csv": "csv", ".json": "json", ".parquet": "parquet"}


class ExportError(ValueError):
    """The export cannot be written (the message says why, with the path)."""


def check_target(path: Path, log_roots: Sequence[Path]) -> Path:
    """Return the resolved ``path`` after checking format and location.

    Raises ExportError for an unknown suffix, a directory, or a path inside one of the log
    folders the user opened (mailhops never writes there).
    """
    target = path.expanduser().resolve()
    if target.suffix.lower() not in FORMATS:
        raise ExportError(f"{path}: use a .csv, .json or .parquet file name")
    if target.is_dir():
        raise ExportError(f"{path} is a folder; give a file name")
    for root in log_roots:
        base = root.expanduser().resolve()
        folder = base if base.is_dir() else base.parent
        if target == base or target.is_relative_to(folder):
            raise ExportError(f"{path} is inside the log folder {folder}; choose another place")
    if not target.parent.is_dir():
        raise ExportError(f"{target.parent} does not exist")
    return target


def export_frame(frame: pl.DataFrame, path: Path, log_roots: Sequence[Path]) -> Path:
    """Write ``frame`` to ``path`` (format from the suffix); return the path written.

    CSV and JSON are the records of ``mailhops sessions`` (keys, ISO times with Z, log text
    cleaned: a CSV opened in a terminal must not run escapes); Parquet keeps every column
    with the raw values, like the index. Written to a temporary file then renamed,
    so a failed export never leaves half a file.
    """
    target = check_target(path, log_roots)
    kind = FORMATS[target.suffix.lower()]
    fd, tmp = tempfile.mkstemp(prefix=".mailhops-export-", dir=target.parent)
    os.close(fd)
    try:
        _write(frame, Path(tmp), kind)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


def _write(frame: pl.DataFrame, tmp: Path, kind: str) -> None:
    if kind == "parquet":
        frame.write_parquet(tmp)
        return
    # CSV and JSON hold what `mailhops sessions --csv/--json` prints, so one script reads
    # both (and a spreadsheet never runs a cell as a formula).
    if kind == "json":
        record_frame(frame).write_json(tmp)
        return
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        write_csv(frame, out)
