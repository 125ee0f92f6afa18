"""Program.stats over half-open ranges, by channel, with roi null when nothing was paid."""

from __future__ import annotations

from typing import Any

from tests.fixtures import create_program, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import REVIEW, paid, refund

STATS = """
query($p: ID!, $from: DateTime, $to: DateTime) {
  program(id: $p) {
    stats(from: $from, to: $to) {
      customers referredCustomers qualifiedReferrals conversionRate revenue referredRevenue
      rewardCost roi kFactor byChannel { channel referrals conversions revenue }
    }
  }
}"""

DAY1 = "2026-10-01T00:00:00+00:00"
DAY2 = "2026-10-02T00:00:00+00:00"
DAY3 = "2026-10-03T00:00:00+00:00"


async def stats(gql: GraphQLClient, program_id: str, start: str | None, end: str | None) -> Any:
    data = await gql.data(STATS, {"p": program_id, "from": start, "to": end})
    found: Any = data["program"]["stats"]
    return found


async def scenario(gql: GraphQLClient) -> str:
    """root (day 1) refers w1 (WhatsApp, day 1), t1 (TikTok, day 2) and t2 (TikTok, day 2)."""
    program = await create_program(gql)
    pid: str = program["id"]
    root = await register_ok(gql, pid, "root", joinedAt="2026-10-01T08:00:00+00:00")
    code = root["referralCodes"][0]["code"]
    for name, channel, joined in [
        ("w1", "WHATSAPP", "2026-10-01T09:00:00+00:00"),
        ("t1", "TIKTOK", "2026-10-02T09:00:00+00:00"),
        ("t2", "TIKTOK", "2026-10-02T10:00:00+00:00"),
    ]:
        await register_ok(gql, pid, name, code, channel=channel, joinedAt=joined)
    await paid(gql, pid, "w1", "o1", "100000", occurredAt="2026-10-01T12:00:00+00:00")
    await paid(gql, pid, "t1", "o2", "50000", occurredAt="2026-10-02T12:00:00+00:00")
    await paid(gql, pid, "root", "o3", "30000", occurredAt="2026-10-02T13:00:00+00:00")
    await refund(gql, pid, "o2", "10000")
    return pid


async def test_all_time(gql: GraphQLClient) -> None:
    pid = await scenario(gql)
    # Rewards: o1 pays root 10000; o2 paid 5000, refunded to net 40000 -> 4000.
    assert await stats(gql, pid, None, None) == {
        "customers": 4,
        "referredCustomers": 3,
        "qualifiedReferrals": 2,
        "conversionRate": 2 / 3,
        "revenue": "170000",
        "referredRevenue": "140000",
        "rewardCost": "14000",
        "roi": (140000 - 14000) / 14000,
        "kFactor": 3 / 4,
        "byChannel": [
            {"channel": "TIKTOK", "referrals": 2, "conversions": 1, "revenue": "40000"},
            {"channel": "WHATSAPP", "referrals": 1, "conversions": 1, "revenue": "100000"},
        ],
    }


async def test_half_open_ranges(gql: GraphQLClient) -> None:
    pid = await scenario(gql)
    day1 = await stats(gql, pid, DAY1, DAY2)
    assert (day1["customers"], day1["referredCustomers"], day1["revenue"]) == (2, 1, "100000")
    assert day1["byChannel"] == [
        {"channel": "WHATSAPP", "referrals": 1, "conversions": 1, "revenue": "100000"}
    ]
    day2 = await stats(gql, pid, DAY2, DAY3)
    assert (day2["customers"], day2["qualifiedReferrals"], day2["revenue"]) == (2, 1, "70000")
    assert (day2["referredRevenue"], day2["rewardCost"]) == ("40000", "4000")


async def test_empty_range_has_no_roi(gql: GraphQLClient) -> None:
    pid = await scenario(gql)
    empty = await stats(gql, pid, DAY3, None)
    assert empty == {
        "customers": 0,
        "referredCustomers": 0,
        "qualifiedReferrals": 0,
        "conversionRate": 0.0,
        "revenue": "0",
        "referredRevenue": "0",
        "rewardCost": "0",
        "roi": None,
        "kFactor": 0.0,
        "byChannel": [],
    }


async def test_rejected_referees_are_not_referred(gql: GraphQLClient) -> None:
    pid = await scenario(gql)
    found = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "w1") { referral { id } } }',
        {"p": pid},
    )
    review = {"referralId": found["customer"]["referral"]["id"], "decision": "REJECT"}
    await gql.data(REVIEW, {"input": review})
    after = await stats(gql, pid, None, None)
    # The rejection reversed root's pending 10000 from o1.
    assert (after["referredCustomers"], after["referredRevenue"], after["rewardCost"]) == (
        2,
        "40000",
        "4000",
    )
