"""Query cost (extensions.cost, QUERY_TOO_COMPLEX) and per-caller rate limits (RATE_LIMITED)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rujuk.app import create_app
from rujuk.console.examples import example_tabs
from rujuk.rate_limit import RateLimiter
from tests.conftest import app_settings
from tests.fixtures import create_program, register_ok
from tests.graphql_client import GraphQLClient

DOWNLINE = """query($p: ID!, $f: Int!) { customer(programId: $p, externalId: "andi") {
  downline(first: $f) { edges { node { displayName stats { tier } } } } } }"""

NESTED = """query($p: ID!) { customer(programId: $p, externalId: "andi") {
  referrals(first: 100) { edges { node {
    referrals(first: 100) { edges { node {
      downline(first: 100) { edges { node { id } } } } } } } } } } }"""


async def test_a_first_past_the_page_size_costs_the_page_size(gql: GraphQLClient) -> None:
    """Such a field refuses the argument itself, more clearly than a cost would."""
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    body = await gql.post(DOWNLINE, {"p": program["id"], "f": 2**31 - 1})
    assert body["extensions"] == {"cost": 1 + 100 * 4}
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


@pytest.mark.parametrize(
    ("query", "variables", "cost"),
    [
        ("{ programs { id name } }", {}, 1),
        ("{ programs { tiers { name } } }", {}, 2),
        ("{ viewer { id } __typename }", {}, 1),
        # 1 (customer) + 7 x (1 connection + 1 edges + (1 node + 1 stats))
        (DOWNLINE, {"f": 7}, 1 + 7 * 4),
        # The argument's default: downline(first: 100).
        (
            DOWNLINE.replace("downline(first: $f)", "downline").replace(", $f: Int!", ""),
            {},
            1 + 100 * 4,
        ),
        (
            "query($p: ID!) { leaderboard(programId: $p, first: 5) { customer { id } } "
            'c: customer(programId: $p, externalId: "x") { ancestors(maxDepth: 4) { id } '
            "referrals { edges { node { rewards(first: 3) { edges { node { amount } } } } } } } }",
            {},
            # leaderboard 5 x 2; customer 1 + ancestors 4 + referrals 20 x (3 + rewards 3 x 3)
            5 * 2 + 1 + 4 + 20 * (3 + 3 * 3),
        ),
        ("{ ...F ...F } fragment F on Query { programs { id } }", {}, 2),
    ],
)
async def test_every_response_reports_its_cost(
    gql: GraphQLClient, query: str, variables: dict[str, Any], cost: int
) -> None:
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    if "$p" in query:
        variables = {**variables, "p": program["id"]}
    body = await gql.post(query, variables)
    assert "errors" not in body, body
    assert body["extensions"] == {"cost": cost}


async def test_the_console_examples_stay_well_within_the_limit(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    costs = []
    for tab in example_tabs(program["id"], "andi", "andi", "order-1"):
        variables = json.loads(tab.variables) if tab.variables else {}
        body = await gql.post(tab.query, variables)
        assert "errors" not in body, body
        costs.append(body["extensions"]["cost"])
    # Top influencers, downline, upline, program stats, record purchase, review queue
    # (1 + 20 x (connection, pageInfo, edges, node, referee, referrer)), programs (with
    # their tiers and milestones).
    assert costs == [75, 504, 23, 3, 6, 1 + 20 * 6, 3]
    assert max(costs) * 20 < 50_000


async def test_an_operation_over_the_limit_is_refused_before_it_runs(
    gql: GraphQLClient, database_url: str
) -> None:
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    body = await gql.post(NESTED, {"p": program["id"]})
    [error] = body["errors"]
    assert body["data"] is None
    # customer 1 + 100 x (connection, edges, node + 100 x (the same + 100 x the same)).
    cost = 1 + 100 * (3 + 100 * (3 + 100 * 3))
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "cost": cost,
        "maxCost": 50_000,
        "requestId": error["extensions"]["requestId"],
    }
    assert body["extensions"] == {"cost": cost}
    # A mutation over the limit writes nothing.
    many = " ".join(
        f'r{i}: registerCustomer(input: {{programId: $p, externalId: "x{i}", displayName: "X"}}) '
        "{ customer { referrals(first: 100) { edges { node {"
        " downline { edges { node { id } } } } } } } }"
        for i in range(20)
    )
    body = await gql.post(f"mutation($p: ID!) {{ {many} }}", {"p": program["id"]})
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    found = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "x0") { id } }',
        {"p": program["id"]},
    )
    assert found["customer"] is None


@pytest.fixture
async def limited(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a rate limit of 60 cost per minute (one per second)."""
    settings = dataclasses.replace(app_settings(tmp_path), rate_limit_cost_per_minute=60)
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rujuk.test") as client:
            yield client


async def test_a_caller_past_its_rate_gets_rate_limited(limited: httpx.AsyncClient) -> None:
    admin = GraphQLClient(limited)
    partner_token = (
        await admin.data(
            'mutation { createApiToken(input: {role: ADMIN, label: "second"}) { token } }'
        )
    )["createApiToken"]["token"]
    # The bucket holds 60: one mutation (cost 1) above, then 59 more pass.
    ten = "{ " + " ".join(f"a{i}: programs {{ id }}" for i in range(10)) + " }"
    for _ in range(5):
        assert "errors" not in await admin.post(ten)
    body = await admin.post(ten)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= error["extensions"]["retryAfter"] <= 2
    response = await limited.post(
        "/graphql",
        json={"query": ten},
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert response.headers["retry-after"] == str(
        response.json()["errors"][0]["extensions"]["retryAfter"]
    )
    # Another token, and anonymous callers (keyed by address), have buckets of their own.
    assert "errors" not in await admin.as_token(partner_token).post(ten)
    assert (await admin.as_token(None).post("{ __typename }"))["data"] == {"__typename": "Query"}


def test_the_bucket_refills_at_the_configured_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(120, clock=lambda: now[0])
    assert limiter.take("a", 100) is None
    assert limiter.take("a", 30) == 5  # 10 missing at 2 per second
    assert limiter.take("b", 120) is None
    now[0] = 5.0
    assert limiter.take("a", 30) is None
    assert limiter.take("a", 500) == 60  # never fits: wait for a full bucket, then still over


async def test_a_cost_set_by_a_variable_is_priced_for_each_request(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    costs = []
    for first in (7, 2, 7):
        body = await gql.post(DOWNLINE, {"f": first, "p": program["id"]})
        assert "errors" not in body, body
        costs.append(body["extensions"]["cost"])
    assert costs == [1 + 7 * 4, 1 + 2 * 4, 1 + 7 * 4]
