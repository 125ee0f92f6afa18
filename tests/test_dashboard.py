"""The bench's customer dashboard (bench/dashboard.graphql), held to the cost and permission
rules as a shop's customers would run it: with their own CUSTOMER token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import rujuk.db.pool as pool_module
import rujuk.graph.replicator as replicator
from rujuk.app import create_app
from rujuk.config import load_settings
from rujuk.services.runtime import Runtime
from tests.conftest import app_settings
from tests.fixtures import chain, create_program
from tests.graphql_client import GraphQLClient
from tests.ledger import paid

DASHBOARD = (Path(__file__).resolve().parent.parent / "bench" / "dashboard.graphql").read_text()
# The same selection on a customer named by id: what the dashboard shows, asked of someone else.
SOMEONE_ELSES = (
    "query Someone($id: ID!) { node(id: $id) { ...Dashboard } }\n"
    + DASHBOARD[DASHBOARD.index("fragment Dashboard") :]
)
ISSUE = "mutation($id: ID!) { issueCustomerToken(input: {customerId: $id}) { token } }"
# A dashboard refreshed once a second for a minute stays within a caller's rate limit.
REFRESHES_PER_MINUTE = 60


@dataclass
class Counted:
    """The app over HTTP, with every statement its pooled connections run and its acquires."""

    gql: GraphQLClient
    runtime: Runtime
    statements: list[str] = field(default_factory=list)
    acquires: int = 0

    def reset(self) -> None:
        self.statements.clear()
        self.acquires = 0


@pytest.fixture
async def counted(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Counted]:
    log: list[str] = []
    init = pool_module.init_connection

    async def logging_init(conn: Any) -> None:
        await init(conn)
        conn.add_query_logger(lambda record: log.append(record.query))

    # Before the app starts: every connection its pool opens logs its statements, and the
    # replicator's check of the graphs' versions (a statement every 5 s) waits an hour.
    monkeypatch.setattr(pool_module, "init_connection", logging_init)
    monkeypatch.setattr(replicator, "LISTENER_CHECK_INTERVAL", 3600.0)
    application = create_app(app_settings(tmp_path), database_url)
    async with application.router.lifespan_context(application):
        runtime: Runtime = application.state.runtime
        # The webhook dispatcher polls the pool twice a second: stopped, as no test here
        # delivers webhooks (the lifespan's own close does nothing more).
        await runtime.webhooks.close()
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://rujuk.test") as http:
            found = Counted(GraphQLClient(http), runtime, log)
            acquire = runtime.pool.acquire

            def counting_acquire() -> Any:
                found.acquires += 1
                return acquire()

            monkeypatch.setattr(runtime.pool, "acquire", counting_acquire)
            yield found


async def customer_token(gql: GraphQLClient, customer_id: str) -> str:
    token: str = (await gql.data(ISSUE, {"id": customer_id}))["issueCustomerToken"]["token"]
    return token


async def _world(gql: GraphQLClient) -> tuple[list[dict[str, Any]], GraphQLClient]:
    """c0 <- c1 <- c2 with one purchase by c2 (rewards for c1 and c0); c1's client."""
    program = await create_program(gql)
    customers = await chain(gql, program["id"], 3)
    assert await paid(gql, program["id"], "c2", "o1", "100000") == [
        ("c1", "REFERRER_COMMISSION", 1, "10000"),
        ("c0", "REFERRER_COMMISSION", 2, "5000"),
    ]
    return customers, gql.as_token(await customer_token(gql, customers[1]["id"]))


async def test_dashboard_shows_the_viewers_own_code_tier_balance_rewards_and_referrals(
    gql: GraphQLClient,
) -> None:
    customers, me = await _world(gql)
    body = await me.post(DASHBOARD)
    assert "errors" not in body, body["errors"]
    viewer = body["data"]["viewer"]
    assert viewer["externalId"] == "c1"
    assert viewer["referralCodes"] == [
        {"code": customers[1]["referralCodes"][0]["code"], "active": True}
    ]
    assert viewer["stats"] == {"tier": "Bronze"}
    assert viewer["balance"] == {"pending": "10000", "approved": "0", "reversed": "0"}
    rewards = viewer["rewards"]
    assert rewards["totalCount"] == 1
    assert [
        (e["node"]["kind"], e["node"]["level"], e["node"]["amount"]) for e in rewards["edges"]
    ] == [("REFERRER_COMMISSION", 1, "10000")]
    referrals = viewer["referrals"]
    assert referrals["totalCount"] == 1
    assert [e["node"] for e in referrals["edges"]] == [
        {"id": customers[2]["id"], "displayName": "Customer c2"}
    ]


async def test_dashboard_cost_is_under_the_limit_and_the_rate_of_a_refresh_a_second(
    gql: GraphQLClient,
) -> None:
    _, me = await _world(gql)
    body = await me.post(DASHBOARD)
    assert "errors" not in body, body["errors"]
    cost = body["extensions"]["cost"]
    # viewer, its codes, stats, balance, and two pages of 10 (connection + edge + node each).
    assert cost == 1 + 1 + 1 + 1 + 10 * (1 + 1 + 1) + 10 * (1 + 1 + 1)
    defaults = load_settings({})
    assert cost <= defaults.max_query_cost
    assert cost * REFRESHES_PER_MINUTE <= defaults.rate_limit_cost_per_minute


async def test_dashboard_of_another_customer_is_refused(gql: GraphQLClient) -> None:
    customers, me = await _world(gql)
    for other in (customers[0], customers[2]):  # the viewer's referrer and its referee
        body = await me.post(SOMEONE_ELSES, {"id": other["id"]})
        assert body["data"] == {"node": None} or body["data"] is None, body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
    # The same selection on the viewer's own id runs: the refusal is about whose data it is.
    own = await me.post(SOMEONE_ELSES, {"id": customers[1]["id"]})
    assert "errors" not in own, own["errors"]
    assert own["data"]["node"]["externalId"] == "c1"


async def test_dashboard_needs_a_customer_token(gql: GraphQLClient) -> None:
    assert await gql.as_token(None).error_code(DASHBOARD) == "UNAUTHENTICATED"
    # Other roles have no viewer: the query answers null, not someone's data.
    assert (await gql.data(DASHBOARD)) == {"viewer": None}


async def test_a_dashboard_runs_five_statements_on_two_pool_acquires(counted: Counted) -> None:
    """The viewer's row, then at once its codes, balance, page of rewards with their count
    and its referees' names: one statement each, on one shared connection. The code's owner
    is the viewer, already read; the tier and the referees come from the graph. (Before
    issue 19: 7 statements on 7 acquires, 8 on 8 with the token checked.)"""
    _, me = await _world(counted.gql)
    # Connections opened and their types looked up, the token's customer checked (cached).
    for _ in range(3):
        assert "errors" not in await me.post(DASHBOARD)
    counted.reset()
    body = await me.post(DASHBOARD)
    assert "errors" not in body, body["errors"]
    assert body["data"]["viewer"]["referrals"]["totalCount"] == 1
    assert (len(counted.statements), counted.acquires) == (5, 2), counted.statements
    # A token not seen for a while is checked again, its customer read on an acquire of its
    # own: the viewer is that customer, read once.
    counted.runtime.callers.clear()
    counted.reset()
    assert "errors" not in await me.post(DASHBOARD)
    assert (len(counted.statements), counted.acquires) == (5, 2), counted.statements
