"""A short memory of who is behind a token, so that a request needs no lookup for it.

Revocation and erasure through this process clear it at once; done through another worker,
they reach this one within CALLER_TTL seconds.
"""

from __future__ import annotations

import time

from rujuk.access import Principal

CALLER_TTL = 5.0
MAX_CALLERS = 10_000


class CallerCache:
    """Principals by token hash, each for CALLER_TTL seconds, at most MAX_CALLERS of them."""

    def __init__(self, ttl: float = CALLER_TTL, max_size: int = MAX_CALLERS) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._entries: dict[bytes, tuple[float, Principal]] = {}

    def get(self, token_hash: bytes) -> Principal | None:
        """The caller behind the token, if it was resolved less than ttl seconds ago."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[token_hash]
            return None
        return entry[1]

    def put(self, token_hash: bytes, principal: Principal, expires_at: float | None = None) -> None:
        """Remember a caller the database (or a signature) just vouched for, never past the
        token's own expiry (a Unix time).
        """
        ttl = self.ttl if expires_at is None else min(self.ttl, expires_at - time.time())
        if ttl <= 0:
            return
        if len(self._entries) >= self.max_size:
            # Dicts keep insertion order: drop the oldest entry.
            del self._entries[next(iter(self._entries))]
        self._entries[token_hash] = (time.monotonic() + ttl, principal)

    def clear(self) -> None:
        """Forget every caller (a token was revoked, or a customer erased)."""
        self._entries.clear()
