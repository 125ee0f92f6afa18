"""Concurrent writes under `rujuk serve --workers 2` with a pool of two connections.

Each write commits while holding its pooled connection; when another worker's commit came
in between, the writer catches up with the event log before answering. Done on a second
pooled connection, two such writers held both connections of a worker and each waited for
a third: the worker never answered again (issue 15). Sixty writes of five kinds at once
must all be answered within a bound, /healthz must answer after them, and the ledger and
both workers' graphs must agree with the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures import create_program, register
from tests.graphql_client import GraphQLClient
from tests.ledger import ERASE, RECORD, REFUND, REVIEW
from tests.reliability.consistency import assert_graphs_match_database, assert_ledger_sound
from tests.servers import running_server

pytestmark = pytest.mark.reliability

TOKEN = "reliability-deadlock-admin-token-0123"
EACH = 12  # calls of each of the five kinds: 60 at once
# One worker answers the whole mix in well under a second; a hung worker never does.
BOUND = 30.0
REGISTER = """
mutation($input: RegisterCustomerInput!) {
  registerCustomer(input: $input) { customer { id } userErrors { code message } }
}"""


@pytest.fixture
async def two_workers(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """`rujuk serve --workers 2`, each worker with a pool of two connections."""
    async with running_server(
        database_url, TOKEN, tmp_path, workers=2, settings={"RUJUK_DB_POOL_SIZE": "2"}
    ) as base:
        yield base


async def prepare(gql: GraphQLClient) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """A program with buyers c0..c11 (each with a purchase to refund and a referral to
    review), customers e0..e11 to erase; the 60 calls of the mix, in the order sent."""
    program = (await create_program(gql, name="Deadlock"))["id"]
    root = await register(gql, program, "root")
    codes = [root["customer"]["referralCodes"][0]["code"]]
    referrals: list[str] = []
    for i in range(EACH):
        # A binary tree under root: every purchase pays a few levels.
        joined = await register(gql, program, f"c{i}", codes[1 + (i - 1) // 2 if i else 0])
        assert joined["userErrors"] == []
        codes.append(joined["customer"]["referralCodes"][0]["code"])
        referrals.append(joined["referral"]["id"])
        bought = await gql.data(
            RECORD,
            {
                "input": {
                    "programId": program,
                    "customerExternalId": f"c{i}",
                    "orderId": f"paid-{i}",
                    "amount": "10000",
                }
            },
        )
        assert bought["recordPurchase"]["userErrors"] == []
    erasable = []
    for i in range(EACH):
        joined = await register(gql, program, f"e{i}", codes[1 + i])
        erasable.append(joined["customer"]["id"])
    calls: list[tuple[str, dict[str, Any]]] = []
    for i in range(EACH):
        calls += [
            (
                REFUND,
                {
                    "input": {
                        "programId": program,
                        "orderId": f"paid-{i}",
                        "amount": "4000",
                        "refundId": f"refund-{i}",
                    }
                },
            ),
            (REVIEW, {"input": {"referralId": referrals[i], "decision": "APPROVE"}}),
            (ERASE, {"input": {"customerId": erasable[i]}}),
            (
                REGISTER,
                {
                    "input": {
                        "programId": program,
                        "externalId": f"n{i}",
                        "displayName": f"New {i}",
                        "referralCode": codes[1 + i],
                    }
                },
            ),
            (
                RECORD,
                {
                    "input": {
                        "programId": program,
                        "customerExternalId": f"c{i}",
                        "orderId": f"new-{i}",
                        "amount": "20000",
                    }
                },
            ),
        ]
    return program, calls


async def test_sixty_concurrent_writes_on_two_workers_all_answered(
    two_workers: str, database_url: str
) -> None:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=two_workers, timeout=BOUND, limits=limits) as http:
        gql = GraphQLClient(http, TOKEN)
        program, calls = await prepare(gql)
        started = time.perf_counter()
        tasks = [asyncio.create_task(gql.post(query, variables)) for query, variables in calls]
        done, pending = await asyncio.wait(tasks, timeout=BOUND)
        elapsed = time.perf_counter() - started
        for task in pending:
            task.cancel()
        print(f"mix: {len(calls)} sent, {len(done)} answered in {elapsed:.2f} s")
        assert not pending, f"{len(pending)} of {len(calls)} calls unanswered after {BOUND} s"
        for task in done:
            body = task.result()
            assert "errors" not in body, body["errors"]
            [payload] = body["data"].values()
            assert payload["userErrors"] == [], payload["userErrors"]
        health_started = time.perf_counter()
        health = await http.get("/healthz", timeout=2)
        print(
            f"/healthz after the mix: {health.status_code} in "
            f"{time.perf_counter() - health_started:.3f} s"
        )
        assert health.status_code == 200
    await assert_ledger_sound(database_url)
    await assert_graphs_match_database(two_workers, TOKEN, database_url, program)
