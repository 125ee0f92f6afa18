"""Migrations: applied once each, in order, under a lock; later ones carry the data along."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import pytest

from rujuk.database import database_url_for, drop_database
from rujuk.db import programs as program_queries
from rujuk.db.migrator import available_migrations, migrate
from rujuk.db.pool import connect
from rujuk.records import rules_to_json


@pytest.fixture
async def empty_url(server_url: str) -> AsyncIterator[str]:
    """A database with no table at all."""
    name = "t_empty_migrations"
    conn = await connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = database_url_for(server_url, name)
    yield url
    await drop_database(server_url, url)


async def test_concurrent_migrations_apply_each_version_once(empty_url: str) -> None:
    first, second = await connect(empty_url), await connect(empty_url)
    try:
        applied = await asyncio.gather(migrate(first), migrate(second))
        versions = [m.version for m in available_migrations()]
        assert sorted(applied[0] + applied[1]) == versions
        assert await migrate(first) == []
        recorded = await first.fetch("SELECT version FROM schema_migration ORDER BY version")
        assert [r["version"] for r in recorded] == versions
    finally:
        await first.close()
        await second.close()


async def test_the_referee_spend_migration_backfills_existing_links(empty_url: str) -> None:
    conn = await connect(empty_url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migration (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in available_migrations():
            if migration.version < 3:
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migration (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
        await conn.execute(
            """
            INSERT INTO program (name, currency, tiers, max_payout_rate, referee_reward,
                                 hold_days, compression)
            VALUES ('P', 'IDR', '[]', 0.3, 0, 14, false);
            INSERT INTO customer (program_id, external_id, display_name, channel, joined_at)
            VALUES (1, 'a', 'A', 'DIRECT', now()), (1, 'b', 'B', 'DIRECT', now());
            INSERT INTO referral_code (code, program_id, customer_id, kind)
            VALUES ('AAAA1111', 1, 1, 'MULTI_USE');
            INSERT INTO referral (program_id, referee_id, referrer_id, code, channel, status,
                                  created_at)
            VALUES (1, 2, 1, 'AAAA1111', 'DIRECT', 'ACTIVE', now());
            INSERT INTO purchase (program_id, customer_id, order_id, amount, refunded_amount,
                                  occurred_at)
            VALUES (1, 2, 'o1', 1000, 250, now()), (1, 2, 'o2', 500, 0, now());
            """
        )
        later = [m.version for m in available_migrations() if m.version >= 3]
        assert await migrate(conn) == later
        spend = await conn.fetchval("SELECT referee_spend FROM referral WHERE referee_id = 2")
        assert spend == Decimal(1250)
    finally:
        await conn.close()


async def test_the_program_rules_migration_keeps_existing_programs_and_purchases(
    empty_url: str,
) -> None:
    """A database of contract v1 (migrations 1-8) with a program, a purchase and its
    rewards: afterwards the program is at rules version 1 with v2's defaults, that version's
    rules are stored whole, and the purchase was priced under version 1, eligible."""
    conn = await connect(empty_url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migration (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in available_migrations():
            if migration.version < 9:
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migration (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
        await conn.execute(
            """
            INSERT INTO program (name, currency, tiers, max_payout_rate, referee_reward,
                                 hold_days, compression)
            VALUES ('P', 'USD', '[{"name": "A", "minQualifiedReferrals": 0,
                                   "minNetworkRevenue": "0", "levelRates": ["0.10"]}]',
                    0.30, 2.50, 14, false);
            INSERT INTO customer (program_id, external_id, display_name, channel, joined_at)
            VALUES (1, 'a', 'A', 'DIRECT', now()), (1, 'b', 'B', 'DIRECT', now());
            INSERT INTO purchase (program_id, customer_id, order_id, amount, occurred_at)
            VALUES (1, 2, 'o1', 1000, now());
            INSERT INTO reward (program_id, purchase_id, beneficiary_id, kind, level, rate, tier,
                                first_amount, amount, status, available_at, path)
            VALUES (1, 1, 1, 'REFERRER_COMMISSION', 1, 0.10, 'A', 100, 100, 'PENDING', now(),
                    '{2}'),
                   (1, 1, 2, 'REFEREE_WELCOME', 0, NULL, NULL, 2.50, 2.50, 'PENDING', now(),
                    '{2}');
            """
        )
        assert await migrate(conn) == [m.version for m in available_migrations() if m.version >= 9]

        program = await program_queries.get_program(conn, 1)
        assert program is not None
        assert (program.rules_version, program.active, program.time_zone) == (
            1,
            True,
            "Asia/Jakarta",
        )
        assert program.tiers[0].level_amounts == ()
        assert program.milestones == ()
        assert program.max_signups_per_ip_per_day == 10
        stored = await program_queries.rules_of_version(conn, 1, 1)
        assert stored == program
        rules = await conn.fetchval("SELECT rules FROM program_rules WHERE program_id = 1")
        assert rules == rules_to_json(program)
        assert rules["refereeReward"] == "2.50"  # as written

        row = await conn.fetchrow("SELECT rules_version, eligible FROM purchase")
        assert row is not None
        assert (row["rules_version"], row["eligible"]) == (1, True)
        kinds = await conn.fetch("SELECT kind, milestone FROM reward ORDER BY id")
        assert [(r["kind"], r["milestone"]) for r in kinds] == [
            ("REFERRER_COMMISSION", None),
            ("REFEREE_WELCOME", None),
        ]
        # A new purchase states its version: nothing is priced under a version by default.
        with pytest.raises(asyncpg.NotNullViolationError):
            await conn.execute(
                "INSERT INTO purchase (program_id, customer_id, order_id, amount, occurred_at,"
                " eligible) VALUES (1, 2, 'o2', 10, now(), true)"
            )
        # A milestone bonus is level 0 and names its threshold; nothing else does.
        bonus = (
            "INSERT INTO reward (program_id, purchase_id, beneficiary_id, kind, level, milestone,"
            " first_amount, amount, status, available_at, path)"
            " VALUES (1, 1, 1, 'MILESTONE_BONUS', $1, $2, 5, 5, 'PENDING', now(), '{2}')"
        )
        await conn.execute(bonus, 0, 3)
        for level, milestone in [(0, None), (1, 3)]:
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(bonus, level, milestone)
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO reward (program_id, purchase_id, beneficiary_id, kind, level,"
                " milestone, first_amount, amount, status, available_at, path) VALUES"
                " (1, 1, 1, 'REFERRER_COMMISSION', 1, 3, 5, 5, 'PENDING', now(), '{2}')"
            )
        # A version's rules are kept as they were.
        with pytest.raises(asyncpg.RestrictViolationError):
            await conn.execute("UPDATE program_rules SET rules = '{}'")
        with pytest.raises(asyncpg.RestrictViolationError):
            await conn.execute("DELETE FROM program_rules")
    finally:
        await conn.close()


async def test_claiming_a_delivery_can_update_its_row_in_place(database_url: str) -> None:
    """webhook_delivery keeps room in its pages (fillfactor), so that a claim, which
    changes no indexed column, is a HOT update rather than a new entry in every index."""
    conn = await connect(database_url)
    try:
        options = await conn.fetchval(
            "SELECT reloptions FROM pg_class WHERE relname = 'webhook_delivery'"
        )
    finally:
        await conn.close()
    assert options == ["fillfactor=60"]
