"""CLI test fixtures: a generated corpus with its truth, and one shared cache per module."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated corpus (with truth/) shared by the CLI tests."""
    from mailhops.sample import SampleOptions, generate

    out = tmp_path_factory.mktemp("cli") / "logs"
    generate(out, size_mb=1.0, seed=5, options=SampleOptions(max_file_bytes=128 * 1024))
    return out
