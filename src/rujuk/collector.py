"""The garbage collector's settings for a serving worker.

A request allocates a few thousand objects and frees nearly all of them by reference
counting when it is answered. With CPython's default first threshold (700 allocations), a
collection ran every few requests and walked the state of the 30-odd requests in flight,
promoting it to older generations whose collections walked it again: in bench/README.md's
profile, collections took about a fifth of the server's CPU under the purchase load. With a
larger first threshold most of that state is freed before any collection sees it. The
graphs loaded at start are frozen out of the collector's sight by GraphStore.load.
"""

from __future__ import annotations

import gc

# Allocations (less deallocations) between two young collections; CPython's default is 700.
YOUNG_THRESHOLD = 20_000


def configure_for_serving() -> None:
    """Collect the young generation every YOUNG_THRESHOLD allocations; the older two keep
    CPython's ratios."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
