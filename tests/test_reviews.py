"""settleRewards, reviewReferral and eraseCustomer, hand-computed from rewards.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rujuk.ids import to_global_id
from tests.fixtures import chain, create_program, register, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import ERASE, RECORD, REFUND, REVIEW, SETTLE, customer, paid, record, refund

C = "REFERRER_COMMISSION"
W = "REFEREE_WELCOME"

CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { token userErrors { code } }
}
"""


def now() -> str:
    """The latest asOf a settlement takes: the hold is never skipped."""
    return datetime.now(UTC).isoformat()


async def settle(gql: GraphQLClient, program_id: str, as_of: str) -> tuple[int, str]:
    data = await gql.data(SETTLE, {"input": {"programId": program_id, "asOf": as_of}})
    payload = data["settleRewards"]
    assert payload["userErrors"] == []
    return payload["approvedCount"], payload["approvedAmount"]


async def review(gql: GraphQLClient, referral_id: str, decision: str) -> dict[str, Any]:
    data = await gql.data(REVIEW, {"input": {"referralId": referral_id, "decision": decision}})
    payload: dict[str, Any] = data["reviewReferral"]
    return payload


async def rewards_of(gql: GraphQLClient, program_id: str, external_id: str) -> list[Any]:
    """(orderId, kind, level, amount, status) of a customer's rewards, oldest first."""
    found = await customer(gql, program_id, external_id)
    return sorted(
        (
            e["node"]["purchase"]["orderId"],
            e["node"]["kind"],
            e["node"]["level"],
            e["node"]["amount"],
            e["node"]["status"],
        )
        for e in found["rewards"]["edges"]
    )


async def test_settle_approves_what_is_available_by_as_of(gql: GraphQLClient) -> None:
    program = await create_program(gql, holdDays=7)
    pid = program["id"]
    await chain(gql, pid, 2)
    await paid(gql, pid, "c1", "o1", "10000", occurredAt="2026-11-01T10:00:00+07:00")
    # availableAt = 2026-11-08T03:00:00Z.
    assert await settle(gql, pid, "2026-11-08T02:59:59Z") == (0, "0")
    assert (await customer(gql, pid, "c0"))["balance"]["pending"] == "1000"
    assert await settle(gql, pid, "2026-11-08T10:00:00+07:00") == (1, "1000")
    assert await settle(gql, pid, "2026-11-09T00:00:00Z") == (0, "0")
    assert (await customer(gql, pid, "c0"))["balance"] == {
        "pending": "0",
        "approved": "1000",
        "reversed": "0",
    }
    assert await rewards_of(gql, pid, "c0") == [("o1", C, 1, "1000", "APPROVED")]


async def flagged_chain(gql: GraphQLClient, program_id: str) -> dict[str, str]:
    """c0 <- c1 (FLAGGED: shares the decoy's device) <- c2 <- c3; each link's referral id."""
    await register_ok(gql, program_id, "decoy", deviceId="dev-decoy")
    c0 = await register_ok(gql, program_id, "c0", deviceId="dev-c0")
    links: dict[str, str] = {}
    upline = c0
    for name, device in (("c1", "dev-decoy"), ("c2", "dev-c2"), ("c3", "dev-c3")):
        payload = await register(
            gql, program_id, name, upline["referralCodes"][0]["code"], deviceId=device
        )
        assert payload["userErrors"] == []
        expected = "FLAGGED" if name == "c1" else "ACTIVE"
        assert payload["referral"]["status"] == expected
        links[name] = payload["referral"]["id"]
        upline = payload["customer"]
    return links


async def test_rewards_behind_a_flagged_link_are_held(gql: GraphQLClient) -> None:
    tiers = [{"name": "A", "levelRates": ["0.10", "0.05", "0.02"]}]
    program = await create_program(gql, tiers=tiers, refereeReward="100", holdDays=0)
    pid = program["id"]
    links = await flagged_chain(gql, pid)
    # c3 buys: c2 and c1 are reached without crossing c1's link; c0 only across it.
    assert await paid(gql, pid, "c3", "o1", "10000", occurredAt="2026-01-01T00:00:00Z") == [
        ("c2", C, 1, "1000"),
        ("c1", C, 2, "500"),
        ("c0", C, 3, "200"),
        ("c3", W, 0, "100"),
    ]
    # c1 buys: its own link is FLAGGED, so its welcome is held too.
    assert await paid(gql, pid, "c1", "o2", "1000", occurredAt="2026-01-01T00:00:00Z") == [
        ("c0", C, 1, "100"),
        ("c1", W, 0, "100"),
    ]
    assert await settle(gql, pid, now()) == (3, "1600")
    assert await rewards_of(gql, pid, "c0") == [
        ("o1", C, 3, "200", "PENDING"),
        ("o2", C, 1, "100", "PENDING"),
    ]
    assert await rewards_of(gql, pid, "c1") == [
        ("o1", C, 2, "500", "APPROVED"),
        ("o2", W, 0, "100", "PENDING"),
    ]
    # Approved on review: held rewards settle like any other.
    assert (await review(gql, links["c1"], "APPROVE"))["referral"]["status"] == "ACTIVE"
    assert await settle(gql, pid, "2025-12-31T00:00:00Z") == (0, "0")
    assert await settle(gql, pid, now()) == (3, "400")
    assert (await customer(gql, pid, "c0"))["balance"]["approved"] == "300"


