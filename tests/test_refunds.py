"""refundPurchase and idempotent recordPurchase, hand-computed from rewards.md."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fixtures import chain, create_program, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import customer, paid, record, refund

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
