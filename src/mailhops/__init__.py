"""mailhops: follow a message hop by hop through Exchange transport logs."""

import os
import sys

__version__ = "0.1.0"


def malloc_conf() -> str:
    """jemalloc options for polars (Linux wheels).

    Per-CPU arenas let a thread reuse what another freed (with the default arena per thread
    group, each kept its own freed pages: ~100 MB of a 1 GB build's peak), and freed pages
    go back to the system after the dirty decay instead of staying in RSS a second longer
    as "muzzy" (MADV_FREE) pages. jemalloc turns per-CPU arenas off, with a warning on
    stderr, when the CPUs this process may use are not all the machine's (taskset, cgroup
    cpusets, CPUs offline): they are asked for only when they are."""
    try:
        usable = len(os.sched_getaffinity(0))
        fixed = usable == os.sysconf("SC_NPROCESSORS_CONF") == os.sysconf("SC_NPROCESSORS_ONLN")
    except (AttributeError, OSError, ValueError):
        fixed = False
    return "percpu_arena:percpu,muzzy_decay_ms:0" if fixed else "muzzy_decay_ms:0"


# polars' own __init__ appends ``_RJEM_MALLOC_CONF`` to its defaults before it loads
# (pola-rs/polars#21829): set here, before any mailhops module imports polars. A value
# the user set is left alone.
if sys.platform.startswith("linux"):
    os.environ.setdefault("_RJEM_MALLOC_CONF", malloc_conf())
