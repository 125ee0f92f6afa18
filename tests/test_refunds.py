"""refundPurchase and idempotent recordPurchase, hand-computed from rewards.md."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from rujuk.db.pool import connect
from rujuk.ids import local_id
from tests.fixtures import chain, create_program, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import ERASE, REFUND, customer, paid, record, refund
from tests.servers import running_server

C = "REFERRER_COMMISSION"
W = "REFEREE_WELCOME"


def rows(payload: dict[str, Any]) -> list[tuple[str, str, int, str, str]]:
    """(beneficiary, kind, level, amount, status) of a payload's rewards."""
    assert payload["userErrors"] == [], payload["userErrors"]
    return [
        (r["beneficiary"]["externalId"], r["kind"], r["level"], r["amount"], r["status"])
        for r in payload["rewards"]
    ]


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def test_partial_then_full_refund_recomputes_on_the_net(gql: GraphQLClient) -> None:
    # Bronze [0.10, 0.05]; cap 12%; welcome 3000.
    program = await create_program(gql, maxPayoutRate="0.12", refereeReward="3000")
    pid = program["id"]
    await chain(gql, pid, 3)
    # 10000: c1 1000, c0 500 cut to 1200 - 1000 = 200; welcome min(3000, 10000).
    assert await paid(gql, pid, "c2", "o1", "10000") == [
        ("c1", C, 1, "1000"),
        ("c0", C, 2, "200"),
        ("c2", W, 0, "3000"),
    ]
    partial = await refund(gql, pid, "o1", "7001")
    # Net 2999: c1 floor(299.9) = 299; c0 floor(149.95) = 149, cut to floor(359.88) - 299 = 60;
    # welcome min(3000, 2999).
    assert rows(partial) == [
        ("c1", C, 1, "299", "PENDING"),
        ("c0", C, 2, "60", "PENDING"),
        ("c2", W, 0, "2999", "PENDING"),
    ]
    assert (partial["purchase"]["amount"], partial["purchase"]["refundedAmount"]) == (
        "10000",
        "7001",
    )
    assert (await customer(gql, pid, "c1"))["balance"] == {
        "pending": "299",
        "approved": "0",
        "reversed": "701",
    }
    assert (await customer(gql, pid, "c0"))["balance"]["reversed"] == "140"
    assert (await customer(gql, pid, "c2"))["balance"]["reversed"] == "1"
    stats = (await customer(gql, pid, "c1"))["stats"]
    assert (stats["networkRevenue"], stats["qualifiedReferrals"]) == ("2999", 1)

    # No amount: refund the rest. Net 0: everything REVERSED, nothing left to refund.
    full = await refund(gql, pid, "o1")
    assert rows(full) == [
        ("c1", C, 1, "0", "REVERSED"),
        ("c0", C, 2, "0", "REVERSED"),
        ("c2", W, 0, "0", "REVERSED"),
    ]
    assert full["purchase"]["refundedAmount"] == "10000"
    balances = {c: (await customer(gql, pid, c))["balance"] for c in ("c0", "c1", "c2")}
    assert balances == {
        "c0": {"pending": "0", "approved": "0", "reversed": "200"},
        "c1": {"pending": "0", "approved": "0", "reversed": "1000"},
        "c2": {"pending": "0", "approved": "0", "reversed": "3000"},
    }
    stats = (await customer(gql, pid, "c1"))["stats"]
    # c2's spend is 0 now: no longer qualified, no network revenue.
    assert (stats["networkRevenue"], stats["qualifiedReferrals"], stats["networkSize"]) == (
        "0",
        0,
        1,
    )
    assert codes(await refund(gql, pid, "o1")) == [("INVALID_AMOUNT", ["input", "amount"])]


