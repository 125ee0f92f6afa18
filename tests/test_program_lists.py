"""Program.referrals and Program.rewards: newest first, filters, cursors, rights and cost."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rujuk import ids
from rujuk.db import purchases as purchase_queries
from rujuk.db import referrals as referral_queries
from rujuk.db.pool import connect
from tests.fixtures import create_program, register, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import ERASE, REVIEW, SETTLE, paid, refund

REFERRALS = """
query($p: ID!, $status: ReferralStatus, $first: Int!, $after: String) {
  program(id: $p) {
    referrals(status: $status, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id status fraudSignals createdAt
                            referee { externalId displayName } referrer { externalId } } }
    }
  }
}"""

REWARDS = """
query($p: ID!, $status: RewardStatus, $kind: RewardKind, $first: Int!, $after: String) {
  program(id: $p) {
    rewards(status: $status, kind: $kind, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id kind status createdAt beneficiary { externalId } } }
    }
  }
}"""


def number(global_id: str) -> int:
    """The database id behind a global ID (the tests may look; clients must not)."""
    parsed = ids.from_global_id(global_id)
    assert parsed is not None
    return parsed[1]


def newest_first(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order rewards.md asks for: by creation, newest first, then id, highest first."""
    return sorted(
        nodes, key=lambda n: (datetime.fromisoformat(n["createdAt"]), number(n["id"])), reverse=True
    )


