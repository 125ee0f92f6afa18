"""Queries on referral links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rujuk.db.pool import Connection, Pool
from rujuk.records import Referral

_COLUMNS = (
    "id, program_id, referee_id, referrer_id, code, channel, status, fraud_signals, created_at"
)


def _referral(row: Any) -> Referral:
    values = dict(row)
    values["fraud_signals"] = tuple(values["fraud_signals"])
    return Referral(**values)


async def insert_referral(
    conn: Connection,
    *,
    program_id: int,
    referee_id: int,
    referrer_id: int,
    code: str,
    channel: str,
    status: str,
    fraud_signals: list[str],
    created_at: datetime,
) -> Referral:
    """Store the link from a new referee to its referrer."""
    row = await conn.fetchrow(
        f"""INSERT INTO referral (program_id, referee_id, referrer_id, code, channel, status,
                                  fraud_signals, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_COLUMNS}""",
        program_id,
        referee_id,
        referrer_id,
        code,
        channel,
        status,
        fraud_signals,
        created_at,
    )
    return _referral(row)


async def get_referral(conn: Connection, referral_id: int) -> Referral | None:
    """One link by id."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM referral WHERE id = $1", referral_id)
    return None if row is None else _referral(row)


async def referrals_of_referees(conn: Connection, referee_ids: list[int]) -> list[Referral]:
    """The links of these referees (those that have one)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM referral WHERE referee_id = ANY($1)", referee_ids
    )
    return [_referral(r) for r in rows]


async def recent_code_uses(conn: Connection, code: str, since: datetime, until: datetime) -> int:
    """How many sign-ups used this code in [since, until]."""
    count = await conn.fetchval(
        "SELECT count(*) FROM referral WHERE code = $1 AND created_at BETWEEN $2 AND $3",
        code,
        since,
        until,
    )
    return int(count)


async def set_status(conn: Connection, referral_id: int, status: str, note: str | None) -> Referral:
    """Record a review's decision on a link."""
    row = await conn.fetchrow(
        f"""UPDATE referral SET status = $2, review_note = $3, reviewed_at = now()
            WHERE id = $1 RETURNING {_COLUMNS}""",
        referral_id,
        status,
        note,
    )
    return _referral(row)


async def program_referrals(
    conn: Connection | Pool,
    program_id: int,
    status: str | None,
    limit: int,
    before: tuple[datetime, int] | None,
) -> list[Referral]:
    """The program's links, newest first (created_at, then id), after a keyset cursor.

    The SQL is written out per filter (no `$n IS NULL OR ...`), so that each form keeps a
    plan that walks referral_program_created or referral_program_status backwards.
    """
    where, args = _program_filter(program_id, status)
    if before is not None:
        where += f" AND (created_at, id) < (${len(args) + 1}, ${len(args) + 2})"
        args += [before[0], before[1]]
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM referral WHERE {where}
            ORDER BY created_at DESC, id DESC LIMIT ${len(args) + 1}""",
        *args,
        limit,
    )
    return [_referral(r) for r in rows]


async def count_program_referrals(
    conn: Connection | Pool, program_id: int, status: str | None
) -> int:
    """How many links the program has (of this status)."""
    where, args = _program_filter(program_id, status)
    return int(await conn.fetchval(f"SELECT count(*) FROM referral WHERE {where}", *args))


def _program_filter(program_id: int, status: str | None) -> tuple[str, list[object]]:
    if status is None:
        return "program_id = $1", [program_id]
    return "program_id = $1 AND status = $2", [program_id, status]
