"""CallerCache: a token's caller is remembered briefly, never past the token's expiry."""

from __future__ import annotations

import time

from rujuk.access import Principal, Role
from rujuk.caller_cache import CallerCache

PARTNER = Principal(Role.PARTNER, program_id=1, token_id=7)


def test_a_caller_is_remembered_for_the_ttl_only() -> None:
    cache = CallerCache(ttl=0.05)
    cache.put(b"k", PARTNER)
    assert cache.get(b"k") == PARTNER
    time.sleep(0.06)
    assert cache.get(b"k") is None


def test_never_past_the_tokens_own_expiry() -> None:
    cache = CallerCache(ttl=60)
    cache.put(b"expired", PARTNER, expires_at=time.time() - 1)
    assert cache.get(b"expired") is None
    cache.put(b"soon", PARTNER, expires_at=time.time() + 0.05)
    assert cache.get(b"soon") == PARTNER
    time.sleep(0.06)
    assert cache.get(b"soon") is None


def test_the_oldest_entry_leaves_when_full_and_clear_forgets_all() -> None:
    cache = CallerCache(ttl=60, max_size=2)
    for key in (b"a", b"b", b"c"):
        cache.put(key, PARTNER)
    assert [cache.get(k) for k in (b"a", b"b", b"c")] == [None, PARTNER, PARTNER]
    cache.clear()
    assert cache.get(b"c") is None