async def walk(
    gql: GraphQLClient, query: str, field: str, first: int, **variables: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every node of a program-wide list, page by page; and how many pages it took."""
    nodes: list[dict[str, Any]] = []
    after = None
    pages = 0
    while True:
        data = await gql.data(query, {**variables, "first": first, "after": after})
        connection = data["program"][field]
        pages += 1
        nodes += [e["node"] for e in connection["edges"]]
        assert len(connection["edges"]) <= first
        if connection["edges"]:
            assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes, pages
        after = connection["pageInfo"]["endCursor"]


async def referral_world(gql: GraphQLClient) -> tuple[str, dict[str, dict[str, Any]]]:
    """A program whose links were made out of date order, with ties, and every status."""
    program = await create_program(gql)
    p = program["id"]
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    andi = await register_ok(gql, p, "andi", joinedAt=(base - timedelta(days=1)).isoformat())
    code = andi["referralCodes"][0]["code"]
    links: dict[str, dict[str, Any]] = {}
    # (name, hours after base, device): "d" shares a device with "c" and is FLAGGED.
    plan = [("b", 5, None), ("a", 1, None), ("c", 3, "dev-1"), ("d", 3, "dev-1"), ("e", 2, None)]
    for name, hours, device in plan:
        joined = (base + timedelta(hours=hours)).isoformat()
        payload = await register(gql, p, name, code, joinedAt=joined, deviceId=device)
        assert payload["userErrors"] == []
        links[name] = payload["referral"]
    assert links["d"]["status"] == "FLAGGED"
    rejected = await register(gql, p, "f", code, deviceId="dev-1", joinedAt=base.isoformat())
    review = {"referralId": rejected["referral"]["id"], "decision": "REJECT"}
    assert (await gql.data(REVIEW, {"input": review}))["reviewReferral"]["userErrors"] == []
    links["f"] = rejected["referral"]
    return p, links


async def test_referrals_are_listed_newest_first_with_ties_by_id(gql: GraphQLClient) -> None:
    p, links = await referral_world(gql)
    nodes, _ = await walk(gql, REFERRALS, "referrals", 20, p=p)
    # b (base+5h), then c and d (both base+3h: d registered later, so its id is higher)...
    assert [n["referee"]["externalId"] for n in nodes] == ["b", "d", "c", "e", "a", "f"]
    assert [n["id"] for n in nodes] == [links[x]["id"] for x in "bdceaf"]
    assert nodes == newest_first(nodes)
    assert {n["referrer"]["externalId"] for n in nodes} == {"andi"}
    assert [n["status"] for n in nodes] == [
        "ACTIVE",
        "FLAGGED",
        "ACTIVE",
        "ACTIVE",
        "ACTIVE",
        "REJECTED",
    ]


async def test_the_review_queue_is_the_flagged_referrals(gql: GraphQLClient) -> None:
    p, _ = await referral_world(gql)
    data = await gql.data(REFERRALS, {"p": p, "status": "FLAGGED", "first": 20})
    queue = data["program"]["referrals"]
    assert queue["totalCount"] == 1
    assert [
        (e["node"]["referee"]["externalId"], e["node"]["fraudSignals"]) for e in queue["edges"]
    ] == [("d", ["SHARED_DEVICE"])]
    for status, count in [("ACTIVE", 4), ("REJECTED", 1), (None, 6)]:
        data = await gql.data(REFERRALS, {"p": p, "status": status, "first": 20})
        listed = data["program"]["referrals"]
        assert listed["totalCount"] == count
        assert len(listed["edges"]) == count
        assert all(status in (None, e["node"]["status"]) for e in listed["edges"])
    # Approving takes it out of the queue.
    approve = {"referralId": queue["edges"][0]["node"]["id"], "decision": "APPROVE"}
    assert (await gql.data(REVIEW, {"input": approve}))["reviewReferral"]["userErrors"] == []
    data = await gql.data(REFERRALS, {"p": p, "status": "FLAGGED", "first": 20})
    assert data["program"]["referrals"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }


@pytest.mark.parametrize("first", [1, 2, 4, 5])
async def test_referral_pages_cover_the_list_once(gql: GraphQLClient, first: int) -> None:
    p, _ = await referral_world(gql)
    whole, _ = await walk(gql, REFERRALS, "referrals", 20, p=p)
    paged, pages = await walk(gql, REFERRALS, "referrals", first, p=p)
    assert paged == whole
    assert pages == -(-6 // first)


async def test_a_page_stays_put_when_newer_referrals_arrive(gql: GraphQLClient) -> None:
    p, _ = await referral_world(gql)
    data = await gql.data(REFERRALS, {"p": p, "first": 2})
    after = data["program"]["referrals"]["pageInfo"]["endCursor"]
    andi = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "andi") { referralCodes { code } } }',
        {"p": p},
    )
    await register_ok(gql, p, "newest", andi["customer"]["referralCodes"][0]["code"])
    rest = await gql.data(REFERRALS, {"p": p, "first": 20, "after": after})
    assert [e["node"]["referee"]["externalId"] for e in rest["program"]["referrals"]["edges"]] == [
        "c",
        "e",
        "a",
        "f",
    ]
    assert rest["program"]["referrals"]["totalCount"] == 7


async def test_erased_customers_appear_as_erased(gql: GraphQLClient) -> None:
    p, links = await referral_world(gql)
    customer = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "d") { id } }', {"p": p}
    )
    erased = await gql.data(ERASE, {"input": {"customerId": customer["customer"]["id"]}})
    assert erased["eraseCustomer"]["userErrors"] == []
    data = await gql.data(REFERRALS, {"p": p, "status": "FLAGGED", "first": 20})
    [edge] = data["program"]["referrals"]["edges"]
    assert edge["node"]["id"] == links["d"]["id"]
    assert edge["node"]["referee"]["displayName"] == "Erased customer"


@pytest.mark.parametrize(
    "after",
    ["nonsense", base64.urlsafe_b64encode(b"c:12").decode(), base64.b64encode(b"k:1_0:2").decode()],
)
async def test_a_bad_cursor_or_page_size_is_invalid_input(gql: GraphQLClient, after: str) -> None:
    program = await create_program(gql)
    variables = {"p": program["id"], "first": 5, "after": after}
    assert await gql.error_code(REFERRALS, variables) == "INVALID_INPUT"
    assert await gql.error_code(REWARDS, variables) == "INVALID_INPUT"
    for first in (-1, 101):
        variables = {"p": program["id"], "first": first}
        assert await gql.error_code(REFERRALS, variables) == "INVALID_INPUT"
        assert await gql.error_code(REWARDS, variables) == "INVALID_INPUT"


async def reward_world(gql: GraphQLClient) -> tuple[str, list[dict[str, Any]]]:
    """A chain c0 <- c1 <- c2 with APPROVED, REVERSED and PENDING rewards of both kinds."""
    program = await create_program(gql, holdDays=0, refereeReward="1000")
    p = program["id"]
    c0 = await register_ok(gql, p, "c0")
    c1 = await register_ok(gql, p, "c1", c0["referralCodes"][0]["code"])
    await register_ok(gql, p, "c2", c1["referralCodes"][0]["code"])
    assert len(await paid(gql, p, "c2", "o-1", "100000")) == 3  # welcome, level 1, level 2
    settled = await gql.data(SETTLE, {"input": {"programId": p}})
    assert settled["settleRewards"]["approvedCount"] == 3
    assert len(await paid(gql, p, "c2", "o-2", "50000")) == 2
    assert (await refund(gql, p, "o-2"))["userErrors"] == []
    assert len(await paid(gql, p, "c1", "o-3", "20000")) == 2  # c1's welcome, c0's level 1
    nodes, _ = await walk(gql, REWARDS, "rewards", 100, p=p)
    return p, nodes


async def test_rewards_are_listed_newest_first_with_ties_by_id(gql: GraphQLClient) -> None:
    _, nodes = await reward_world(gql)
    assert len(nodes) == 7
    assert nodes == newest_first(nodes)
    # The rewards of one purchase share a creation time: the tie goes to the higher id.
    assert len({n["createdAt"] for n in nodes}) == 3
    assert [n["status"] for n in nodes] == ["PENDING"] * 2 + ["REVERSED"] * 2 + ["APPROVED"] * 3


async def test_rewards_filter_by_status_and_kind(gql: GraphQLClient) -> None:
    p, nodes = await reward_world(gql)
    cases: list[tuple[str | None, str | None]] = [
        ("PENDING", None),
        ("APPROVED", None),
        ("REVERSED", None),
        (None, "REFEREE_WELCOME"),
        (None, "REFERRER_COMMISSION"),
        ("APPROVED", "REFEREE_WELCOME"),
        ("REVERSED", "REFEREE_WELCOME"),
    ]
    for status, kind in cases:
        expected = [n for n in nodes if status in (None, n["status"]) and kind in (None, n["kind"])]
        listed, _ = await walk(gql, REWARDS, "rewards", 1, p=p, status=status, kind=kind)
        assert listed == expected, (status, kind)
        data = await gql.data(REWARDS, {"p": p, "status": status, "kind": kind, "first": 1})
        assert data["program"]["rewards"]["totalCount"] == len(expected), (status, kind)


async def test_only_the_program_s_managers_see_its_lists(gql: GraphQLClient) -> None:
    p, _ = await reward_world(gql)
    other = await create_program(gql, name="Other")
    tokens = {}
    for name, program_id in [("partner", p), ("other_partner", other["id"])]:
        created = await gql.data(
            "mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { token } }",
            {"input": {"role": "PARTNER", "programId": program_id, "label": name}},
        )
        tokens[name] = created["createApiToken"]["token"]
    c1 = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "c1") { id } }', {"p": p}
    )
    issued = await gql.data(
        "mutation($id: ID!) { issueCustomerToken(input: {customerId: $id}) { token } }",
        {"id": c1["customer"]["id"]},
    )
    customer = gql.as_token(issued["issueCustomerToken"]["token"])
    for query, field, count in [(REFERRALS, "referrals", 2), (REWARDS, "rewards", 7)]:
        variables = {"p": p, "first": 20}
        data = await gql.as_token(tokens["partner"]).data(query, variables)
        assert data["program"][field]["totalCount"] == count
        # A customer may read its program, not the program's lists.
        assert (await customer.data("query($p: ID!) { program(id: $p) { name } }", {"p": p}))[
            "program"
        ]["name"]
        body = await customer.post(query, variables)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        assert body["errors"][0]["path"] == ["program", field]
        other_partner = gql.as_token(tokens["other_partner"])
        assert await other_partner.error_code(query, variables) == "FORBIDDEN"
        assert await gql.as_token(None).error_code(query, variables) == "UNAUTHENTICATED"


async def test_the_lists_cost_like_the_other_connections(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    query = """query($p: ID!) { program(id: $p) {
      referrals(status: FLAGGED, first: 7) { edges { node { referee { id } } } }
      rewards { totalCount edges { node { beneficiary { id } } } } } }"""
    body = await gql.post(query, {"p": program["id"]})
    # program 1 + referrals 7 x (1 + edges 1 + node 1 + referee 1)
    # + rewards 20 (the default first) x (1 + edges 1 + node 1 + beneficiary 1)
    assert body["extensions"] == {"cost": 1 + 7 * 4 + 20 * 4}


class Recorder:
    """Stands in for a connection to capture the SQL a query function sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[object, ...]]] = []

    async def fetch(self, sql: str, *args: object) -> list[Any]:
        self.sent.append((sql, args))
        return []


async def test_every_form_of_a_page_is_an_index_scan(database_url: str) -> None:
    """Each filter and cursor form of the lists' SQL walks an index backwards and stops at
    the page: no sort, whatever the table's size (the plan is forced on empty tables)."""
    recorder = Recorder()
    before = (datetime.now(UTC), 5)
    for status in (None, "FLAGGED"):
        for cursor in (None, before):
            await referral_queries.program_referrals(recorder, 1, status, 21, cursor)  # type: ignore[arg-type]
    for status, kind in [(None, None), ("REVERSED", None), (None, "REFEREE_WELCOME")]:
        for cursor in (None, before):
            await purchase_queries.program_rewards(recorder, 1, status, kind, 21, cursor)  # type: ignore[arg-type]
    conn = await connect(database_url)
    try:
        await conn.execute("SET enable_seqscan = off")
        await conn.execute("SET enable_bitmapscan = off")
        for sql, args in recorder.sent:
            plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {sql}", *args))
            assert "Index Scan Backward" in plan, plan
            assert "Sort" not in plan, plan
    finally:
        await conn.close()
