"""The demo program: a network with purchases that an admin can explore at once."""

from __future__ import annotations

from typing import Any

from rujuk.demo import seed_demo
from tests.graphql_client import GraphQLClient


async def test_demo_seeds_a_network_with_purchases(gql: GraphQLClient, app: Any) -> None:
    program_id = await seed_demo(app.state.runtime, size=80, seed=7)
    data = await gql.data(
        """query($p: ID!) {
             program(id: $p) { name currency tiers { name } stats { customers referredCustomers
                                                                   revenue rewardCost } }
             leaderboard(programId: $p, metric: NETWORK_SIZE, first: 3) {
               rank score customer { externalId displayName } }
           }""",
        {"p": program_id},
    )
    program = data["program"]
    assert (program["name"], program["currency"]) == ("Demo Toko", "IDR")
    assert [t["name"] for t in program["tiers"]] == ["Perunggu", "Perak", "Emas"]
    assert program["stats"]["customers"] == 80
    assert 60 <= program["stats"]["referredCustomers"] < 80
    assert int(program["stats"]["revenue"]) > 0
    assert int(program["stats"]["rewardCost"]) > 0
    leaders = data["leaderboard"]
    assert [e["rank"] for e in leaders] == [1, 2, 3]
    assert leaders[0]["score"] >= leaders[1]["score"] >= leaders[2]["score"] > 0
