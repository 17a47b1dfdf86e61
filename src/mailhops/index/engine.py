"""The polars engine the linker collects with.

polars 2.1's streaming engine panicked (``binview ... i < self.len()`` in a string
expression) while linking a 1 GB corpus; the in-memory engine does not, and the linker's
frames (transaction rows, segments, links) fit in memory by design.
"""

from typing import Final, Literal

ENGINE: Final[Literal["in-memory"]] = "in-memory"
