"""The one app factory, used by the CLI, the tests, the screenshot script and the benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from mailhops.app.app import MailhopsApp, Opener, bundled_sample_logs


def create_app(
    paths: Sequence[str | Path],
    cache_dir: str | Path | None = None,
    index: Any = None,
    *,
    opener: Opener | None = None,
    debounce: float = 0.12,
) -> MailhopsApp:
    """Return the app for ``paths`` (no paths: the bundled ``sample_logs/``).

    With ``index`` the app opens on it at once (tests, benchmarks); otherwise the index is
    opened in a worker with ``opener`` (default :func:`mailhops.index.build.open_index`).
    ``debounce`` is how long the cursor must rest on a session before its transcript and chain
    load (0 loads at once: deterministic tests).
    """
    chosen = [str(p) for p in paths]
    if not chosen:
        sample = bundled_sample_logs()
        chosen = [str(sample)] if sample else []
    return MailhopsApp(
        chosen,
        cache_dir=None if cache_dir is None else str(cache_dir),
        index=index,
        opener=opener,
        debounce=debounce,
    )


def run_app(
    paths: Sequence[str | Path],
    cache_dir: str | Path | None = None,
    *,
    servers_file: str | Path | None = None,
) -> int:
    """Run the app in this terminal; return the process exit code.

    ``servers_file`` is the ``--servers`` file handed to the index (see ``mailhops trace``).
    """
    opener: Opener | None = None
    if servers_file is not None:
        from mailhops.index.build import open_index

        opener = partial(open_index, servers_file=servers_file)
    app = create_app(paths, cache_dir, opener=opener)
    app.run()
    return int(app.return_code or 0)