async def test_rejecting_a_flagged_link_reverses_what_it_held(gql: GraphQLClient) -> None:
    tiers = [{"name": "A", "levelRates": ["0.10", "0.05", "0.02"]}]
    program = await create_program(gql, tiers=tiers, refereeReward="100", holdDays=0)
    pid = program["id"]
    links = await flagged_chain(gql, pid)
    await paid(gql, pid, "c3", "o1", "10000")
    await paid(gql, pid, "c1", "o2", "1000")
    assert (await review(gql, links["c1"], "REJECT"))["referral"]["status"] == "REJECTED"
    # Crossing c1's link: c0's two commissions and c1's welcome. c2, c1 (o1) and c3 keep theirs.
    assert await rewards_of(gql, pid, "c0") == [
        ("o1", C, 3, "0", "REVERSED"),
        ("o2", C, 1, "0", "REVERSED"),
    ]
    assert await rewards_of(gql, pid, "c1") == [
        ("o1", C, 2, "500", "PENDING"),
        ("o2", W, 0, "0", "REVERSED"),
    ]
    assert await settle(gql, pid, now()) == (3, "1600")
    payload = await review(gql, links["c1"], "APPROVE")
    assert payload["referral"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_INPUT"]


async def test_reject_reverses_pending_rewards_and_cuts_the_subtree(gql: GraphQLClient) -> None:
    # Bronze [0.10, 0.05]; Silver from 2 qualified referrals.
    program = await create_program(gql, refereeReward="500", holdDays=0)
    pid = program["id"]
    c0, c1, _ = await chain(gql, pid, 3)
    d = await register(gql, pid, "d", c0["referralCodes"][0]["code"])
    assert d["userErrors"] == []
    link = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "c1") { referral { id } } }',
        {"p": pid},
    )
    c1_link = link["customer"]["referral"]["id"]
    jan, feb = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"
    assert await paid(gql, pid, "c2", "o1", "1000", occurredAt=jan) == [
        ("c1", C, 1, "100"),
        ("c0", C, 2, "50"),
        ("c2", W, 0, "500"),
    ]
    assert await settle(gql, pid, "2026-01-02T00:00:00Z") == (3, "650")
    assert await paid(gql, pid, "d", "o2", "1000", occurredAt=feb) == [
        ("c0", C, 1, "100"),
        ("d", W, 0, "500"),
    ]
    assert await paid(gql, pid, "c2", "o3", "2000", occurredAt=feb) == [
        ("c1", C, 1, "200"),
        ("c0", C, 2, "100"),
    ]
    assert await paid(gql, pid, "c1", "o4", "1000", occurredAt=feb) == [
        ("c0", C, 1, "100"),
        ("c1", W, 0, "500"),
    ]
    before = (await customer(gql, pid, "c0"))["stats"]
    assert before == {
        "directReferrals": 2,
        "qualifiedReferrals": 2,
        "networkSize": 3,
        "networkRevenue": "5000",
        "influence": 2.5,
        "tier": "Silver",
        "depth": 0,
    }

    assert (await review(gql, c1_link, "REJECT"))["referral"]["status"] == "REJECTED"
    # PENDING rewards whose path crosses c1's link are reversed; APPROVED ones stay.
    assert await rewards_of(gql, pid, "c0") == [
        ("o1", C, 2, "50", "APPROVED"),
        ("o2", C, 1, "100", "PENDING"),
        ("o3", C, 2, "0", "REVERSED"),
        ("o4", C, 1, "0", "REVERSED"),
    ]
    assert await rewards_of(gql, pid, "c1") == [
        ("o1", C, 1, "100", "APPROVED"),
        ("o3", C, 1, "200", "PENDING"),
        ("o4", W, 0, "0", "REVERSED"),
    ]
    assert (await customer(gql, pid, "c0"))["balance"] == {
        "pending": "100",
        "approved": "50",
        "reversed": "200",
    }
    # The subtree left c0's effective tree; the structural tree is unchanged.
    assert (await customer(gql, pid, "c0"))["stats"] == {
        "directReferrals": 1,
        "qualifiedReferrals": 1,
        "networkSize": 1,
        "networkRevenue": "1000",
        "influence": 1.0,
        "tier": "Bronze",
        "depth": 0,
    }
    c1_stats = (await customer(gql, pid, "c1"))["stats"]
    assert (c1_stats["depth"], c1_stats["networkSize"], c1_stats["networkRevenue"]) == (
        1,
        1,
        "3000",
    )
    assert (await customer(gql, pid, "c2"))["stats"]["depth"] == 2
    # No more commissions across it, and a rejected referee has no welcome to get.
    assert await paid(gql, pid, "c2", "o5", "1000") == [("c1", C, 1, "100")]
    await register_ok(gql, pid, "e", c1["referralCodes"][0]["code"])
    assert await paid(gql, pid, "e", "o6", "1000") == [
        ("c1", C, 1, "100"),
        ("e", W, 0, "500"),
    ]
    assert await paid(gql, pid, "c1", "o7", "1000") == []
    # A rejected link cannot be approved again.
    payload = await review(gql, c1_link, "APPROVE")
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_INPUT"]
    assert (await customer(gql, pid, "c0"))["stats"]["networkSize"] == 1


