"""mailhops sets polars' jemalloc options before polars loads, and never overrides the
user's own."""

import os
import subprocess
import sys

import pytest

import mailhops

_ENV = "_RJEM_MALLOC_CONF"
# polars' own __init__ prepends its defaults to the variable (later options win): the
# value is read once mailhops is imported and again once the data layer has loaded polars.
_CODE = (
    "import os, sys, mailhops\n"
    "print(os.environ.get('_RJEM_MALLOC_CONF', '<unset>'), 'polars' in sys.modules)\n"
    "import mailhops.index.build\n"
    "print(os.environ.get('_RJEM_MALLOC_CONF', '<unset>'), 'polars' in sys.modules)\n"
)


def _run(env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _CODE], capture_output=True, text=True, check=True, env=env
    )
    assert "Invalid conf" not in done.stderr, done.stderr  # jemalloc accepted every option
    return done.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="jemalloc options: Linux")
def test_importing_mailhops_sets_the_allocator_options_before_polars_loads() -> None:
    env = {k: v for k, v in os.environ.items() if k != _ENV}
    before, loaded_before, after, loaded_after = _run(env)
    assert (before, loaded_before) == (mailhops.MALLOC_CONF, "False")
    assert loaded_after == "True"
    assert after.endswith("," + mailhops.MALLOC_CONF)  # ours come last: they win


def test_a_users_allocator_options_win() -> None:
    env = {**os.environ, _ENV: "narenas:2"}
    before, _, after, _ = _run(env)
    assert before == "narenas:2"
    assert after.endswith(",narenas:2")
    assert "percpu_arena" not in after
