"""Queries on programs and the versions of their rules."""

from __future__ import annotations

from typing import Any

from rujuk.db.pool import Connection, Pool
from rujuk.records import (
    Program,
    milestones_of_json,
    program_of_rules,
    rules_to_json,
    tiers_of_json,
)

_COLUMNS = (
    "id, name, currency, tiers, max_payout_rate, referee_reward, hold_days, compression,"
    " created_at, rules_version, active, time_zone, min_purchase_amount, commission_window_days,"
    " commission_purchase_limit, monthly_cap_per_referrer, milestones, blocked_email_domains,"
    " max_signups_per_ip_per_day"
)


def _program(row: Any) -> Program:
    return Program(
        id=row["id"],
        name=row["name"],
        currency=row["currency"],
        tiers=tiers_of_json(row["tiers"]),
        max_payout_rate=row["max_payout_rate"],
        referee_reward=row["referee_reward"],
        hold_days=row["hold_days"],
        compression=row["compression"],
        created_at=row["created_at"],
        rules_version=row["rules_version"],
        active=row["active"],
        time_zone=row["time_zone"],
        min_purchase_amount=row["min_purchase_amount"],
        commission_window_days=row["commission_window_days"],
        commission_purchase_limit=row["commission_purchase_limit"],
        monthly_cap_per_referrer=row["monthly_cap_per_referrer"],
        milestones=milestones_of_json(row["milestones"]),
        blocked_email_domains=tuple(row["blocked_email_domains"]),
        max_signups_per_ip_per_day=row["max_signups_per_ip_per_day"],
    )


def _rule_values(program: Program) -> tuple[Any, ...]:
    """The program's rules in the order of the $2... parameters of insert and update."""
    rules = rules_to_json(program)
    return (
        program.name,
        rules["tiers"],
        program.max_payout_rate,
        program.referee_reward,
        program.hold_days,
        program.compression,
        program.active,
        program.time_zone,
        program.min_purchase_amount,
        program.commission_window_days,
        program.commission_purchase_limit,
        program.monthly_cap_per_referrer,
        rules["milestones"],
        list(program.blocked_email_domains),
        program.max_signups_per_ip_per_day,
    )


async def insert_program(conn: Connection, draft: Program) -> Program:
    """Store a new program (the draft's id, created_at and rules_version are not used) and
    its rules as version 1, in one statement."""
    row = await conn.fetchrow(
        f"""
        WITH new_program AS (
            INSERT INTO program (currency, name, tiers, max_payout_rate, referee_reward,
                                 hold_days, compression, active, time_zone, min_purchase_amount,
                                 commission_window_days, commission_purchase_limit,
                                 monthly_cap_per_referrer, milestones, blocked_email_domains,
                                 max_signups_per_ip_per_day)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
            RETURNING {_COLUMNS}
        ), version AS (
            INSERT INTO program_rules (program_id, version, rules, created_at)
            SELECT id, 1, $17, created_at
            FROM new_program
        )
        SELECT * FROM new_program
        """,
        draft.currency,
        *_rule_values(draft),
        rules_to_json(draft),
    )
    return _program(row)


async def update_rules(conn: Connection, program: Program) -> None:
    """Store the program's rules as its version program.rules_version: the program row
    (the rules in force) and the version's document. The caller holds the row lock."""
    await conn.execute(
        """
        WITH updated AS (
            UPDATE program
            SET name = $2, tiers = $3, max_payout_rate = $4, referee_reward = $5,
                hold_days = $6, compression = $7, active = $8, time_zone = $9,
                min_purchase_amount = $10, commission_window_days = $11,
                commission_purchase_limit = $12, monthly_cap_per_referrer = $13,
                milestones = $14, blocked_email_domains = $15,
                max_signups_per_ip_per_day = $16, rules_version = $17
            WHERE id = $1
            RETURNING id
        )
        INSERT INTO program_rules (program_id, version, rules)
        SELECT id, $17, $18 FROM updated
        """,
        program.id,
        *_rule_values(program),
        program.rules_version,
        rules_to_json(program),
    )


async def rules_of_version(
    conn: Connection | Pool, program_id: int, version: int
) -> Program | None:
    """The program as it was under one version of its rules (None: no such version)."""
    row = await conn.fetchrow(
        """SELECT v.rules, p.created_at FROM program_rules v JOIN program p ON p.id = v.program_id
           WHERE v.program_id = $1 AND v.version = $2""",
        program_id,
        version,
    )
    if row is None:
        return None
    return program_of_rules(program_id, row["created_at"], version, row["rules"])


async def get_program(conn: Connection | Pool, program_id: int) -> Program | None:
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
