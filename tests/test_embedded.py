"""The embedded PostgreSQL (db/embedded.py): started in a data directory, with rujuk's settings."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from rujuk.db.embedded import EMBEDDED_SETTINGS, embedded_url, start_embedded


async def test_the_embedded_server_runs_with_its_settings(tmp_path: Path) -> None:
    server = start_embedded(tmp_path)
    try:
        conn = await asyncpg.connect(embedded_url(server, "postgres"))
        try:
            for name, value in EMBEDDED_SETTINGS.items():
                assert await conn.fetchval("SELECT current_setting($1)", name) == value
        finally:
            await conn.close()
        # Joining the running server (another process of `rujuk serve`) sets them again.
        again = start_embedded(tmp_path)
        assert again.get_uri() == server.get_uri()
    finally:
        server.cleanup()
