"""Every figure of every program, read over GraphQL: what a restart or a restore must keep.

Customers are read by externalId, which `rujuk demo` numbers demo-00001, demo-00002, ...
"""

from __future__ import annotations

from typing import Any

import httpx

PROGRAM = """
query Program($p: ID!) {
  program(id: $p) {
    name currency maxPayoutRate refereeReward holdDays compression createdAt
    tiers { name minQualifiedReferrals minNetworkRevenue levelRates }
    stats {
      customers referredCustomers qualifiedReferrals conversionRate revenue referredRevenue
      rewardCost roi kFactor byChannel { channel referrals conversions revenue }
    }
  }
  %s
}
"""
LEADERBOARD = (
    "%s: leaderboard(programId: $p, metric: %s, first: 100) { rank score customer { externalId } }"
)
METRICS = ("DIRECT_REFERRALS", "NETWORK_SIZE", "NETWORK_REVENUE", "INFLUENCE", "PAGERANK")
CUSTOMER = '%s: customer(programId: $p, externalId: "%s") { ...Figures }'
FIGURES = (
    "fragment Figures on Customer { externalId displayName channel joinedAt"
    " referrer { externalId } referral { code channel status }"
    " stats { directReferrals qualifiedReferrals networkSize networkRevenue influence tier depth }"
    " balance { pending approved reversed } }"
)
# Aliases per request (the server refuses more than 100, and 2,000 tokens).
CHUNK = 100


async def _post(
    client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def all_figures(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    """Per program ID: its settings and stats, its leaderboards, and every customer's figures."""
    programs = await _post(client, token, "{ programs { id } }", {})
    figures: dict[str, Any] = {}
    for program in programs["programs"]:
        variables = {"p": program["id"]}
        boards = " ".join(LEADERBOARD % (metric.lower(), metric) for metric in METRICS)
        head = await _post(client, token, PROGRAM % boards, variables)
        count = head["program"]["stats"]["customers"]
        customers: dict[str, Any] = {}
        for start in range(0, count, CHUNK):
            aliases = " ".join(
                CUSTOMER % (f"c{n}", f"demo-{n:05d}")
                for n in range(start + 1, min(start + CHUNK, count) + 1)
            )
            customers.update(
                await _post(client, token, f"query($p: ID!) {{ {aliases} }} {FIGURES}", variables)
            )
        assert all(customers.values()), "customers are numbered demo-00001 onwards"
        figures[program["id"]] = {**head, "customers": customers}
    return figures
