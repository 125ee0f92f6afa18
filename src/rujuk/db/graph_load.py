"""The bulk read that builds the in-memory graphs at start.

Customers come in blocks of consecutive ids, each block one row of arrays: asyncpg decodes
an array in C without a Record per customer (a million Records cost ~0.3 GB and most of
the client's time). The blocks alternate between two connections on one snapshot, so that
PostgreSQL aggregates the next block on the other core while this one decodes. Each block
merge-joins links along both primary keys; the purchase totals are one hash aggregate.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from rujuk.db.pool import Connection
from rujuk.vocabulary import ReferralStatus

# Link statuses travel as small codes (a million status strings would each be a new
# object): code i + 1 is LINK_STATUSES[i], 0 is no link.
LINK_STATUSES = tuple(s.value for s in ReferralStatus)
_STATUS_CODE = " ".join(f"WHEN '{s}' THEN {i + 1}" for i, s in enumerate(LINK_STATUSES))
_STATUS_OF_CODE = (None, *LINK_STATUSES)

MEMBER_BLOCK = f"""
    SELECT array_agg(c.id ORDER BY c.id),
           array_agg(c.external_id ORDER BY c.id),
           array_agg(c.joined_micros ORDER BY c.id),
           array_agg(r.referrer_id ORDER BY c.id),
           array_agg(CASE r.status {_STATUS_CODE} ELSE 0 END::smallint ORDER BY c.id),
           array_agg(c.erased_at IS NOT NULL ORDER BY c.id),
           array_agg(c.program_id ORDER BY c.id)
    FROM customer c
    LEFT JOIN referral r ON r.referee_id = c.id AND r.referee_id >= $1 AND r.referee_id < $2
    WHERE c.id >= $1 AND c.id < $2"""

SPEND = """SELECT program_id, customer_id, sum(amount - refunded_amount), count(*),
                  count(*) FILTER (WHERE eligible)
           FROM purchase GROUP BY program_id, customer_id"""
HELD = """SELECT program_id, beneficiary_id, array_agg(milestone)
          FROM reward WHERE kind = 'MILESTONE_BONUS' AND status <> 'REVERSED'
          GROUP BY program_id, beneficiary_id"""

# Ids per block: about eight blocks at a million customers, enough to keep both cores busy.
BLOCK_IDS = 1 << 17

# Held while a worker loads: with --workers N the loads run one after another, so the first
# worker serves after one load instead of after N loads sharing the cores.
LOAD_LOCK = 7_235_817_002

_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")


@dataclass(frozen=True, slots=True)
class MemberBlock:
    """Customers with consecutive ids, as parallel lists in id order."""

    ids: list[int]
    external_ids: list[str]
    joined_micros: list[int]
    referrers: list[int | None]
    link_statuses: list[str | None]
    erased: list[bool]
    program_ids: list[int]


async def lock_load(conn: Connection) -> None:
    """Wait for the other workers' loads to finish, then hold the load lock (session-wide)."""
    await conn.execute("SELECT pg_advisory_lock($1)", LOAD_LOCK)


async def unlock_load(conn: Connection) -> None:
    """Let the next worker load."""
    await conn.execute("SELECT pg_advisory_unlock($1)", LOAD_LOCK)


async def export_snapshot(conn: Connection) -> str:
    """The snapshot of conn's open repeatable-read transaction, for share_snapshot."""
    snapshot: str = await conn.fetchval("SELECT pg_export_snapshot()")
    return snapshot


async def share_snapshot(conn: Connection, snapshot: str) -> None:
    """Make conn's just-opened repeatable-read transaction see exactly `snapshot`."""
    if _SNAPSHOT_ID.fullmatch(snapshot) is None:
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    # SET takes no parameters; the id was checked above.
    await conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")


async def members(conns: Sequence[Connection]) -> list[MemberBlock]:
    """Every customer of every program with its link, in id order, read in blocks that take
    turns over `conns` (open transactions on one snapshot)."""
    bounds = await conns[0].fetchrow("SELECT min(id), max(id) FROM customer")
    assert bounds is not None
    first, last = bounds
    if first is None:
        return []
    starts = list(range(first, last + 1, BLOCK_IDS))
    lanes = [starts[i :: len(conns)] for i in range(len(conns))]
    read = await asyncio.gather(
        *(_blocks(conn, lane) for conn, lane in zip(conns, lanes, strict=True))
    )
    # Back in id order: block k was the (k // lanes)-th read of lane k % lanes.
    blocks = [read[k % len(conns)][k // len(conns)] for k in range(len(starts))]
    return [b for b in blocks if b is not None]


async def _blocks(conn: Connection, starts: list[int]) -> list[MemberBlock | None]:
    found: list[MemberBlock | None] = []
    for start in starts:
        row = await conn.fetchrow(MEMBER_BLOCK, start, start + BLOCK_IDS)
        assert row is not None
        if row[0] is None:  # no customer in the block
            found.append(None)
            continue
        found.append(
            MemberBlock(
                row[0],
                row[1],
                row[2],
                row[3],
                [_STATUS_OF_CODE[code] for code in row[4]],
                row[5],
                row[6],
            )
        )
    return found


async def spend(
    conn: Connection,
) -> tuple[dict[int, dict[int, tuple[Decimal, int]]], dict[int, dict[int, int]]]:
    """Net spend and purchase count of every customer who has bought (others spent 0), and
    the count of their eligible purchases (of those who have any), by program and customer."""
    rows: list[asyncpg.Record] = await conn.fetch(SPEND)
    by_program: defaultdict[int, dict[int, tuple[Decimal, int]]] = defaultdict(dict)
    eligible: defaultdict[int, dict[int, int]] = defaultdict(dict)
    for program_id, customer_id, amount, purchases, eligible_purchases in rows:
        by_program[program_id][customer_id] = (amount, purchases)
        if eligible_purchases:
            eligible[program_id][customer_id] = eligible_purchases
    return by_program, eligible


async def held_milestones(conn: Connection) -> dict[int, dict[int, set[int]]]:
    """The milestones of each customer's bonuses that are not REVERSED, by program."""
    rows: list[asyncpg.Record] = await conn.fetch(HELD)
    by_program: defaultdict[int, dict[int, set[int]]] = defaultdict(dict)
    for program_id, customer_id, milestones in rows:
        by_program[program_id][customer_id] = set(milestones)
    return by_program
