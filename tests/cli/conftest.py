"""CLI test fixtures: a generated corpus with its truth, and one shared cache per module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "index"))

from stub_stages import stages

from mailhops.index import stages as stage_mod


@pytest.fixture(autouse=True)
def _stages() -> Iterator[None]:
    """The package's parsing stages, or the test stand-ins while they are missing."""
    stage_mod.set_stage_functions(stages())
    yield
    stage_mod.set_stage_functions(None)


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated corpus (with truth/) shared by the CLI tests."""
    from mailhops.sample import SampleOptions, generate

    out = tmp_path_factory.mktemp("cli") / "logs"
    generate(out, size_mb=1.0, seed=5, options=SampleOptions(max_file_bytes=128 * 1024))
    return out
