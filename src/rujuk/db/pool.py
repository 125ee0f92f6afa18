"""The asyncpg connection pool and the codecs every connection uses."""

from __future__ import annotations

import json
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from rujuk.config import ConfigError

# asyncpg's classes are generic only in its type stubs, hence the quoted aliases.
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
# A connection of its own or one borrowed from the pool: the queries take either.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

SERVER_SETTINGS = {
    "application_name": "rujuk",
    "timezone": "UTC",
    # A runaway statement must not hold a worker forever.
    "statement_timeout": "30s",
    "idle_in_transaction_session_timeout": "60s",
}


async def init_connection(conn: Any) -> None:
    """Decode jsonb to Python values on every new connection."""
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(_conn: Any) -> None:
    return None


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> Pool:
    """Open a pool, or raise ConfigError with a one-line reason when the database is unusable."""
    try:
        pool: Pool = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            init=init_connection,
            server_settings=SERVER_SETTINGS,
            # No reset round trip on every release (asyncpg's default unlocks advisory locks
            # and RESETs): rujuk never SETs anything on a session nor holds a session lock.
            reset=_keep_session,
            timeout=10,
        )
    except (OSError, asyncpg.PostgresError, ValueError, TimeoutError) as exc:
        raise ConfigError(f"cannot connect to the database: {exc}") from None
    return pool


async def connect(url: str) -> asyncpg.Connection[asyncpg.Record]:
    """One connection outside the pool (migrations, listeners, tests)."""
    try:
        conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
            url, server_settings=SERVER_SETTINGS, timeout=10
        )
    except (OSError, asyncpg.PostgresError, ValueError, TimeoutError) as exc:
        raise ConfigError(f"cannot connect to the database: {exc}") from None
    await init_connection(conn)
    return conn
