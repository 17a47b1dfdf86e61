"""mailhops sets polars' jemalloc options before polars loads, never overrides the user's
own, and never makes jemalloc complain."""

import os
import subprocess
import sys

import pytest

_ENV = "_RJEM_MALLOC_CONF"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux wheels")


def _run(env: dict[str, str], first: str = "") -> tuple[list[str], str]:
    """What a fresh process sees: the variable and whether polars is loaded, once after
    ``import mailhops`` and once after the data layer loaded polars; and its stderr.

    polars' own __init__ prepends its defaults to the variable (later options win)."""
    code = (
        f"{first}\n"
        "import os, sys, mailhops\n"
        "print(os.environ.get('_RJEM_MALLOC_CONF', '<unset>'), 'polars' in sys.modules)\n"
        "print(mailhops.malloc_conf())\n"
        "import mailhops.index.build, polars\n"
        "polars.DataFrame({'a': list(range(1000))}).sort('a')\n"
        "print(os.environ.get('_RJEM_MALLOC_CONF', '<unset>'), 'polars' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.split(), done.stderr


def _env_without_conf() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != _ENV}


@linux_only
def test_importing_mailhops_sets_the_allocator_options_before_polars_loads() -> None:
    (before, loaded_before, conf, after, loaded_after), err = _run(_env_without_conf())
    assert (before, loaded_before) == (conf, "False")
    assert "muzzy_decay_ms:0" in conf
    assert loaded_after == "True"
    assert after.endswith("," + conf)  # ours come last: they win
    assert err == ""  # jemalloc took every option without a word


@linux_only
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity")
def test_a_process_pinned_to_some_cpus_gets_no_jemalloc_warning() -> None:
    pin = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})"
    (before, _, conf, _, _), err = _run(_env_without_conf(), first=pin)
    assert before == conf
    if (os.cpu_count() or 1) > 1:
        assert "percpu_arena" not in conf  # jemalloc would turn it off and say so
    assert err == ""


def test_a_users_allocator_options_win() -> None:
    (before, _, _, after, _), _ = _run({**os.environ, _ENV: "narenas:2"})
    assert before == "narenas:2"
    assert after.endswith(",narenas:2")
    assert "percpu_arena" not in after
