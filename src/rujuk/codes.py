"""Referral code text: generation, vanity rules and the normalization of typed codes."""

from __future__ import annotations

import re
import secrets

CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DEFAULT_CODE_LENGTH = 8
VANITY_PATTERN = re.compile(r"\A[A-Z0-9]{4,20}\Z")

# Crockford's reading of look-alike letters in a typed code.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = re.compile(r"[\s\-]+")


def new_default_code() -> str:
    """A random 8-character Crockford base32 code."""
    return "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(DEFAULT_CODE_LENGTH))


def normalize_typed_code(typed: str) -> list[str]:
    """The stored codes a typed code may mean, most literal first.

    Case, spaces and hyphens are ignored. A default code never holds O, I or L, so
    those read as 0 and 1; a vanity code may hold them, so the literal form is tried first.
    """
    stripped = _IGNORED.sub("", typed)
    # Upper-casing non-ASCII text can yield ASCII ("ß" -> "SS"): such input is no code at all.
    literal = stripped.upper()
    if not stripped.isascii() or not VANITY_PATTERN.match(literal):
        return []
    crockford = literal.translate(_LOOKALIKES)
    return [literal] if crockford == literal else [literal, crockford]


def normalize_vanity(requested: str) -> str | None:
    """The stored form of a requested vanity code, or None when it is malformed."""
    stripped = requested.strip()
    code = stripped.upper()
    return code if stripped.isascii() and VANITY_PATTERN.match(code) else None
