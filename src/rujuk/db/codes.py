"""Queries on referral codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from rujuk.db.pool import Connection
from rujuk.records import ReferralCode

_COLUMNS = "code, program_id, customer_id, kind, max_uses, uses, expires_at, created_at"


def _code(row: Any) -> ReferralCode:
    return ReferralCode(**dict(row))


async def insert_code(
    conn: Connection,
    *,
    code: str,
    program_id: int,
    customer_id: int,
    kind: str,
    max_uses: int | None,
    expires_at: datetime | None,
) -> ReferralCode | None:
    """Store a code; None when the code is taken (in any program)."""
    try:
        async with conn.transaction():
            row = await conn.fetchrow(
                f"""INSERT INTO referral_code (code, program_id, customer_id, kind, max_uses,
                                               expires_at)
                    VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}""",
                code,
                program_id,
                customer_id,
                kind,
                max_uses,
                expires_at,
            )
    except asyncpg.UniqueViolationError:
        return None
    return _code(row)


async def find_codes(
    conn: Connection, candidates: list[str], *, lock: bool = False
) -> list[ReferralCode]:
    """The stored codes among the candidates, in the candidates' order."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM referral_code WHERE code = ANY($1)"
        + (" FOR UPDATE" if lock else ""),
        candidates,
    )
    by_code = {r["code"]: _code(r) for r in rows}
    return [by_code[c] for c in candidates if c in by_code]


async def codes_of(conn: Connection, customer_ids: list[int]) -> list[ReferralCode]:
    """Every code of these customers, oldest first."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM referral_code WHERE customer_id = ANY($1)
            ORDER BY created_at, code""",
        customer_ids,
    )
    return [_code(r) for r in rows]


async def count_code_uses(conn: Connection, code: str) -> None:
    """Count one more sign-up with this code."""
    await conn.execute("UPDATE referral_code SET uses = uses + 1 WHERE code = $1", code)
