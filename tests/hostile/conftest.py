"""Fixtures of the adversarial suite: a generated corpus with every fault injected.

The corpus is generated once per session (mailhops.sample), copied, damaged by
mailhops.hostile.inject and indexed once; tests that change files work on their own copy.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hostilekit import Corpus, copy_tree, gen_truth_lines

from mailhops import hostile

pytest.importorskip("mailhops.sample")
pytest.importorskip("mailhops.index.build")


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated corpus with its truth/ folder."""
    from mailhops.sample import SampleOptions, generate

    out = tmp_path_factory.mktemp("hostile-gen") / "logs"
    generate(out, size_mb=1.0, seed=11, options=SampleOptions(max_file_bytes=96 * 1024))
    return out


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
