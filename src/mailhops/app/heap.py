"""Garbage collection out of the way of frames.

Python's cycle collector walks every container object that survived its younger generations
when it runs a full (generation 2) collection: with the index, the app and Textual's render
caches that is 50-200 thousand objects, 20-150 ms in which no key is handled, every few
seconds while keys come in. (Textual's strips keep themselves in their own caches, so every
line drawn is a reference cycle only the collector frees.)

While :class:`Heap` runs, what survives a collection of the middle generation is frozen
(``gc.freeze``): no full collection ever has anything to walk, young collections (a few ms)
still free the strips of each frame. A frozen cycle is not freed when it dies (reference
counting still frees everything else), so :meth:`Heap.sweep` thaws and collects everything:
the screen calls it once no key has come for a while, or when the frozen heap has grown by
``GROWTH`` objects (minutes of keys without a pause).

The growth is counted as objects are frozen, never read off the frozen heap:
``gc.get_freeze_count()`` walks every frozen object (about 20 ms for two million), too slow
for a check made every second while keys come in.
"""

from __future__ import annotations

import gc
from typing import Any

#: Frozen objects added since the last sweep that force one (~100 MB; ~4 min of held keys).
GROWTH = 1_000_000


class Heap:
    """Freeze what survives young collections while ``start``-ed; ``stop`` thaws it all."""

    def __init__(self) -> None:
        self.running = False
        self.added = 0  # objects frozen since start or the last sweep

    def start(self) -> None:
        """Freeze what is alive now and whatever survives a young collection from now on."""
        if not self.running:
            self.running = True
            gc.callbacks.append(self._collected)
        gc.freeze()
        self.added = 0

    def stop(self) -> None:
        """Hand every frozen object back to the collector."""
        if self.running:
            self.running = False
            gc.callbacks.remove(self._collected)
        gc.unfreeze()

    @property
    def grown(self) -> int:
        """Objects frozen since the last sweep (live ones and dead cycles); O(1)."""
        return self.added

    def sweep(self) -> None:
        """A full collection of everything, frozen objects included (100-500 ms)."""
        if self.running:
            gc.callbacks.remove(self._collected)  # it would count the whole heap, thawed
            try:
                gc.unfreeze()
                gc.collect()
                gc.freeze()
            finally:
                gc.callbacks.append(self._collected)
            self.added = 0

    def _collected(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info.get("generation", 0) >= 1:
            # Everything older is frozen, so the oldest generation holds just the survivors
            # of this collection: counting them costs what the collection just spent on them.
            self.added += len(gc.get_objects(generation=2))
            gc.freeze()
