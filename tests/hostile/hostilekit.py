"""Helpers of the adversarial suite: unsafe-character checks, tree hashes, corpus records."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mailhops import hostile

# C0 except tab and line feed, DEL, C1 and ESC; bidi embeddings/overrides/isolates.
_BAD_CODES = {*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)}
_BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def unsafe_chars(text: str) -> list[str]:
    """Control characters, C1 controls and bidi overrides found in ``text`` (as hex)."""
    return sorted({hex(ord(c)) for c in text if ord(c) in _BAD_CODES or ord(c) in _BIDI})


def json_strings(value: object) -> list[str]:
    """Every string inside a decoded JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in json_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in json_strings(v)]
    return []


def tree_hash(root: Path) -> dict[str, tuple[str, int, int]]:
    """path -> (sha256, size, mtime_ns) of every file under ``root`` (and the dirs' mtimes)."""
    out: dict[str, tuple[str, int, int]] = {}
    for dirpath, _dirs, files in os.walk(root):
        st = os.stat(dirpath)
        out[dirpath + "/"] = ("dir", 0, st.st_mtime_ns)
        for name in files:
            p = Path(dirpath, name)
            st = p.stat()
            out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns)
    return out


def listing(root: Path) -> set[str]:
    """Every path under ``root`` (files and folders)."""
    return {str(p) for p in root.rglob("*")}


@dataclass
class Corpus:
    """An injected corpus, its truth, the generator's truth and a built cache."""

    tree: Path
    truth: hostile.FaultTruth
    gen_lines: dict[str, int]  # generator truth: data lines per file, before injection
    cache: Path


def copy_tree(src: Path, dst: Path) -> Path:
    """Copy a generated tree (logs only: the truth folder stays out of the corpus)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("truth"))
    return dst


def gen_truth_lines(generated: Path) -> dict[str, int]:
    """The generator's own count of data lines, per relative path."""
    rows = (generated / "truth" / "files.jsonl").read_text().splitlines()
    return {r["path"]: int(r["lines"]) for r in map(json.loads, rows)}
