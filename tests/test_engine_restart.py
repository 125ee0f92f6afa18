"""The graph is rebuilt from PostgreSQL: after a restart, and in a second worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from rujuk.app import create_app
from rujuk.db import graph_load
from rujuk.db.pool import connect
from rujuk.ids import local_id
from tests.conftest import app_settings
from tests.fixtures import chain, create_program, register, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import ERASE, REVIEW, SETTLE, customer, paid, refund

C = "REFERRER_COMMISSION"
W = "REFEREE_WELCOME"
TIERS = [
    {"name": "Bronze", "levelRates": ["0.10", "0.05"]},
    {"name": "Silver", "minQualifiedReferrals": 2, "levelRates": ["0.15", "0.05", "0.02"]},
]

EVERYTHING = """
query($p: ID!, $first: Int!) {
  program(id: $p) { id }
  %s
}"""
ONE = """
  %s: customer(programId: $p, externalId: "%s") {
    displayName referrer { externalId } referral { status }
    stats { directReferrals qualifiedReferrals networkSize networkRevenue influence tier depth }
    balance { pending approved reversed }
    rewards(first: $first) { totalCount edges { node {
      id kind level rate tier amount status availableAt purchase { orderId refundedAmount } } } }
  }"""


@asynccontextmanager
async def worker(database_url: str, tmp_path: Path) -> AsyncIterator[GraphQLClient]:
    """One app instance (its own lifespan, Runtime, pool and graphs) on the database."""
    app = create_app(app_settings(tmp_path), database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rujuk.test") as http:
            yield GraphQLClient(http)


async def snapshot(gql: GraphQLClient, program_id: str, names: list[str]) -> dict[str, Any]:
    query = EVERYTHING % "".join(ONE % (name, name) for name in names)
    return await gql.data(query, {"p": program_id, "first": 100})


async def populate(gql: GraphQLClient) -> tuple[str, list[str]]:
    """A program with every kind of state: tiers moved, FLAGGED, REJECTED, erased, refunds."""
    program = await create_program(gql, tiers=TIERS, refereeReward="300", holdDays=1)
    pid = program["id"]
    c = await chain(gql, pid, 5)  # c0 <- c1 <- c2 <- c3 <- c4
    await register_ok(gql, pid, "decoy", deviceId="shared")
    b = await register_ok(gql, pid, "b", c[0]["referralCodes"][0]["code"])
    flagged = await register(gql, pid, "f", c[1]["referralCodes"][0]["code"], deviceId="shared")
    assert flagged["referral"]["status"] == "FLAGGED"
    rejected = await register_ok(gql, pid, "r", b["referralCodes"][0]["code"])
    await register_ok(gql, pid, "r1", rejected["referralCodes"][0]["code"])
    orders = [
        ("c4", "o1", "100000"),
        ("c3", "o2", "55555"),
        ("b", "o3", "20000"),
        ("f", "o4", "7000"),
        ("r1", "o5", "40000"),
        ("c2", "o6", "12345"),
        ("c1", "o7", "99999"),
    ]
    for who, order, amount in orders:
        await paid(gql, pid, who, order, amount, occurredAt="2026-03-01T00:00:00Z")
    await refund(gql, pid, "o2", "5555")
    await refund(gql, pid, "o6")
    settled = await gql.data(SETTLE, {"input": {"programId": pid, "asOf": "2026-03-02T00:00:00Z"}})
    assert settled["settleRewards"]["approvedCount"] > 0
    link = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "r") { referral { id } } }',
        {"p": pid},
    )
    review = {"referralId": link["customer"]["referral"]["id"], "decision": "REJECT"}
    assert (await gql.data(REVIEW, {"input": review}))["reviewReferral"]["userErrors"] == []
    erased = await gql.data(ERASE, {"input": {"customerId": c[2]["id"]}})
    assert erased["eraseCustomer"]["userErrors"] == []
    await paid(gql, pid, "c4", "o8", "30000", occurredAt="2026-03-05T00:00:00Z")
    return pid, ["c0", "c1", "c2", "c3", "c4", "decoy", "b", "f", "r", "r1"]


async def test_every_figure_survives_a_restart(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with worker(database_url, tmp_path) as gql:
        # Two programs built at once: their customers' ids interleave.
        (pid, names), (other, _) = await asyncio.gather(populate(gql), populate(gql))
        before = await snapshot(gql, pid, names)
        other_before = await snapshot(gql, other, names)
    # The state is not trivial: tiers moved, subtrees were cut, money was reversed.
    assert before["c0"]["stats"]["tier"] == "Silver"
    assert before["r"]["referral"]["status"] == "REJECTED"
    assert before["b"]["stats"]["networkSize"] == 0
    assert before["c2"]["displayName"] == "Erased customer"
    assert before["c1"]["balance"]["reversed"] != "0"
    assert await interleaved(database_url, pid, other)
    # The restart reads customers in blocks of three ids over two connections, so that
    # blocks hold both programs and the programs' customers span several blocks.
    monkeypatch.setattr(graph_load, "BLOCK_IDS", 3)
    async with worker(database_url, tmp_path) as gql:
        assert await snapshot(gql, pid, names) == before
        assert await snapshot(gql, other, names) == other_before
        # And the rebuilt graph pays as the old one would: c3 at level 1; c2 is erased and
        # uses up level 2 (no compression); c1 has no qualified referral left (c2 refunded
        # everything, f is FLAGGED), so it is Bronze, which pays no level 3.
        assert await paid(gql, pid, "c4", "o9", "10000") == [("c3", C, 1, "1000")]
        stats = (await customer(gql, pid, "c1"))["stats"]
        assert (stats["qualifiedReferrals"], stats["tier"]) == (0, "Bronze")


async def interleaved(database_url: str, first: str, second: str) -> bool:
    """Whether each program has customers with ids between two of the other's."""
    conn = await connect(database_url)
    try:
        spans = await conn.fetch(
            "SELECT min(id), max(id) FROM customer WHERE program_id = ANY($1::bigint[])"
            " GROUP BY program_id",
            [local_id(first, "Program"), local_id(second, "Program")],
        )
    finally:
        await conn.close()
    (a_min, a_max), (b_min, b_max) = spans
    return bool(a_min < b_max and b_min < a_max)


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait (polling briefly, at most 5 s) until check() holds."""
    async with asyncio.timeout(5):
        while True:
            if await check():
                return
            await asyncio.sleep(0.01)


async def test_two_workers_pay_the_same_and_see_each_others_writes(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        worker(database_url, tmp_path / "a") as a,
        worker(database_url, tmp_path / "b") as b,
    ):
        program = await create_program(a, tiers=TIERS, refereeReward="500")
        pid = program["id"]
        # The tree is built through A; B pays along it at once (it catches up under the lock).
        customers = await chain(a, pid, 3)
        assert await paid(b, pid, "c2", "o1", "10000") == [
            ("c1", C, 1, "1000"),
            ("c0", C, 2, "500"),
            ("c2", W, 0, "500"),
        ]
        # A sibling's purchase through A makes c0 Silver; B pays at Silver right after.
        await register_ok(a, pid, "s", customers[0]["referralCodes"][0]["code"])
        assert await paid(a, pid, "c1", "o2", "1000") == [("c0", C, 1, "100"), ("c1", W, 0, "500")]
        assert await paid(a, pid, "s", "o3", "1000") == [("c0", C, 1, "100"), ("s", W, 0, "500")]
        assert await paid(b, pid, "c1", "o4", "1000") == [("c0", C, 1, "150")]
        # Either worker, the same purchase pays the same.
        assert await paid(a, pid, "c2", "o5", "2000") == await paid(b, pid, "c2", "o6", "2000")

        # Each worker's figures follow the other's writes once the notification arrives:
        # c0's network is c1 (1000 + 1000), c2 (10000 + 2000 + 2000) and s (1000).
        await eventually(lambda: revenue_is(a, pid, "17000"))
        await eventually(lambda: revenue_is(b, pid, "17000"))
        assert await customer(b, pid, "c0") == await customer(a, pid, "c0")
        await refund(a, pid, "o1", "10000")
        await eventually(lambda: revenue_is(b, pid, "7000"))
        assert await customer(b, pid, "c1") == await customer(a, pid, "c1")


async def revenue_is(gql: GraphQLClient, program_id: str, revenue: str) -> bool:
    """Whether c0's network revenue, as this worker sees it, is revenue."""
    return bool((await customer(gql, program_id, "c0"))["stats"]["networkRevenue"] == revenue)
