"""The bench's rules on/off figure (bench/rules.py): its rules are valid updateProgram input on
the seeded program's tiers, switching off puts the seeded rules back, and the counts it
prints of what each rule did match a ledger whose every figure is computed here by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bench import rules
from bench.seed import TIERS

from rujuk.ids import local_id
from tests.fixtures import create_program, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import paid

WINDOW = 30
RULES = """query($id: ID!) { node(id: $id) { ... on Program {
  rulesVersion minPurchaseAmount commissionWindowDays commissionPurchaseLimit
  monthlyCapPerReferrer milestones { qualifiedReferrals } tiers { levelAmounts } } } }"""


async def switch(gql: GraphQLClient, update: dict[str, Any]) -> int:
    payload = (await gql.data(rules.UPDATE, {"input": update}))["updateProgram"]
    assert payload["userErrors"] == [], payload["userErrors"]
    version: int = payload["program"]["rulesVersion"]
    return version


async def test_the_bench_counts_what_each_rule_did(gql: GraphQLClient, database_url: str) -> None:
    seeded = [
        {
            "name": t.name,
            "minQualifiedReferrals": t.min_qualified_referrals,
            "minNetworkRevenue": str(t.min_network_revenue),
            "levelRates": [str(r) for r in t.level_rates],
        }
        for t in TIERS
    ]
    program = await create_program(gql, tiers=seeded, maxPayoutRate="0.20", refereeReward="25000")
    pid = program["id"]
    root = await register_ok(gql, pid, "r")
    code = root["referralCodes"][0]["code"]
    for name in ("a1", "a2", "a3", "a4", "a5"):
        await register_ok(gql, pid, name, code)
    joined = (datetime.now(UTC) - timedelta(days=WINDOW + 10)).isoformat()
    await register_ok(gql, pid, "b", code, joinedAt=joined)
    assert await switch(gql, rules.rules_on(pid, WINDOW)) == 2

    def commission(amount: str) -> tuple[str, str, int, str]:
        return ("r", "REFERRER_COMMISSION", 1, amount)

    welcome = ("REFEREE_WELCOME", 0, "25000")
    # r in Perunggu (5%): 950,000 of its 1,000,000 a month.
    assert await paid(gql, pid, "a1", "rules-on0-1", "19000000") == [
        commission("950000"),
        ("a1", *welcome),
    ]
    assert await paid(gql, pid, "a2", "rules-on0-2", "100000") == [
        commission("5000"),
        ("a2", *welcome),
    ]
    # The third qualified referee: milestone 3.
    assert await paid(gql, pid, "a3", "rules-on0-3", "100000") == [
        commission("5000"),
        ("a3", *welcome),
        ("r", "MILESTONE_BONUS", 0, "10000"),
    ]
    assert await paid(gql, pid, "a4", "rules-on0-4", "100000") == [
        commission("5000"),
        ("a4", *welcome),
    ]
    assert await paid(gql, pid, "a5", "rules-on0-5", "100000") == [
        commission("5000"),
        ("a5", *welcome),
    ]
    # r is Perak now (5 qualified, 19.4M below it): 7% + 1,000 flat = 71,000, cut to the
    # 30,000 left of its month.
    assert await paid(gql, pid, "a1", "rules-on0-6", "1000000") == [commission("30000")]
    # Under the minimum; a1's third eligible purchase; b joined 40 days ago.
    assert await paid(gql, pid, "a2", "rules-on0-7", "25000") == []
    assert await paid(gql, pid, "a1", "rules-on1-8", "100000") == []
    assert await paid(gql, pid, "b", "rules-on1-9", "100000") == [("b", *welcome)]

    program_id = local_id(pid, "Program")
    assert program_id is not None
    on = await rules.fired(database_url, program_id, "rules-on", WINDOW)
    assert on == rules.Fired(
        purchases=9,
        ineligible=1,
        outside_window=1,
        past_limit=1,
        rewards={"REFERRER_COMMISSION": 6, "REFEREE_WELCOME": 6, "MILESTONE_BONUS": 1},
        flat=1,
        cut=1,
        cut_by_month=1,
        milestones={3: 1},
    )
    assert await rules.at_monthly_cap(database_url, program_id) == 1

    # Off again: the seeded rules, so a purchase under the minimum pays as before.
    assert await switch(gql, rules.rules_off(pid)) == 3
    node = (await gql.data(RULES, {"id": pid}))["node"]
    assert node == {
        "rulesVersion": 3,
        "minPurchaseAmount": "0",
        "commissionWindowDays": None,
        "commissionPurchaseLimit": None,
        "monthlyCapPerReferrer": None,
        "milestones": [],
        "tiers": [{"levelAmounts": []}] * 3,
    }
    # r is Perak: 7% of 25,000.
    assert await paid(gql, pid, "a3", "rules-off0-1", "25000") == [commission("1750")]
    off = await rules.fired(database_url, program_id, "rules-off", None)
    assert (off.purchases, off.ineligible, off.rewards, off.flat, off.cut) == (
        1,
        0,
        {"REFERRER_COMMISSION": 1},
        0,
        0,
    )