async def test_erasure(gql: GraphQLClient) -> None:
    program = await create_program(gql, holdDays=0)
    pid = program["id"]
    c0 = await register_ok(gql, pid, "c0")
    c1 = await register_ok(
        gql,
        pid,
        "c1",
        c0["referralCodes"][0]["code"],
        email="budi@example.com",
        phone="0812-3456-7890",
        deviceId="dev-budi",
    )
    await register_ok(gql, pid, "c2", c1["referralCodes"][0]["code"])
    code = c1["referralCodes"][0]["code"]
    await paid(gql, pid, "c2", "o1", "1000", occurredAt="2026-01-01T00:00:00Z")
    assert await settle(gql, pid, "2026-01-02T00:00:00Z") == (2, "150")
    await paid(gql, pid, "c2", "o2", "1000", occurredAt="2026-02-01T00:00:00Z")

    data = await gql.data(ERASE, {"input": {"customerId": c1["id"]}})
    assert data["eraseCustomer"] == {
        "customer": {"id": c1["id"], "displayName": "Erased customer", "email": None},
        "userErrors": [],
    }
    found = await gql.data(
        "query($id: ID!) { node(id: $id) { ... on Customer { displayName email phone } } }",
        {"id": c1["id"]},
    )
    assert found["node"] == {"displayName": "Erased customer", "email": None, "phone": None}
    # Its PENDING rewards are reversed; the APPROVED one stays.
    assert await rewards_of(gql, pid, "c1") == [
        ("o1", C, 1, "100", "APPROVED"),
        ("o2", C, 1, "0", "REVERSED"),
    ]
    # Its codes stop working.
    looked_up = await gql.as_token(None).data(
        "query($c: String!) { referralCode(code: $c) { active } }", {"c": code}
    )
    assert looked_up["referralCode"] == {"active": False}
    refused = await register(gql, pid, "late", code)
    assert [e["code"] for e in refused["userErrors"]] == ["INVALID_CODE"]
    # Its device is wiped: sharing it is no longer a signal.
    clean = await register(gql, pid, "new", c0["referralCodes"][0]["code"], deviceId="dev-budi")
    assert (clean["referral"]["status"], clean["referral"]["fraudSignals"]) == ("ACTIVE", [])
    # It keeps its place in the tree, and earns nothing (compression off: its level is used up).
    ancestors = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "c2") { ancestors { externalId } } }',
        {"p": pid},
    )
    assert ancestors["customer"]["ancestors"] == [{"externalId": "c1"}, {"externalId": "c0"}]
    assert (await customer(gql, pid, "c2"))["stats"]["depth"] == 2
    assert (await customer(gql, pid, "c0"))["stats"]["networkSize"] == 3
    assert await paid(gql, pid, "c2", "o3", "1000") == [("c0", C, 2, "50")]
    # Erasing again changes nothing.
    again = await gql.data(ERASE, {"input": {"customerId": c1["id"]}})
    assert again["eraseCustomer"]["userErrors"] == []
    assert (await customer(gql, pid, "c1"))["balance"] == {
        "pending": "0",
        "approved": "100",
        "reversed": "100",
    }


