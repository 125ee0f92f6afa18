"""Finding the database: DATABASE_URL, or the embedded server; migrating it."""

from __future__ import annotations

import asyncio
from typing import Any

from rujuk.config import Settings
from rujuk.db import server as server_queries
from rujuk.db.embedded import embedded_url, leave_running, running, start_embedded
from rujuk.db.migrator import migrate
from rujuk.db.pool import connect

EMBEDDED_DATABASE = "rujuk"


class Database:
    """The database rujuk uses, with the embedded server kept alive while this object lives."""

    def __init__(self, url: str, server: Any = None, *, started: bool = False) -> None:
        self.url = url
        self.server = server
        # Whether this process started the embedded server (rather than joined a running one).
        self.started = started

    @classmethod
    def open(cls, settings: Settings) -> Database:
        """DATABASE_URL when set; otherwise start the embedded server and create its database."""
        if settings.database_url is not None:
            return cls(settings.database_url)
        started = not running(settings.data_dir)
        server = start_embedded(settings.data_dir)
        asyncio.run(ensure_database(embedded_url(server, "postgres"), EMBEDDED_DATABASE))
        return cls(embedded_url(server, EMBEDDED_DATABASE), server, started=started)

    def failed(self) -> None:
        """This process failed before serving: leave running an embedded server it joined."""
        if self.server is not None and not self.started:
            leave_running(self.server)

    def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""
        return asyncio.run(_migrate(self.url))


async def ensure_database(maintenance_url: str, name: str) -> None:
    """Create a database on the server if it does not exist yet."""
    conn = await connect(maintenance_url)
    try:
        if not await server_queries.database_exists(conn, name):
            await server_queries.create_database(conn, name)
    finally:
        await conn.close()


def database_url_for(server_url: str, name: str) -> str:
    """The URL of another database on the same server."""
    base, _, query = server_url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


async def migrated_database(server_url: str, name: str) -> str:
    """Create the database on the server if needed and migrate it; its URL."""
    await ensure_database(server_url, name)
    url = database_url_for(server_url, name)
    await _migrate(url)
    return url


async def drop_database(server_url: str, url: str) -> None:
    """Drop the database of url (its name is the URL's last path segment)."""
    name = url.partition("?")[0].rsplit("/", 1)[1]
    conn = await connect(server_url)
    try:
        await server_queries.drop_database(conn, name)
    finally:
        await conn.close()


async def _migrate(url: str) -> list[int]:
    conn = await connect(url)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