async def test_refund_in_a_two_decimal_currency_rounds_down(gql: GraphQLClient) -> None:
    program = await create_program(gql, currency="USD")
    pid = program["id"]
    await chain(gql, pid, 3)
    assert await paid(gql, pid, "c2", "o1", "10.99") == [("c1", C, 1, "1.09"), ("c0", C, 2, "0.54")]
    # Net 10.49: floor(1.049) = 1.04, floor(0.5245) = 0.52.
    assert rows(await refund(gql, pid, "o1", "0.50")) == [
        ("c1", C, 1, "1.04", "PENDING"),
        ("c0", C, 2, "0.52", "PENDING"),
    ]
    assert codes(await refund(gql, pid, "o1", "0.001")) == [("INVALID_AMOUNT", ["input", "amount"])]
    assert (await customer(gql, pid, "c1"))["balance"]["reversed"] == "0.05"


async def test_a_refund_keeps_the_frozen_rate_and_tier(gql: GraphQLClient) -> None:
    program = await create_program(gql)  # Bronze [0.10, 0.05]; Silver from 2 qualified [0.15, ...]
    pid = program["id"]
    root = await register_ok(gql, pid, "root")
    code = root["referralCodes"][0]["code"]
    for name in ("a", "b"):
        await register_ok(gql, pid, name, code)
    assert await paid(gql, pid, "a", "o1", "1000") == [("root", C, 1, "100")]
    assert await paid(gql, pid, "b", "o2", "1000") == [("root", C, 1, "100")]
    # root is Silver now, but o1's reward keeps Bronze's 0.10 on the net 500.
    assert (await customer(gql, pid, "root"))["stats"]["tier"] == "Silver"
    payload = await refund(gql, pid, "o1", "500")
    assert [(r["amount"], r["rate"], r["tier"]) for r in payload["rewards"]] == [
        ("50", "0.10", "Bronze")
    ]
    # A fully refunded purchase leaves a unqualified: root falls back to Bronze.
    await refund(gql, pid, "o1")
    assert (await customer(gql, pid, "root"))["stats"]["tier"] == "Bronze"


