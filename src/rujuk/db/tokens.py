"""Queries on API tokens and the customer-token signing key."""

from __future__ import annotations

import secrets
from typing import Any

from rujuk.db.pool import Connection, Pool
from rujuk.records import ApiToken

_COLUMNS = "id, role, program_id, label, created_at, revoked_at"


def _token(row: Any) -> ApiToken:
    return ApiToken(**dict(row))


async def insert_api_token(
    conn: Connection | Pool, *, token_hash: bytes, role: str, program_id: int | None, label: str
) -> ApiToken:
    """Store a token's hash (the token itself is never stored)."""
    row = await conn.fetchrow(
        f"""INSERT INTO api_token (token_hash, role, program_id, label) VALUES ($1, $2, $3, $4)
            RETURNING {_COLUMNS}""",
        token_hash,
        role,
        program_id,
        label,
    )
    return _token(row)


async def find_api_token(conn: Connection | Pool, token_hash: bytes) -> ApiToken | None:
    """The live (not revoked) token with this hash."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM api_token WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash,
    )
    return None if row is None else _token(row)


async def get_api_token(conn: Connection | Pool, token_id: int) -> ApiToken | None:
    """A token by id, revoked or not."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM api_token WHERE id = $1", token_id)
    return None if row is None else _token(row)


async def list_api_tokens(conn: Connection | Pool, program_id: int | None) -> list[ApiToken]:
    """Every token, or (with program_id) that program's tokens; oldest first."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM api_token
            WHERE $1::bigint IS NULL OR program_id = $1 ORDER BY id""",
        program_id,
    )
    return [_token(r) for r in rows]


async def revoke_api_token(conn: Connection | Pool, token_id: int) -> ApiToken | None:
    """Mark a token revoked (once: a second revocation keeps the first time)."""
    row = await conn.fetchrow(
        f"""UPDATE api_token SET revoked_at = coalesce(revoked_at, now())
            WHERE id = $1 RETURNING {_COLUMNS}""",
        token_id,
    )
    return None if row is None else _token(row)


async def signing_key(conn: Connection | Pool) -> bytes:
    """The key that signs customer tokens, made on first use and shared by every worker."""
    await conn.execute(
        "INSERT INTO signing_key (key) VALUES ($1) ON CONFLICT (id) DO NOTHING",
        secrets.token_bytes(32),
    )
    key: bytes = await conn.fetchval("SELECT key FROM signing_key")
    return key
