"""Queries on the registered persisted-query documents."""

from __future__ import annotations

from rujuk.db.pool import Connection, Pool


async def find_document(conn: Connection | Pool, sha256: str) -> str | None:
    """The registered document with this hash."""
    document: str | None = await conn.fetchval(
        "SELECT document FROM persisted_query WHERE sha256 = $1", sha256
    )
    return document


async def add_documents(
    conn: Connection | Pool, documents: list[tuple[str, str, str | None]]
) -> int:
    """Register (sha256, document, name) rows; a hash registered before keeps its row.
    Returns how many were new."""
    added: int = await conn.fetchval(
        """WITH added AS (
               INSERT INTO persisted_query (sha256, document, name)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
               ON CONFLICT (sha256) DO NOTHING RETURNING 1)
           SELECT count(*) FROM added""",
        [d[0] for d in documents],
        [d[1] for d in documents],
        [d[2] for d in documents],
    )
    return added
