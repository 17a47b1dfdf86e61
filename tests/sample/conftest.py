"""Small generated corpora shared by the generator tests (module scope keeps them fast)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mailhops.sample import SampleOptions, Truth, generate

Corpus = tuple[Path, Truth]


@pytest.fixture(scope="session")
def make_corpus(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Corpus]:
    """Generate (and cache per arguments) a corpus into a fresh temporary folder."""
    cache: dict[str, Corpus] = {}

    def make(size_mb: float = 0.3, seed: int = 1, **options: object) -> Corpus:
        key = repr((size_mb, seed, sorted(options.items())))
        if key not in cache:
            out = tmp_path_factory.mktemp("corpus")
            opts = SampleOptions(**options)  # type: ignore[arg-type]
            cache[key] = (out, generate(out, size_mb=size_mb, seed=seed, options=opts))
        return cache[key]

    return make


@pytest.fixture(scope="session")
def corpus(make_corpus: Callable[..., Corpus]) -> Corpus:
    """The default corpus (2019, three servers, default options)."""
    return make_corpus()