async def test_refund_errors(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    pid = program["id"]
    await chain(gql, pid, 2)
    await paid(gql, pid, "c1", "o1", "10000")
    amount = ["input", "amount"]
    assert codes(await refund(gql, pid, "o1", "10001")) == [("REFUND_EXCEEDS_PURCHASE", amount)]
    for bad in ("0", "-1", "1.5"):
        assert codes(await refund(gql, pid, "o1", bad)) == [("INVALID_AMOUNT", amount)], bad
    assert codes(await refund(gql, pid, "nope")) == [("NOT_FOUND", ["input", "orderId"])]
    # None of that changed anything; then 4000 of 10000, and 6001 exceeds what is left.
    assert (await customer(gql, pid, "c0"))["balance"]["pending"] == "1000"
    assert rows(await refund(gql, pid, "o1", "4000")) == [("c0", C, 1, "600", "PENDING")]
    assert codes(await refund(gql, pid, "o1", "6001")) == [("REFUND_EXCEEDS_PURCHASE", amount)]
    rest = await refund(gql, pid, "o1")
    assert rest["purchase"]["refundedAmount"] == "10000"
    assert rows(rest) == [("c0", C, 1, "0", "REVERSED")]


async def test_the_refund_cap_counts_every_commission_whatever_its_status(
    gql: GraphQLClient,
) -> None:
    # Bronze [0.10, 0.05]; cap 12%.
    program = await create_program(gql, maxPayoutRate="0.12")
    pid = program["id"]
    customers = await chain(gql, pid, 3)
    assert await paid(gql, pid, "c2", "o1", "10000") == [("c1", C, 1, "1000"), ("c0", C, 2, "200")]
    erased = await gql.data(ERASE, {"input": {"customerId": customers[1]["id"]}})
    assert erased["eraseCustomer"]["userErrors"] == []
    # Net 5000: c1's reversed commission still takes its 500 of the cap of 600, so c0's
    # floor(250) is cut to 100 (not 250 limited to its current 200); c1's stays at 0.
    assert rows(await refund(gql, pid, "o1", "5000")) == [
        ("c1", C, 1, "0", "REVERSED"),
        ("c0", C, 2, "100", "PENDING"),
    ]


async def test_a_refund_reaches_approved_rewards_too(gql: GraphQLClient) -> None:
    program = await create_program(gql, holdDays=0)
    pid = program["id"]
    await chain(gql, pid, 2)
    await paid(gql, pid, "c1", "o1", "10000", occurredAt="2026-01-01T00:00:00Z")
    settle = "mutation($i: SettleRewardsInput!) { settleRewards(input: $i) { approvedCount } }"
    data = await gql.data(settle, {"i": {"programId": pid, "asOf": "2026-01-02T00:00:00Z"}})
    assert data["settleRewards"]["approvedCount"] == 1
    assert rows(await refund(gql, pid, "o1", "2500")) == [("c0", C, 1, "750", "APPROVED")]
    assert (await customer(gql, pid, "c0"))["balance"] == {
        "pending": "0",
        "approved": "750",
        "reversed": "250",
    }


async def test_replaying_an_order_returns_the_first_result(gql: GraphQLClient) -> None:
    program = await create_program(gql, refereeReward="500")
    pid = program["id"]
    await chain(gql, pid, 3)
    first = await record(gql, pid, "c2", "o1", "10000")
    again = await record(gql, pid, "c2", "o1", "10000", occurredAt="2020-01-01T00:00:00Z")
    assert again == first
    # Nothing new: c1 earned once, c2 had its welcome once.
    assert (await customer(gql, pid, "c1"))["rewards"]["totalCount"] == 1
    assert (await customer(gql, pid, "c2"))["rewards"]["totalCount"] == 1
    stats = (await customer(gql, pid, "c1"))["stats"]
    assert stats["networkRevenue"] == "10000"
    # After a refund the replay shows the purchase as it stands.
    await refund(gql, pid, "o1", "5000")
    replay = await record(gql, pid, "c2", "o1", "10000")
    assert replay["purchase"]["id"] == first["purchase"]["id"]
    assert replay["purchase"]["refundedAmount"] == "5000"
    assert [r["id"] for r in replay["rewards"]] == [r["id"] for r in first["rewards"]]
    # Net 5000: c1 500, c0 250; the welcome stays min(500, 5000).
    assert [r["amount"] for r in replay["rewards"]] == ["500", "250", "500"]


@pytest.mark.parametrize(("who", "amount"), [("c2", "10001"), ("c1", "10000"), ("c0", "1")])
async def test_order_conflict(gql: GraphQLClient, who: str, amount: str) -> None:
    program = await create_program(gql)
    pid = program["id"]
    await chain(gql, pid, 3)
    await paid(gql, pid, "c2", "o1", "10000")
    payload = await record(gql, pid, who, "o1", amount)
    assert codes(payload) == [("ORDER_CONFLICT", ["input", "orderId"])]
    assert payload["purchase"] is None
    assert (await customer(gql, pid, "c1"))["stats"]["networkRevenue"] == "10000"
    assert (await customer(gql, pid, "c0"))["rewards"]["totalCount"] == 1


async def test_concurrent_refunds_never_refund_more_than_the_purchase(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    pid = program["id"]
    await chain(gql, pid, 2)
    await paid(gql, pid, "c1", "o1", "10000")
    first, second = await asyncio.gather(
        refund(gql, pid, "o1", "6000"), refund(gql, pid, "o1", "6000")
    )
    assert sorted([codes(first), codes(second)]) == [
        [],
        [("REFUND_EXCEEDS_PURCHASE", ["input", "amount"])],
    ]
    # The second saw the first's refund: 4000 is left, and the reward is on that net.
    assert (await customer(gql, pid, "c0"))["balance"] == {
        "pending": "400",
        "approved": "0",
        "reversed": "600",
    }


async def test_a_purchase_dated_more_than_five_minutes_ahead_is_refused(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    pid = program["id"]
    await chain(gql, pid, 2)
    ahead = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    payload = await record(gql, pid, "c1", "o1", "10000", occurredAt=ahead)
    assert payload["purchase"] is None
    assert codes(payload) == [("INVALID_INPUT", ["input", "occurredAt"])]
    # Within the clock skew it is recorded.
    soon = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
    assert (await record(gql, pid, "c1", "o1", "10000", occurredAt=soon))["purchase"] is not None


# --- refundId: a refund's idempotency key --------------------------------------------------

SERVER_TOKEN = "refund-retries-admin-token-0123456789"


@pytest.fixture
async def two_workers(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The base URL of `rujuk serve --workers 2` on this test's database."""
    async with running_server(database_url, SERVER_TOKEN, tmp_path, workers=2) as base:
        yield base


async def refund_over_its_own_connection(base: str, refund_input: dict[str, Any]) -> Any:
    """A refundPurchase payload, sent by a client of its own (a connection of its own)."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as own:
        data = await GraphQLClient(own, SERVER_TOKEN).data(REFUND, {"input": refund_input})
    return data["refundPurchase"]


async def test_a_refund_sent_by_twenty_clients_at_once_is_applied_once(
    two_workers: str, database_url: str
) -> None:
    """A partner's retries after a timeout reach both workers at once."""
    async with httpx.AsyncClient(base_url=two_workers, timeout=60) as setup:
        gql = GraphQLClient(setup, SERVER_TOKEN)
        program = await create_program(gql, refereeReward="25000")
        pid = program["id"]
        await chain(gql, pid, 3)
        assert await paid(gql, pid, "c2", "INV-1001", "250000") == [
            ("c1", C, 1, "25000"),
            ("c0", C, 2, "12500"),
            ("c2", W, 0, "25000"),
        ]
        refund_input = {
            "programId": pid,
            "orderId": "INV-1001",
            "refundId": "RF-1001-1",
            "amount": "50000",
        }
        answers = await asyncio.gather(
            *(refund_over_its_own_connection(two_workers, refund_input) for _ in range(20))
        )
        assert all(a == answers[0] for a in answers)
        # Net 200000: c1 20000, c0 10000; the welcome stays min(25000, 200000).
        assert answers[0]["purchase"]["refundedAmount"] == "50000"
        assert rows(answers[0]) == [
            ("c1", C, 1, "20000", "PENDING"),
            ("c0", C, 2, "10000", "PENDING"),
            ("c2", W, 0, "25000", "PENDING"),
        ]
        stats = (await customer(gql, pid, "c1"))["stats"]
        assert stats["networkRevenue"] == "200000"
    conn = await connect(database_url)
    try:
        refunded = await conn.fetchval(
            "SELECT refunded_amount FROM purchase WHERE program_id = $1 AND order_id = $2",
            local_id(pid, "Program"),
            "INV-1001",
        )
        entries = await conn.fetchval("SELECT count(*) FROM reward_entry WHERE kind = 'REFUND'")
    finally:
        await conn.close()
    assert refunded == 50000
    assert entries == 2  # c1's and c0's commissions changed once each


async def test_a_retried_refund_returns_the_purchase_as_it_stands(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    pid = program["id"]
    await chain(gql, pid, 2)
    await paid(gql, pid, "c1", "o1", "10000")
    first = await refund(gql, pid, "o1", "1000", refund_id="r1")
    assert rows(first) == [("c0", C, 1, "900", "PENDING")]
    # The same refund again, with its amount or without: the same answer, nothing refunded.
    assert await refund(gql, pid, "o1", "1000", refund_id="r1") == first
    assert await refund(gql, pid, "o1", refund_id="r1") == first
    # After another refund, the retry of the first shows the purchase as it is now.
    second = await refund(gql, pid, "o1", "2000", refund_id="r2")
    assert second["purchase"]["refundedAmount"] == "3000"
    assert await refund(gql, pid, "o1", "1000", refund_id="r1") == second
    # The rest, without an amount: its retry matches what it refunded then (7000).
    rest = await refund(gql, pid, "o1", refund_id="r3")
    assert rows(rest) == [("c0", C, 1, "0", "REVERSED")]
    assert await refund(gql, pid, "o1", "7000", refund_id="r3") == rest
    assert await refund(gql, pid, "o1", refund_id="r3") == rest
    assert (await customer(gql, pid, "c0"))["balance"]["reversed"] == "1000"


async def test_a_refund_id_reused_for_another_order_or_amount_is_a_conflict(
    gql: GraphQLClient,
) -> None:
    program = await create_program(gql)
    pid = program["id"]
    await chain(gql, pid, 2)
    await paid(gql, pid, "c1", "o1", "10000")
    await paid(gql, pid, "c1", "o2", "10000")
    assert codes(await refund(gql, pid, "o1", "1000", refund_id="r1")) == []
    conflict = [("REFUND_CONFLICT", ["input", "refundId"])]
    for order, amount in [("o1", "999"), ("o1", "2000"), ("o2", "1000"), ("o2", None)]:
        payload = await refund(gql, pid, order, amount, refund_id="r1")
        assert codes(payload) == conflict, (order, amount)
        assert payload["purchase"] is None
    # An order that does not exist under a used refundId conflicts as well.
    assert codes(await refund(gql, pid, "nope", "1000", refund_id="r1")) == conflict
    # Nothing moved: o1 refunded 1000 once, o2 not at all.
    assert (await customer(gql, pid, "c0"))["balance"] == {
        "pending": "1900",
        "approved": "0",
        "reversed": "100",
    }
    # refundIds are per program: another program may use r1 for its own refund.
    other = await create_program(gql, name="Other")
    await chain(gql, other["id"], 2)
    await paid(gql, other["id"], "c1", "o1", "10000")
    assert codes(await refund(gql, other["id"], "o1", "5000", refund_id="r1")) == []


async def test_a_failed_refund_leaves_its_refund_id_unused(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    pid = program["id"]
    await chain(gql, pid, 2)
    await paid(gql, pid, "c1", "o1", "10000")
    amount = ["input", "amount"]
    assert codes(await refund(gql, pid, "o1", "10001", refund_id="r1")) == [
        ("REFUND_EXCEEDS_PURCHASE", amount)
    ]
    assert codes(await refund(gql, pid, "o9", "100", refund_id="r1")) == [
        ("NOT_FOUND", ["input", "orderId"])
    ]
    assert rows(await refund(gql, pid, "o1", "10000", refund_id="r1")) == [
        ("c0", C, 1, "0", "REVERSED")
    ]


@pytest.mark.parametrize("refund_id", ["", "   ", " r1", "r\x001", "r" * 201])
async def test_malformed_refund_ids_are_invalid_input(gql: GraphQLClient, refund_id: str) -> None:
    program = await create_program(gql)
    pid = program["id"]
    await chain(gql, pid, 2)
    await paid(gql, pid, "c1", "o1", "10000")
    payload = await refund(gql, pid, "o1", "100", refund_id=refund_id)
    assert codes(payload) == [("INVALID_INPUT", ["input", "refundId"])]
    assert (await customer(gql, pid, "c0"))["balance"]["reversed"] == "0"


async def test_a_refund_without_a_refund_id_is_refused(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    pid = program["id"]
    await chain(gql, pid, 2)
    await paid(gql, pid, "c1", "o1", "10000")
    variables = {"input": {"programId": pid, "orderId": "o1", "amount": "100"}}
    assert await gql.error_code(REFUND, variables) == "BAD_USER_INPUT"
    assert (await customer(gql, pid, "c0"))["balance"]["reversed"] == "0"
