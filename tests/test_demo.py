"""The demo program: a network with purchases that an admin can explore at once."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

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


async def test_seeding_reports_its_progress(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="rujuk.demo"):
        await seed_demo(app.state.runtime, size=30, seed=7, report_every=0)
    progress = [
        tuple(int(n) for n in match.groups())
        for record in caplog.records
        if (match := re.search(r"(\d+) of (\d+) customers \((\d+)%\)", record.getMessage()))
    ]
    assert progress[0] == (0, 30, 0)
    assert progress[-1] == (30, 30, 100)
    assert [done for done, _, _ in progress] == sorted({done for done, _, _ in progress})
    assert len(progress) == 31
