"""Queries on programs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rujuk.db.pool import Connection
from rujuk.records import Program, TierRule

_COLUMNS = (
    "id, name, currency, tiers, max_payout_rate, referee_reward, hold_days, compression, created_at"
)


def tiers_to_json(tiers: tuple[TierRule, ...]) -> list[dict[str, Any]]:
    """Tiers as stored in program.tiers (decimals kept as strings: exact)."""
    return [
        {
            "name": t.name,
            "minQualifiedReferrals": t.min_qualified_referrals,
            "minNetworkRevenue": str(t.min_network_revenue),
            "levelRates": [str(r) for r in t.level_rates],
        }
        for t in tiers
    ]


def _program(row: Any) -> Program:
    return Program(
        id=row["id"],
        name=row["name"],
        currency=row["currency"],
        tiers=tuple(
            TierRule(
                name=t["name"],
                min_qualified_referrals=t["minQualifiedReferrals"],
                min_network_revenue=Decimal(t["minNetworkRevenue"]),
                level_rates=tuple(Decimal(r) for r in t["levelRates"]),
            )
            for t in row["tiers"]
        ),
        max_payout_rate=row["max_payout_rate"],
        referee_reward=row["referee_reward"],
        hold_days=row["hold_days"],
        compression=row["compression"],
        created_at=row["created_at"],
    )


async def insert_program(
    conn: Connection,
    *,
    name: str,
    currency: str,
    tiers: tuple[TierRule, ...],
    max_payout_rate: Decimal,
    referee_reward: Decimal,
    hold_days: int,
    compression: bool,
) -> Program:
    """Store a new program."""
    row = await conn.fetchrow(
        f"""INSERT INTO program (name, currency, tiers, max_payout_rate, referee_reward,
                                 hold_days, compression)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}""",
        name,
        currency,
        tiers_to_json(tiers),
        max_payout_rate,
        referee_reward,
        hold_days,
        compression,
    )
    return _program(row)


async def get_program(conn: Connection, program_id: int) -> Program | None:
    """One program by id."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM program WHERE id = $1", program_id)
    return None if row is None else _program(row)


async def lock_program(conn: Connection, program_id: int) -> tuple[Program, int] | None:
    """Lock a program's row for a graph write; return it with its current graph version."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS}, graph_version FROM program WHERE id = $1 FOR UPDATE", program_id
    )
    return None if row is None else (_program(row), row["graph_version"])


async def list_programs(conn: Connection, program_ids: list[int] | None = None) -> list[Program]:
    """All programs (or those of the given ids), oldest first."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM program
            WHERE $1::bigint[] IS NULL OR id = ANY($1) ORDER BY id""",
        program_ids,
    )
    return [_program(r) for r in rows]
