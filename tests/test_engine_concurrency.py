"""Concurrent recordPurchase calls: one purchase per order, the ledger of the commit order.

200 calls at once, a quarter of them retries of an order already in the batch (same
customer and amount), in one program whose tiers move while the batch runs. The purchases
that got recorded are then replayed one after another, in commit order (purchase id order:
ids are taken under the program's lock), in a second program with the same tree; both
ledgers must be equal. Once in process (httpx on the ASGI app), once against `rujuk serve
--workers 2` over real HTTP, where the two workers' graphs must also keep step.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rujuk.db.pool import connect
from rujuk.ids import local_id
from tests.fixtures import create_program, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import dangling_references, record
from tests.servers import running_server

TREE_SIZE = 30
DISTINCT_ORDERS = 150
RETRIES = 50  # a quarter of the 200 calls
TIERS = [
    {"name": "Bronze", "levelRates": ["0.10", "0.05"]},
    {"name": "Silver", "minQualifiedReferrals": 2, "levelRates": ["0.12", "0.06", "0.03"]},
    {
        "name": "Gold",
        "minQualifiedReferrals": 2,
        "minNetworkRevenue": "100000",
        "levelRates": ["0.15", "0.08", "0.04", "0.02"],
    },
]
RULES: dict[str, Any] = {"tiers": TIERS, "maxPayoutRate": "0.20", "refereeReward": "750"}

Ledger = dict[str, list[tuple[str, str, int, str | None, str]]]


def tree_shape(seed: int) -> list[int | None]:
    """Each customer's referrer (an earlier customer's index), or None for a root."""
    rng = random.Random(seed)
    return [None] + [
        None if rng.random() < 0.1 else rng.randrange(max(0, i - 4), i) for i in range(1, TREE_SIZE)
    ]


def calls(seed: int) -> list[tuple[str, str, str]]:
    """(customer, orderId, amount) of 200 calls in the order they are sent."""
    rng = random.Random(seed)
    orders = [
        (f"c{rng.randrange(TREE_SIZE)}", f"order-{n}", str(rng.randrange(1000, 40000)))
        for n in range(DISTINCT_ORDERS)
    ]
    # Retries: ten of one order (a burst), the rest of random orders.
    retries = [orders[0]] * 10 + [rng.choice(orders) for _ in range(RETRIES - 10)]
    batch = orders + retries
    rng.shuffle(batch)
    return batch


async def build(gql: GraphQLClient, name: str, shape: list[int | None]) -> str:
    program = await create_program(gql, name=name, **RULES)
    codes: list[str] = []
    for i, referrer in enumerate(shape):
        code = None if referrer is None else codes[referrer]
        customer = await register_ok(gql, program["id"], f"c{i}", code)
        codes.append(customer["referralCodes"][0]["code"])
    pid: str = program["id"]
    return pid


def ledger_row(reward: dict[str, Any]) -> tuple[str, str, int, str | None, str]:
    return (
        reward["beneficiary"]["externalId"],
        reward["kind"],
        reward["level"],
        reward["tier"],
        reward["amount"],
    )


async def concurrent_then_sequential(
    gql: GraphQLClient, database_url: str, seed: int
) -> tuple[Ledger, Ledger]:
    """The ledger of the concurrent batch, and of its replay in commit order."""
    shape = tree_shape(seed)
    pid = await build(gql, f"Concurrent {seed}", shape)
    batch = calls(seed)
    answers = await asyncio.gather(
        *(record(gql, pid, who, order, amount) for who, order, amount in batch)
    )
    by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (_, order, _), answer in zip(batch, answers, strict=True):
        assert answer["userErrors"] == [], answer["userErrors"]
        by_order[order].append(answer)
    # Every retry answered exactly what the first call of its order answered.
    for order, results in by_order.items():
        assert all(r == results[0] for r in results), order
    assert len(by_order["order-0"]) >= 11  # the burst of ten retries

    program_id = local_id(pid, "Program")
    conn = await connect(database_url)
    try:
        recorded = await conn.fetch(
            """SELECT p.order_id, c.external_id, p.amount, p.id FROM purchase p
               JOIN customer c ON c.id = p.customer_id
               WHERE p.program_id = $1 ORDER BY p.id""",
            program_id,
        )
        dangling = await dangling_references(conn)
    finally:
        await conn.close()
    assert dangling == dict.fromkeys(dangling, 0)
    assert len(recorded) == DISTINCT_ORDERS
    assert len({r["order_id"] for r in recorded}) == DISTINCT_ORDERS
    for row in recorded:
        [purchase_id] = {
            local_id(r["purchase"]["id"], "Purchase") for r in by_order[row["order_id"]]
        }
        assert purchase_id == row["id"]
    concurrent = {order: list(map(ledger_row, r[0]["rewards"])) for order, r in by_order.items()}

    twin = await build(gql, f"Sequential {seed}", shape)
    sequential: Ledger = {}
    for row in recorded:
        answer = await record(gql, twin, row["external_id"], row["order_id"], str(row["amount"]))
        assert answer["userErrors"] == []
        sequential[row["order_id"]] = list(map(ledger_row, answer["rewards"]))
    return concurrent, sequential


async def test_concurrent_purchases_equal_their_sequential_replay(
    gql: GraphQLClient, database_url: str
) -> None:
    concurrent, sequential = await concurrent_then_sequential(gql, database_url, seed=11)
    assert concurrent == sequential
    # The batch did move tiers (else the order of commits would not matter).
    tiers = {row[3] for rows in sequential.values() for row in rows}
    assert {"Bronze", "Silver", "Gold"} <= tiers


# --- The same against `rujuk serve --workers 2` -----------------------------------------

RUJUK = Path(sys.executable).parent / "rujuk"
SERVER_TOKEN = "engine-concurrency-admin-token-0123"


@pytest.fixture
async def two_workers(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The base URL of `rujuk serve --workers 2` on this test's database."""
    async with running_server(database_url, SERVER_TOKEN, tmp_path, workers=2) as base:
        yield base


async def test_two_worker_processes_keep_one_ledger(two_workers: str, database_url: str) -> None:
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=two_workers, timeout=60, limits=limits) as http:
        gql = GraphQLClient(http, SERVER_TOKEN)
        concurrent, sequential = await concurrent_then_sequential(gql, database_url, seed=23)
    assert concurrent == sequential
