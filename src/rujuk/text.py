"""Free text that people type: names, labels, IDs."""

from __future__ import annotations

import re

# Control characters in names and IDs are never meant (and PostgreSQL text cannot hold NUL).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_clean_text(value: str, max_length: int) -> bool:
    """1 to max_length characters once trimmed, without control characters."""
    return 1 <= len(value.strip()) <= max_length and not CONTROL.search(value)
