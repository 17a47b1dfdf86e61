"""Fixtures of the adversarial suite: a generated corpus with every fault injected.

The corpus is generated once per session (mailhops.sample), copied, damaged by
mailhops.hostile.inject and indexed once; tests that change files work on their own copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailhops import hostile

pytest.importorskip("mailhops.sample")
pytest.importorskip("mailhops.index.build")

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


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated corpus with its truth/ folder."""
    from mailhops.sample import SampleOptions, generate

    out = tmp_path_factory.mktemp("hostile-gen") / "logs"
    generate(out, size_mb=1.0, seed=11, options=SampleOptions(max_file_bytes=96 * 1024))
    return out


def gen_truth_lines(generated: Path) -> dict[str, int]:
    """The generator's own count of data lines, per relative path."""
    rows = (generated / "truth" / "files.jsonl").read_text().splitlines()
    return {r["path"]: int(r["lines"]) for r in map(json.loads, rows)}


@pytest.fixture
def fresh_tree(generated: Path, tmp_path: Path) -> Path:
    """A private, undamaged copy of the generated corpus."""
    return copy_tree(generated, tmp_path / "logs")


@pytest.fixture(scope="session")
def corpus(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The shared injected corpus (read-only for tests) and its cache directory."""
    base = tmp_path_factory.mktemp("hostile")
    tree = copy_tree(generated, base / "logs")
    truth = hostile.inject(tree, seed=7)
    return Corpus(tree, truth, gen_truth_lines(generated), base / "cache")


@pytest.fixture(scope="session")
def built(corpus: Corpus):  # type: ignore[no-untyped-def]
    """The index of the shared injected corpus."""
    from mailhops.index.build import open_index

    return open_index([corpus.tree], cache_dir=corpus.cache)
