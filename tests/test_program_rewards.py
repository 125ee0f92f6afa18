"""Contract v2's reward rules through GraphQL over HTTP on PostgreSQL, with hand-computed
figures (rewards.md, "Recording a purchase", "Milestones", "Refunds"), and the RewardBook
each worker keeps beside its graph held equal to the ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from rujuk.app import create_app
from rujuk.db import purchases as purchase_queries
from rujuk.graph.reward_book import RewardBook
from rujuk.ids import from_global_id
from rujuk.services.runtime import Runtime
from tests.conftest import app_settings
from tests.fixtures import chain, create_program, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import REVIEW, record, refund

C, W, M = "REFERRER_COMMISSION", "REFEREE_WELCOME", "MILESTONE_BONUS"
UPDATE = """
mutation($input: UpdateProgramInput!) {
  updateProgram(input: $input) { program { rulesVersion } userErrors { field code message } }
}"""
REWARDS = """
query($p: ID!, $e: String!) {
  customer(programId: $p, externalId: $e) {
    rewards(first: 50) {
      edges { node { kind level milestone amount status purchase { orderId } } }
    }
  }
}"""


def number(global_id: str) -> int:
    parsed = from_global_id(global_id)
    assert parsed is not None
    return parsed[1]


async def bought(
    gql: GraphQLClient, pid: str, who: str, order: str, amount: str, at: str | None = None
) -> list[tuple[Any, ...]]:
    extra = {} if at is None else {"occurredAt": at}
    payload = await record(gql, pid, who, order, amount, **extra)
    assert payload["userErrors"] == [], payload["userErrors"]
    return [
        (r["beneficiary"]["externalId"], r["kind"], r["level"], r["rate"], r["amount"])
        for r in payload["rewards"]
    ]


async def rewards_of(gql: GraphQLClient, pid: str, who: str) -> list[tuple[Any, ...]]:
    data = await gql.data(REWARDS, {"p": pid, "e": who})
    return sorted(
        (n["purchase"]["orderId"], n["kind"], n["level"], n["milestone"], n["amount"], n["status"])
        for n in (e["node"] for e in data["customer"]["rewards"]["edges"])
    )


async def assert_book_is_ledger(runtime: Runtime, pid: int) -> None:
    """The book kept by the events equals what the ledger says now."""
    book: RewardBook = runtime.graphs.graph(pid).book
    eligible = await runtime.pool.fetch(
        "SELECT customer_id, count(*) FROM purchase WHERE program_id = $1 AND eligible"
        " GROUP BY customer_id",
        pid,
    )
    assert book.eligible == {r[0]: r[1] for r in eligible}
    held = await runtime.pool.fetch(
        "SELECT beneficiary_id, array_agg(milestone) FROM reward WHERE program_id = $1"
        " AND kind = 'MILESTONE_BONUS' AND status <> 'REVERSED' GROUP BY beneficiary_id",
        pid,
    )
    assert book.held == {r[0]: set(r[1]) for r in held}
    if book.zone is not None:
        kept = {}
        async with runtime.pool.acquire() as conn:
            for month in book.monthly:
                usage = await purchase_queries.monthly_usage(conn, pid, book.zone, month)
                kept[month] = dict(usage)
        assert book.monthly == kept


async def capped_in_jakarta(gql: GraphQLClient) -> str:
    """A program paying 10 % at one level, capped at 1,000 a month in Asia/Jakarta, with
    the chain c0 <- c1; its id."""
    program = await create_program(
        gql,
        tiers=[{"name": "B", "levelRates": ["0.1"]}],
        refereeReward="0",
        monthlyCapPerReferrer="1000",
        timeZone="Asia/Jakarta",
    )
    pid: str = program["id"]
    await chain(gql, pid, 2)
    return pid


async def test_monthly_cap_across_the_end_of_a_month_in_jakarta(
    app: Any, gql: GraphQLClient
) -> None:
    pid = await capped_in_jakarta(gql)
    # 23:59 on 31 January in Jakarta: 800 of the 1000.
    assert await bought(gql, pid, "c1", "o1", "8000", "2026-01-31T23:59:00+07:00") == [
        ("c0", C, 1, "0.1", "800")
    ]
    # 500 raw, 200 left in January.
    assert await bought(gql, pid, "c1", "o2", "5000", "2026-01-31T23:59:30+07:00") == [
        ("c0", C, 1, "0.1", "200")
    ]
    assert await bought(gql, pid, "c1", "o3", "5000", "2026-01-31T23:59:40+07:00") == []
    # 00:00 on 1 February in Jakarta (still 31 January in UTC): a fresh month.
    assert await bought(gql, pid, "c1", "o4", "5000", "2026-02-01T00:00:00+07:00") == [
        ("c0", C, 1, "0.1", "500")
    ]
    # Half of o1 refunded: 400 of it stays, so January has 400 left again.
    assert (await refund(gql, pid, "o1", "4000"))["userErrors"] == []
    assert await bought(gql, pid, "c1", "o5", "9000", "2026-01-31T12:00:00+07:00") == [
        ("c0", C, 1, "0.1", "400")
    ]
    await assert_book_is_ledger(app.state.runtime, number(pid))


async def test_flat_amounts_and_a_flat_only_level(gql: GraphQLClient) -> None:
    program = await create_program(
        gql,
        tiers=[{"name": "F", "levelRates": ["0.1"], "levelAmounts": ["250", "100"]}],
        refereeReward="0",
        maxPayoutRate="1",
    )
    await chain(gql, program["id"], 3)
    # c1: round_down(1999 * 0.1) + 250 = 449; c0: rate 0 + 100.
    assert await bought(gql, program["id"], "c2", "o1", "1999") == [
        ("c1", C, 1, "0.1", "449"),
        ("c0", C, 2, "0", "100"),
    ]


async def test_a_refund_uses_the_rules_the_purchase_was_priced_under(
    app: Any, gql: GraphQLClient
) -> None:
    program = await create_program(
        gql,
        tiers=[{"name": "B", "levelRates": ["0.1", "0.1"]}],
        refereeReward="0",
        maxPayoutRate="0.15",
    )
    pid = program["id"]
    await chain(gql, pid, 3)
    # Cap 150 of 1000: 100 and 50.
    assert await bought(gql, pid, "c2", "o1", "1000") == [
        ("c1", C, 1, "0.1", "100"),
        ("c0", C, 2, "0.1", "50"),
    ]
    data = await gql.data(UPDATE, {"input": {"programId": pid, "maxPayoutRate": "1"}})
    assert data["updateProgram"]["program"]["rulesVersion"] == 2
    # N = 500 under version 1: cap 75, so 50 and 25 (version 2's cap would leave 50 and 50).
    assert (await refund(gql, pid, "o1", "500"))["userErrors"] == []
    assert await rewards_of(gql, pid, "c0") == [("o1", C, 2, None, "25", "PENDING")]
    assert await rewards_of(gql, pid, "c1") == [("o1", C, 1, None, "50", "PENDING")]
    await assert_book_is_ledger(app.state.runtime, number(pid))


async def test_milestone_bonuses_on_a_purchase_and_on_an_approval(
    app: Any, gql: GraphQLClient
) -> None:
    program = await create_program(
        gql,
        tiers=[{"name": "B", "levelRates": ["0.1"]}],
        refereeReward="0",
        milestones=[
            {"qualifiedReferrals": 1, "reward": "700"},
            {"qualifiedReferrals": 2, "reward": "900"},
        ],
    )
    pid = program["id"]
    root = await register_ok(gql, pid, "x")
    code = root["referralCodes"][0]["code"]
    await register_ok(gql, pid, "decoy", deviceId="shared")
    await register_ok(gql, pid, "a", code)
    flagged = await gql.data(
        """mutation($input: RegisterCustomerInput!) {
             registerCustomer(input: $input) { referral { id status } userErrors { code } } }""",
        {
            "input": {
                "programId": pid,
                "externalId": "f",
                "displayName": "F",
                "referralCode": code,
                "deviceId": "shared",
            }
        },
    )
    referral = flagged["registerCustomer"]["referral"]
    assert referral["status"] == "FLAGGED"
    # f's purchase: a commission held by its flagged link, no rise (f is not qualified).
    assert await bought(gql, pid, "f", "o1", "1000") == [("x", C, 1, "0.1", "100")]
    # a's first purchase: x rises to 1 and earns milestone 1.
    payload = await record(gql, pid, "a", "o2", "2000")
    assert [(r["kind"], r["milestone"], r["amount"]) for r in payload["rewards"]] == [
        (C, None, "200"),
        (M, 1, "700"),
    ]
    # Approving f's link makes x's second qualified referral: milestone 2, on f's purchase.
    data = await gql.data(REVIEW, {"input": {"referralId": referral["id"], "decision": "APPROVE"}})
    assert data["reviewReferral"]["userErrors"] == []
    assert await rewards_of(gql, pid, "x") == [
        ("o1", M, 0, 2, "900", "PENDING"),
        ("o1", C, 1, None, "100", "PENDING"),
        ("o2", M, 0, 1, "700", "PENDING"),
        ("o2", C, 1, None, "200", "PENDING"),
    ]
    # a's purchase refunded in full: its bonus is reversed and can be earned again.
    assert (await refund(gql, pid, "o2"))["userErrors"] == []
    await assert_book_is_ledger(app.state.runtime, number(pid))
    payload = await record(gql, pid, "a", "o3", "500")
    assert [(r["kind"], r["milestone"], r["amount"]) for r in payload["rewards"]] == [
        (C, None, "50"),
        (M, 1, "700"),
    ]
    await assert_book_is_ledger(app.state.runtime, number(pid))


@asynccontextmanager
async def worker(database_url: str, folder: Path) -> AsyncIterator[tuple[GraphQLClient, Runtime]]:
    """One app instance (its own Runtime, pool, graphs and books) on the database."""
    application = create_app(app_settings(folder), database_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://rujuk.test") as http:
            yield GraphQLClient(http), application.state.runtime


async def test_two_workers_and_a_restart_price_from_the_same_book(
    database_url: str, tmp_path: Path
) -> None:
    """Reward changes made on one worker (new rewards, a partial and a full refund) reach
    the other's book through the events, and a restarted worker reads the same."""
    jan = "2026-01-15T10:00:00+07:00"
    async with (
        worker(database_url, tmp_path / "a") as (a, runtime_a),
        worker(database_url, tmp_path / "b") as (b, runtime_b),
    ):
        program = await create_program(
            a,
            tiers=[{"name": "B", "levelRates": ["0.1"]}],
            refereeReward="0",
            monthlyCapPerReferrer="1000",
            milestones=[{"qualifiedReferrals": 1, "reward": "700"}],
        )
        pid = program["id"]
        root = await register_ok(a, pid, "c0")
        code = root["referralCodes"][0]["code"]
        await register_ok(a, pid, "c1", code)
        await register_ok(a, pid, "c2", code)
        payload = await record(b, pid, "c1", "o1", "8000", occurredAt=jan)
        assert [(r["kind"], r["amount"]) for r in payload["rewards"]] == [(C, "800"), (M, "700")]
        # A learns of B's 800 before pricing: 200 left of January's 1000.
        assert await bought(a, pid, "c2", "o2", "5000", jan) == [("c0", C, 1, "0.1", "200")]
        assert (await refund(b, pid, "o1", "4000"))["userErrors"] == []
        assert await bought(a, pid, "c2", "o3", "5000", jan) == [("c0", C, 1, "0.1", "400")]
        # o1 refunded in full on A: its commission and its bonus are reversed...
        assert (await refund(a, pid, "o1"))["userErrors"] == []
        # ...which B counts: 1000 - 200 - 400 = 400 left, 300 raw.
        assert await bought(b, pid, "c2", "o4", "3000", jan) == [("c0", C, 1, "0.1", "300")]
        # c1 spends again: a rise that earns milestone 1 again; 100 left this month.
        payload = await record(b, pid, "c1", "o5", "2000", occurredAt=jan)
        assert [(r["kind"], r["amount"]) for r in payload["rewards"]] == [(C, "100"), (M, "700")]
        for runtime in (runtime_a, runtime_b):
            await runtime.graphs.catch_up(number(pid))
            await assert_book_is_ledger(runtime, number(pid))
    async with worker(database_url, tmp_path / "c") as (c, runtime_c):
        await assert_book_is_ledger(runtime_c, number(pid))
        assert await bought(c, pid, "c2", "o6", "3000", jan) == []  # January is used up
        assert await bought(c, pid, "c2", "o7", "3000", "2026-02-01T00:00:00+07:00") == [
            ("c0", C, 1, "0.1", "300")
        ]
        await assert_book_is_ledger(runtime_c, number(pid))


