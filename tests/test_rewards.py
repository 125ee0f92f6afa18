"""recordPurchase: multi-level tiered commissions, hand-computed from rewards.md."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures import chain, create_program, register, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import ERASE, customer, paid, record

C = "REFERRER_COMMISSION"
W = "REFEREE_WELCOME"


async def test_commissions_follow_the_levels_of_each_ancestors_tier(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    await chain(gql, program["id"], 4)
    # Everyone is Bronze [0.10, 0.05]; c0 is at level 3, past Bronze's rates.
    assert await paid(gql, program["id"], "c3", "o1", "100000") == [
        ("c2", C, 1, "10000"),
        ("c1", C, 2, "5000"),
    ]


async def test_reward_fields(gql: GraphQLClient) -> None:
    program = await create_program(gql, holdDays=7)
    await chain(gql, program["id"], 2)
    payload = await record(
        gql, program["id"], "c1", "o1", "50000", occurredAt="2026-11-01T10:00:00+07:00"
    )
    [reward] = payload["rewards"]
    assert reward["rate"] == "0.10"
    assert reward["tier"] == "Bronze"
    assert reward["status"] == "PENDING"
    assert reward["availableAt"] == "2026-11-08T03:00:00+00:00"
    assert payload["purchase"]["amount"] == "50000"
    assert payload["purchase"]["refundedAmount"] == "0"


async def test_tiers_are_read_before_the_purchase_counts(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    root = await register_ok(gql, program["id"], "root")
    code = root["referralCodes"][0]["code"]
    await register_ok(gql, program["id"], "a", code)
    await register_ok(gql, program["id"], "b", code)
    assert await paid(gql, program["id"], "a", "o1", "1000") == [("root", C, 1, "100")]
    # b's purchase makes root's second qualified referral: it still pays at Bronze.
    assert await paid(gql, program["id"], "b", "o2", "1000") == [("root", C, 1, "100")]
    assert (await customer(gql, program["id"], "root"))["stats"]["tier"] == "Silver"
    assert await paid(gql, program["id"], "a", "o3", "1000") == [("root", C, 1, "150")]


async def test_network_revenue_threshold_promotes(gql: GraphQLClient) -> None:
    tiers = [
        {"name": "Basic", "levelRates": ["0.01"]},
        {"name": "Gold", "minNetworkRevenue": "500000", "levelRates": ["0.02"]},
    ]
    program = await create_program(gql, tiers=tiers)
    await chain(gql, program["id"], 3)
    assert await paid(gql, program["id"], "c2", "o1", "500000") == [("c1", C, 1, "5000")]
    stats = (await customer(gql, program["id"], "c0"))["stats"]
    assert (stats["networkRevenue"], stats["tier"]) == ("500000", "Gold")
    assert await paid(gql, program["id"], "c1", "o2", "100000") == [("c0", C, 1, "2000")]


async def test_cap_cuts_from_the_deepest_level(gql: GraphQLClient) -> None:
    program = await create_program(gql, maxPayoutRate="0.12")
    await chain(gql, program["id"], 3)
    assert await paid(gql, program["id"], "c2", "o1", "1000") == [
        ("c1", C, 1, "100"),
        ("c0", C, 2, "20"),
    ]


async def test_a_level_cut_to_zero_records_no_reward(gql: GraphQLClient) -> None:
    program = await create_program(gql, maxPayoutRate="0.10")
    await chain(gql, program["id"], 3)
    assert await paid(gql, program["id"], "c2", "o1", "1000") == [("c1", C, 1, "100")]


async def test_zero_rate_records_no_reward(gql: GraphQLClient) -> None:
    program = await create_program(gql, tiers=[{"name": "A", "levelRates": ["0", "0.05"]}])
    await chain(gql, program["id"], 3)
    assert await paid(gql, program["id"], "c2", "o1", "1000") == [("c0", C, 2, "50")]


async def test_rewards_round_down_to_the_currency_unit(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    await chain(gql, program["id"], 3)
    assert await paid(gql, program["id"], "c2", "o1", "999") == [
        ("c1", C, 1, "99"),
        ("c0", C, 2, "49"),
    ]
    usd = await create_program(gql, currency="USD")
    await chain(gql, usd["id"], 3)
    assert await paid(gql, usd["id"], "c2", "o1", "10.99") == [
        ("c1", C, 1, "1.09"),
        ("c0", C, 2, "0.54"),
    ]


@pytest.mark.parametrize(
    ("currency", "amount"),
    [("IDR", "100.5"), ("IDR", "0"), ("IDR", "-5"), ("USD", "1.001"), ("JPY", "1.5")],
)
async def test_invalid_amounts(gql: GraphQLClient, currency: str, amount: str) -> None:
    program = await create_program(gql, currency=currency)
    await chain(gql, program["id"], 2)
    payload = await record(gql, program["id"], "c1", "o1", amount)
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID_AMOUNT", ["input", "amount"])
    ]
    assert (await customer(gql, program["id"], "c0"))["rewards"]["totalCount"] == 0


async def test_welcome_reward_on_the_first_purchase_only(gql: GraphQLClient) -> None:
    program = await create_program(gql, refereeReward="25000")
    await chain(gql, program["id"], 2)
    assert await paid(gql, program["id"], "c1", "o1", "10000") == [
        ("c0", C, 1, "1000"),
        ("c1", W, 0, "10000"),
    ]
    assert await paid(gql, program["id"], "c1", "o2", "300000") == [("c0", C, 1, "30000")]
    # A root has no referrer: no welcome.
    assert await paid(gql, program["id"], "c0", "o3", "300000") == []


async def test_welcome_reward_is_outside_the_cap(gql: GraphQLClient) -> None:
    program = await create_program(gql, refereeReward="500", maxPayoutRate="0.05")
    await chain(gql, program["id"], 2)
    assert await paid(gql, program["id"], "c1", "o1", "1000") == [
        ("c0", C, 1, "50"),
        ("c1", W, 0, "500"),
    ]


async def erase(gql: GraphQLClient, program_id: str, external_id: str) -> None:
    found = await gql.data(
        "query($p: ID!, $e: String!) { customer(programId: $p, externalId: $e) { id } }",
        {"p": program_id, "e": external_id},
    )
    data = await gql.data(ERASE, {"input": {"customerId": found["customer"]["id"]}})
    assert data["eraseCustomer"]["userErrors"] == []
    assert data["eraseCustomer"]["customer"]["displayName"] == "Erased customer"


@pytest.mark.parametrize(
    ("compression", "expected"),
    [
        (False, [("c1", C, 2, "5000")]),
        (True, [("c1", C, 1, "10000"), ("c0", C, 2, "5000")]),
    ],
)
async def test_erased_ancestors_with_and_without_compression(
    gql: GraphQLClient, compression: bool, expected: list[Any]
) -> None:
    program = await create_program(gql, compression=compression)
    await chain(gql, program["id"], 4)
    await erase(gql, program["id"], "c2")
    assert await paid(gql, program["id"], "c3", "o1", "100000") == expected


async def test_erasure_reverses_pending_rewards_and_stops_earning(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    await chain(gql, program["id"], 2)
    await paid(gql, program["id"], "c1", "o1", "100000")
    await erase(gql, program["id"], "c0")
    balance = (await customer(gql, program["id"], "c0"))["balance"]
    assert balance == {"pending": "0", "approved": "0", "reversed": "10000"}
    assert await paid(gql, program["id"], "c1", "o2", "100000") == []


async def test_flagged_links_hold_rewards_until_approved(gql: GraphQLClient) -> None:
    program = await create_program(gql, refereeReward="1000", holdDays=0)
    c0 = await register_ok(gql, program["id"], "c0", deviceId="dev-1")
    code = c0["referralCodes"][0]["code"]
    await register_ok(gql, program["id"], "other", deviceId="dev-2")
    flagged = await register(gql, program["id"], "c1", code, deviceId="dev-2")
    assert flagged["referral"]["status"] == "FLAGGED"
    assert flagged["referral"]["fraudSignals"] == ["SHARED_DEVICE"]
    await paid(gql, program["id"], "c1", "o1", "10000")
    settle = {"input": {"programId": program["id"]}}
    from tests.ledger import REVIEW, SETTLE

    held = await gql.data(SETTLE, settle)
    assert held["settleRewards"]["approvedCount"] == 0
    review = await gql.data(
        REVIEW, {"input": {"referralId": flagged["referral"]["id"], "decision": "APPROVE"}}
    )
    assert review["reviewReferral"]["referral"]["status"] == "ACTIVE"
    approved = await gql.data(SETTLE, settle)
    assert approved["settleRewards"]["approvedCount"] == 2
    assert approved["settleRewards"]["approvedAmount"] == "2000"
    assert (await customer(gql, program["id"], "c0"))["balance"]["approved"] == "1000"
