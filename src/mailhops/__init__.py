"""mailhops: follow a message hop by hop through Exchange transport logs."""

import os
import sys

__version__ = "0.1.0"

#: jemalloc options for polars (Linux wheels). polars' own __init__ appends
#: ``_RJEM_MALLOC_CONF`` to its defaults before it loads (pola-rs/polars#21829): these are
#: set before any mailhops module imports polars, and a value the user set is left alone.
#: Per-CPU arenas let a thread reuse what another freed (the default arena per thread
#: group kept each one's freed pages: ~100 MB of the build's peak), and freed pages go
#: back to the system after the dirty decay instead of staying in RSS a second longer as
#: "muzzy" (MADV_FREE) pages.
MALLOC_CONF = "percpu_arena:percpu,muzzy_decay_ms:0"
if sys.platform.startswith("linux"):
    os.environ.setdefault("_RJEM_MALLOC_CONF", MALLOC_CONF)