async def test_after_a_restart_a_capped_purchase_reads_only_its_own_month(
    database_url: str, tmp_path: Path
) -> None:
    """The monthly usage is read from the ledger a month at a time, when a purchase of that
    month first needs it: a long ledger is not read whole under the program's lock."""
    jan, feb = "2026-01-20T10:00:00+07:00", "2026-02-10T10:00:00+07:00"
    async with worker(database_url, tmp_path / "a") as (gql, _):
        pid = await capped_in_jakarta(gql)
        assert await bought(gql, pid, "c1", "o1", "8000", jan) == [("c0", C, 1, "0.1", "800")]
        assert await bought(gql, pid, "c1", "o2", "5000", feb) == [("c0", C, 1, "0.1", "500")]
    async with worker(database_url, tmp_path / "b") as (gql, runtime):
        book = runtime.graphs.graph(number(pid)).book
        assert set(book.monthly) == set()
        # February: 500 of 1000 used, so 600 raw pays 500.
        assert await bought(gql, pid, "c1", "o3", "6000", feb) == [("c0", C, 1, "0.1", "500")]
        january, february = 2026 * 12 + 0, 2026 * 12 + 1
        assert set(book.monthly) == {february}
        # January, read now: 800 used, so 300 raw pays 200.
        assert await bought(gql, pid, "c1", "o4", "3000", jan) == [("c0", C, 1, "0.1", "200")]
        assert set(book.monthly) == {january, february}
        await assert_book_is_ledger(runtime, number(pid))
