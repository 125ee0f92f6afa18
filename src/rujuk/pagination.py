"""Cursor pages over ordered lists: by an item's position in a list that only grows, or by a
keyset (a creation time and an id) for lists read newest first straight from an index."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from rujuk.errors import RequestError

T = TypeVar("T")
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of an ordered list, with the cursor of each item."""

    items: list[tuple[str, T]]
    has_next_page: bool
    total_count: int

    @property
    def end_cursor(self) -> str | None:
        """The cursor of the last item, to pass as `after` for the next page."""
        return self.items[-1][0] if self.items else None


def check_page_size(first: int, limit: int = MAX_PAGE_SIZE) -> None:
    """`first` must lie in [0, limit]."""
    if not 0 <= first <= limit:
        raise RequestError(f"first must be between 0 and {limit}, not {first}", "INVALID_INPUT")


def encode_cursor(key: int) -> str:
    """The opaque cursor of an item's key."""
    return base64.urlsafe_b64encode(f"c:{key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The key behind a cursor; a malformed one is INVALID_INPUT."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, key = text.partition(":")
        if prefix == "c" and key.isdigit() and len(key) <= 18:
            return int(key)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise RequestError("after is not a cursor this field returned", "INVALID_INPUT")


def paginate(items: Sequence[T], key: Callable[[T], int], first: int, after: str | None) -> Page[T]:
    """The `first` items after the one whose cursor is `after` (from the start when None)."""
    check_page_size(first)
    start = 0
    if after is not None:
        wanted = decode_cursor(after)
        position = next((i for i, item in enumerate(items) if key(item) == wanted), None)
        if position is None:
            raise RequestError("after is not a cursor of this list", "INVALID_INPUT")
        start = position + 1
    chosen = items[start : start + first]
    return Page(
        items=[(encode_cursor(key(item)), item) for item in chosen],
        has_next_page=start + first < len(items),
        total_count=len(items),
    )


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    """One page of a list too long to count for every page: its count is read only when asked."""

    items: list[tuple[str, T]]
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        """The cursor of the last item, to pass as `after` for the next page."""
        return self.items[-1][0] if self.items else None


# A keyset is (created_at, id), newest first; the cursor holds the time in exact microseconds.
Keyset = tuple[datetime, int]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_KEY = re.compile(r"[0-9]{1,18}")
_MICROS = re.compile(r"-?[0-9]{1,18}")


def encode_keyset_cursor(created_at: datetime, key: int) -> str:
    """The opaque cursor of an item listed by (created_at, id)."""
    micros = (created_at - _EPOCH) // _MICROSECOND
    return base64.urlsafe_b64encode(f"k:{micros}:{key}".encode()).decode().rstrip("=")


def decode_keyset_cursor(cursor: str) -> Keyset:
    """The (created_at, id) behind a keyset cursor; a malformed one is INVALID_INPUT."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, micros, key = text.split(":")
        if prefix == "k" and _KEY.fullmatch(key) and _MICROS.fullmatch(micros):
            return _EPOCH + int(micros) * _MICROSECOND, int(key)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        pass
    raise RequestError("after is not a cursor this field returned", "INVALID_INPUT")
