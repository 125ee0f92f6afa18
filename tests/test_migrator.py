"""Migrations: applied once each, in order, under a lock; later ones carry the data along."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from rujuk.database import database_url_for, drop_database
from rujuk.db.migrator import available_migrations, migrate
from rujuk.db.pool import connect


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