async def test_unknown_program_customer_order_and_referral(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    pid = program["id"]
    await chain(gql, pid, 2)
    nowhere = to_global_id("Program", 987654)
    payload = await record(gql, nowhere, "c1", "o1", "1000")
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("UNKNOWN_PROGRAM", ["input", "programId"])
    ]
    assert [e["code"] for e in (await refund(gql, nowhere, "o1"))["userErrors"]] == [
        "UNKNOWN_PROGRAM"
    ]
    data = await gql.data(SETTLE, {"input": {"programId": nowhere}})
    assert [e["code"] for e in data["settleRewards"]["userErrors"]] == ["UNKNOWN_PROGRAM"]
    payload = await record(gql, pid, "nobody", "o1", "1000")
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("UNKNOWN_CUSTOMER", ["input", "customerExternalId"])
    ]
    data = await gql.data(ERASE, {"input": {"customerId": to_global_id("Customer", 987654)}})
    assert [e["code"] for e in data["eraseCustomer"]["userErrors"]] == ["UNKNOWN_CUSTOMER"]
    payload = await review(gql, to_global_id("Referral", 987654), "REJECT")
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
    # The failed purchase left nothing behind: the same orderId is still free.
    assert await paid(gql, pid, "c1", "o1", "1000") == [("c0", C, 1, "100")]


async def test_a_partner_of_another_program_is_forbidden(gql: GraphQLClient) -> None:
    mine = await create_program(gql, name="Mine")
    theirs = await create_program(gql, name="Theirs")
    await chain(gql, mine["id"], 2)
    customers = await chain(gql, theirs["id"], 2)
    await paid(gql, theirs["id"], "c1", "o1", "1000")
    link = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "c1") { referral { id } } }',
        {"p": theirs["id"]},
    )
    data = await gql.data(
        CREATE_TOKEN, {"input": {"role": "PARTNER", "programId": mine["id"], "label": "mine"}}
    )
    partner = gql.as_token(data["createApiToken"]["token"])
    attempts: list[tuple[str, dict[str, Any]]] = [
        (
            RECORD,
            {
                "input": {
                    "programId": theirs["id"],
                    "customerExternalId": "c1",
                    "orderId": "o2",
                    "amount": "1000",
                }
            },
        ),
        (REFUND, {"input": {"programId": theirs["id"], "orderId": "o1", "refundId": "r1"}}),
        (SETTLE, {"input": {"programId": theirs["id"]}}),
        (
            REVIEW,
            {"input": {"referralId": link["customer"]["referral"]["id"], "decision": "REJECT"}},
        ),
        (ERASE, {"input": {"customerId": customers[0]["id"]}}),
    ]
    for query, variables in attempts:
        assert await partner.error_code(query, variables) == "FORBIDDEN", query
    # Nothing changed in their program; the partner works in its own.
    assert (await customer(gql, theirs["id"], "c0"))["balance"]["pending"] == "100"
    assert await paid(partner, mine["id"], "c1", "o1", "1000") == [("c0", C, 1, "100")]


async def test_a_rejected_link_cannot_be_rejected_again(gql: GraphQLClient) -> None:
    program = await create_program(gql, holdDays=0)
    pid = program["id"]
    links = await flagged_chain(gql, pid)
    assert (await review(gql, links["c1"], "REJECT"))["referral"]["status"] == "REJECTED"
    again = await review(gql, links["c1"], "REJECT")
    assert again["referral"] is None
    assert [(e["code"], e["field"]) for e in again["userErrors"]] == [
        ("INVALID_INPUT", ["input", "decision"])
    ]


async def test_settling_ahead_of_now_is_refused_for_every_role(gql: GraphQLClient) -> None:
    """The hold is the refund window: no caller approves a reward before its time."""
    program = await create_program(gql, refereeReward="500")
    pid = program["id"]
    await chain(gql, pid, 2)
    await paid(gql, pid, "c1", "o1", "10000")  # available in 14 days
    token = await gql.data(
        CREATE_TOKEN, {"input": {"role": "PARTNER", "programId": pid, "label": "shop"}}
    )
    partner = gql.as_token(token["createApiToken"]["token"])
    soon = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    for caller in (gql, partner):
        for ahead in ("2099-01-01T00:00:00Z", soon):
            data = await caller.data(SETTLE, {"input": {"programId": pid, "asOf": ahead}})
            assert data["settleRewards"] == {
                "approvedCount": 0,
                "approvedAmount": "0",
                "userErrors": [{"code": "INVALID_INPUT", "field": ["input", "asOf"]}],
            }
    for name in ("c0", "c1"):
        assert (await customer(gql, pid, name))["balance"]["approved"] == "0"
    # Up to now is allowed, and approves nothing while the hold runs.
    assert await settle(gql, pid, now()) == (0, "0")
    assert await settle(partner, pid, "2026-01-01T00:00:00+07:00") == (0, "0")
