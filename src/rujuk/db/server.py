"""The PostgreSQL server itself: whether it answers, and the databases it holds."""

from __future__ import annotations

from rujuk.db.pool import Connection, Pool


async def ping(target: Pool | Connection, *, within: float | None = None) -> None:
    """Return once the server has answered a trivial statement: through the pool (its own
    bounds), or on a connection of its own within that many seconds."""
    if isinstance(target, Pool):
        await target.fetchval("SELECT 1")
    else:
        await target.fetchval("SELECT 1", timeout=within)


async def database_exists(conn: Connection, name: str) -> bool:
    """Whether the server holds a database of that name."""
    return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))


async def create_database(conn: Connection, name: str) -> None:
    """Create a database (names are rujuk's own or the tests': never a caller's text)."""
    await conn.execute(f'CREATE DATABASE "{name}"')


async def drop_database(conn: Connection, name: str) -> None:
    """Drop a database if it exists, ending the sessions still connected to it."""
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
