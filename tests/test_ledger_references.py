"""The ledger's references without foreign keys (migration 0004): every row a reward,
entry or purchase refers to exists, in the same program, and is never deleted."""

from __future__ import annotations

import asyncpg
import pytest

from rujuk.db.pool import connect
from tests.fixtures import create_program, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import dangling_references, paid, refund

KEPT_TABLES = ("program", "customer", "purchase", "reward", "reward_entry")


async def test_every_ledger_reference_holds_after_purchases_refunds_reviews_and_erasure(
    gql: GraphQLClient, database_url: str
) -> None:
    program = await create_program(gql, refereeReward="1000")
    p = program["id"]
    ana = await register_ok(gql, p, "ana")
    budi = await register_ok(gql, p, "budi", ana["referralCodes"][0]["code"])
    await register_ok(gql, p, "citra", budi["referralCodes"][0]["code"])
    created = len(await paid(gql, p, "citra", "o-1", "100000"))
    created += len(await paid(gql, p, "budi", "o-2", "50000"))
    assert (await refund(gql, p, "o-1", "40000"))["userErrors"] == []
    assert (await refund(gql, p, "o-2"))["userErrors"] == []
    erased = await gql.data(
        "mutation($id: ID!) { eraseCustomer(input: {customerId: $id}) { userErrors { code } } }",
        {"id": ana["id"]},
    )
    assert erased["eraseCustomer"]["userErrors"] == []
    created += len(await paid(gql, p, "citra", "o-3", "20000"))

    conn = await connect(database_url)
    try:
        rewards = await conn.fetchval("SELECT count(*) FROM reward")
        entries = await conn.fetchval("SELECT count(*) FROM reward_entry")
        dangling = await dangling_references(conn)
    finally:
        await conn.close()
    assert rewards == created >= 5
    assert entries > rewards  # the refunds' entries
    assert dangling == dict.fromkeys(dangling, 0)


@pytest.mark.parametrize("table", KEPT_TABLES)
async def test_rows_the_ledger_refers_to_are_never_deleted(
    gql: GraphQLClient, database_url: str, table: str
) -> None:
    program = await create_program(gql)
    p = program["id"]
    ana = await register_ok(gql, p, "ana")
    await register_ok(gql, p, "budi", ana["referralCodes"][0]["code"])
    await paid(gql, p, "budi", "o-1", "100000")
    conn = await connect(database_url)
    try:
        before = await conn.fetchval(f"SELECT count(*) FROM {table}")
        with pytest.raises(asyncpg.RestrictViolationError, match=f"rows of {table} are never"):
            await conn.execute(f"DELETE FROM {table}")
        with pytest.raises(asyncpg.RestrictViolationError, match=f"rows of {table} are never"):
            await conn.execute(f"TRUNCATE {table} CASCADE")
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == before > 0
    finally:
        await conn.close()
