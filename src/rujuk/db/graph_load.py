"""The bulk read that builds the in-memory graphs at start.

Two plain scans instead of one join with the purchase totals: joined and sorted, the single
query took 9 s at 1M customers; the customer scan merge-joins links along both primary keys
and the totals are one hash aggregate. Rows stay asyncpg Records (decoded in C); the store
turns each into a Member without an intermediate object.
"""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from rujuk.db.pool import Connection

# Columns in Member's field order (id, external_id, joined_micros, referrer, link_status,
# erased), so that Member(*row) builds one; program_id comes last and is read by index.
# joined_at in exact microseconds (extract gives numeric): see Member.joined_micros.
MEMBERS = """SELECT c.id, c.external_id, (extract(epoch FROM c.joined_at) * 1000000)::bigint,
                    r.referrer_id, r.status,
                    c.erased_at IS NOT NULL, c.program_id
             FROM customer c LEFT JOIN referral r ON r.referee_id = c.id
             ORDER BY c.id"""
PROGRAM_COLUMN = 6

SPEND = """SELECT customer_id, sum(amount - refunded_amount), count(*)
           FROM purchase GROUP BY customer_id"""


# Held while a worker loads: with --workers N the loads run one after another, so the first
# worker serves after one load instead of after N loads sharing the cores.
LOAD_LOCK = 7_235_817_002


async def lock_load(conn: Connection) -> None:
    """Wait for the other workers' loads to finish, then hold the load lock (session-wide)."""
    await conn.execute("SELECT pg_advisory_lock($1)", LOAD_LOCK)


async def unlock_load(conn: Connection) -> None:
    """Let the next worker load."""
    await conn.execute("SELECT pg_advisory_unlock($1)", LOAD_LOCK)


async def members(conn: Connection) -> list[asyncpg.Record]:
    """Every customer of every program with its link, referrers before their referees.

    Each row is (id, external_id, joined_micros, referrer_id, link_status, erased,
    program_id).
    """
    return await conn.fetch(MEMBERS)


async def spend(conn: Connection) -> dict[int, tuple[Decimal, int]]:
    """Net spend and purchase count of every customer who has bought (others spent 0)."""
    rows = await conn.fetch(SPEND)
    return {r[0]: (r[1], r[2]) for r in rows}
