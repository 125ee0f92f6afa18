"""Opaque global IDs: base64url of "Type:number"; clients must not parse them."""

from __future__ import annotations

import base64
import binascii

MAX_ID_LENGTH = 100


def to_global_id(type_name: str, local_id: int) -> str:
    """The opaque ID of one object of a type."""
    raw = f"{type_name}:{local_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def from_global_id(global_id: str) -> tuple[str, int] | None:
    """The (type, number) behind an ID, or None when it is not one of ours."""
    if not global_id or len(global_id) > MAX_ID_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, number = raw.partition(":")
    if not type_name or not number.isdigit() or len(number) > 18:
        return None
    return type_name, int(number)


def local_id(global_id: str, type_name: str) -> int | None:
    """The number of an ID of the given type, or None for any other ID."""
    parsed = from_global_id(global_id)
    if parsed is None or parsed[0] != type_name:
        return None
    return parsed[1]
