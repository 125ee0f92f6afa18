"""The tree on Customer: referrer, referral, ancestors, referrals, downline, stats; and node(id)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fixtures import chain, create_program, register_ok
from tests.graphql_client import GraphQLClient

CUSTOMER = """
query($p: ID!, $e: String!) { customer(programId: $p, externalId: $e) { %s } }
"""

START = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


async def field(gql: GraphQLClient, program_id: str, external_id: str, selection: str) -> Any:
    data = await gql.data(CUSTOMER % selection, {"p": program_id, "e": external_id})
    return data["customer"]


def code(customer: dict[str, Any]) -> str:
    value: str = customer["referralCodes"][0]["code"]
    return value


async def tree(gql: GraphQLClient) -> str:
    """root -> a (t=10), b (t=5), c (t=20); a -> a1 (t=30), a2 (t=12); b -> b1; a1 -> x (t=1).

    Join times are chosen so that join order differs from registration order.
    """
    program = await create_program(gql)
    p: str = program["id"]
    root = await register_ok(gql, p, "root", joinedAt=at(0))
    a = await register_ok(gql, p, "a", code(root), joinedAt=at(10))
    b = await register_ok(gql, p, "b", code(root), joinedAt=at(5))
    await register_ok(gql, p, "c", code(root), joinedAt=at(20))
    a1 = await register_ok(gql, p, "a1", code(a), joinedAt=at(30))
    await register_ok(gql, p, "a2", code(a), joinedAt=at(12))
    await register_ok(gql, p, "b1", code(b), joinedAt=at(11))
    await register_ok(gql, p, "x", code(a1), joinedAt=at(1))
    return p


async def test_referrer_and_referral(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    p = program["id"]
    andi = await register_ok(gql, p, "andi")
    budi = await register_ok(gql, p, "budi", code(andi), channel="TIKTOK")
    found = await field(
        gql,
        p,
        "budi",
        "referrer { externalId } referral { id code channel status fraudSignals createdAt "
        "referrer { externalId } referee { externalId } }",
    )
    assert found["referrer"] == {"externalId": "andi"}
    referral = found["referral"]
    assert referral["code"] == code(andi)
    assert referral["channel"] == "TIKTOK"
    assert referral["status"] == "ACTIVE"
    assert referral["referrer"] == {"externalId": "andi"}
    assert referral["referee"] == {"externalId": "budi"}
    root = await field(gql, p, "andi", "referrer { id } referral { id }")
    assert root == {"referrer": None, "referral": None}
    assert budi["id"] != referral["id"]


async def test_ancestors_nearest_first_and_max_depth(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    p = program["id"]
    await chain(gql, p, 13)
    default = await field(gql, p, "c12", "ancestors { externalId }")
    assert [c["externalId"] for c in default["ancestors"]] == [f"c{i}" for i in range(11, 1, -1)]
    three = await field(gql, p, "c12", "ancestors(maxDepth: 3) { externalId }")
    assert [c["externalId"] for c in three["ancestors"]] == ["c11", "c10", "c9"]
    everything = await field(gql, p, "c12", "ancestors(maxDepth: 100) { externalId }")
    assert len(everything["ancestors"]) == 12
    assert await field(gql, p, "c0", "ancestors { externalId }") == {"ancestors": []}
    assert await field(gql, p, "c5", "ancestors(maxDepth: 0) { externalId }") == {"ancestors": []}


@pytest.mark.parametrize("max_depth", [-1, 101])
async def test_ancestors_depth_out_of_range(gql: GraphQLClient, max_depth: int) -> None:
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    error = await gql.error_code(
        CUSTOMER % f"ancestors(maxDepth: {max_depth}) {{ id }}",
        {"p": program["id"], "e": "andi"},
    )
    assert error == "INVALID_INPUT"


async def test_referrals_oldest_first_with_pages(gql: GraphQLClient) -> None:
    p = await tree(gql)
    selection = (
        "referrals(first: 2%s) { totalCount pageInfo { hasNextPage endCursor } "
        "edges { cursor node { externalId } } }"
    )
    first = (await field(gql, p, "root", selection % ""))["referrals"]
    assert first["totalCount"] == 3
    assert [e["node"]["externalId"] for e in first["edges"]] == ["b", "a"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]
    after = first["pageInfo"]["endCursor"]
    second = (await field(gql, p, "root", selection % f', after: "{after}"'))["referrals"]
    assert [e["node"]["externalId"] for e in second["edges"]] == ["c"]
    assert second["pageInfo"]["hasNextPage"] is False
    assert second["totalCount"] == 3
    last = second["pageInfo"]["endCursor"]
    empty = (await field(gql, p, "root", selection % f', after: "{last}"'))["referrals"]
    assert empty["edges"] == []
    assert empty["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    leaf = (await field(gql, p, "c", selection % ""))["referrals"]
    assert leaf == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }


async def test_referrals_default_page_is_20(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    p = program["id"]
    root = await register_ok(gql, p, "root", joinedAt=at(0))
    for i in range(21):
        await register_ok(gql, p, f"r{i:02}", code(root), joinedAt=at(100 - i))
    page = (
        await field(
            gql,
            p,
            "root",
            "referrals { totalCount pageInfo { hasNextPage } edges { node { externalId } } }",
        )
    )["referrals"]
    assert page["totalCount"] == 21
    assert page["pageInfo"]["hasNextPage"] is True
    # Oldest first: r20 joined first (t=80), r01 last of the page (t=99).
    assert [e["node"]["externalId"] for e in page["edges"]] == [
        f"r{i:02}" for i in range(20, 0, -1)
    ]


async def test_downline_breadth_first_by_depth_then_join_time(gql: GraphQLClient) -> None:
    p = await tree(gql)
    selection = (
        "downline { totalCount pageInfo { hasNextPage } "
        "edges { depth parentId node { externalId } } }"
    )
    found = (await field(gql, p, "root", selection))["downline"]
    ids = {e: (await field(gql, p, e, "id"))["id"] for e in ("root", "a", "b", "a1")}
    got = [(e["node"]["externalId"], e["depth"], e["parentId"]) for e in found["edges"]]
    assert got == [
        ("b", 1, ids["root"]),
        ("a", 1, ids["root"]),
        ("c", 1, ids["root"]),
        ("b1", 2, ids["b"]),
        ("a2", 2, ids["a"]),
        ("a1", 2, ids["a"]),
        ("x", 3, ids["a1"]),
    ]
    assert found["totalCount"] == 7
    assert found["pageInfo"]["hasNextPage"] is False


async def test_downline_max_depth_and_pages(gql: GraphQLClient) -> None:
    p = await tree(gql)
    shallow = (
        await field(
            gql, p, "root", "downline(maxDepth: 1) { totalCount edges { node { externalId } } }"
        )
    )["downline"]
    assert shallow["totalCount"] == 3
    assert [e["node"]["externalId"] for e in shallow["edges"]] == ["b", "a", "c"]
    two = (await field(gql, p, "root", "downline(maxDepth: 2) { totalCount }"))["downline"]
    assert two["totalCount"] == 6
    seen: list[str] = []
    after = "null"
    while True:
        page = (
            await field(
                gql,
                p,
                "root",
                f"downline(first: 3, after: {after}) {{ totalCount "
                "pageInfo { hasNextPage endCursor } edges { node { externalId } } }",
            )
        )["downline"]
        assert page["totalCount"] == 7
        seen += [e["node"]["externalId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = f'"{page["pageInfo"]["endCursor"]}"'
    assert seen == ["b", "a", "c", "b1", "a2", "a1", "x"]
    sub = (await field(gql, p, "a", "downline { edges { depth node { externalId } } }"))["downline"]
    assert [(e["node"]["externalId"], e["depth"]) for e in sub["edges"]] == [
        ("a2", 1),
        ("a1", 1),
        ("x", 2),
    ]


@pytest.mark.parametrize(
    "selection",
    [
        "referrals(first: 101) { totalCount }",
        "referrals(first: -1) { totalCount }",
        "downline(first: 101) { totalCount }",
        "downline(first: 1000000) { totalCount }",
        "downline(maxDepth: -1) { totalCount }",
        'referrals(after: "bm90LWEtY3Vyc29y") { totalCount }',
        'downline(after: "!!!") { totalCount }',
    ],
)
async def test_page_arguments_out_of_range(gql: GraphQLClient, selection: str) -> None:
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    body = await gql.post(CUSTOMER % selection, {"p": program["id"], "e": "andi"})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert body["errors"][0]["message"]


async def test_a_cursor_of_another_list_is_refused(gql: GraphQLClient) -> None:
    p = await tree(gql)
    page = (await field(gql, p, "a", "referrals { pageInfo { endCursor } }"))["referrals"]
    cursor = page["pageInfo"]["endCursor"]  # a1's cursor: not among root's referrals
    body = await gql.post(
        CUSTOMER % f'referrals(after: "{cursor}") {{ totalCount }}', {"p": p, "e": "root"}
    )
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_first_100_is_allowed(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    found = await field(
        gql,
        program["id"],
        "andi",
        "referrals(first: 100) { totalCount } downline(first: 100) { totalCount }",
    )
    assert found == {"referrals": {"totalCount": 0}, "downline": {"totalCount": 0}}


async def test_stats_direct_referrals_and_depth(gql: GraphQLClient) -> None:
    p = await tree(gql)
    expected = {"root": (3, 0), "a": (2, 1), "b": (1, 1), "c": (0, 1), "a1": (1, 2), "x": (0, 3)}
    for name, (direct, depth) in expected.items():
        stats = (await field(gql, p, name, "stats { directReferrals depth }"))["stats"]
        assert (stats["directReferrals"], stats["depth"]) == (direct, depth), name


async def test_stats_count_flagged_referrals(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    p = program["id"]
    andi = await register_ok(gql, p, "andi")
    await register_ok(gql, p, "dewi", deviceId="shared")
    await register_ok(gql, p, "budi", code(andi), deviceId="shared")  # FLAGGED, still counted
    stats = (await field(gql, p, "andi", "stats { directReferrals }"))["stats"]
    assert stats == {"directReferrals": 1}


async def test_stats_exclude_rejected_referrals(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    p = program["id"]
    andi = await register_ok(gql, p, "andi")
    budi = await register_ok(gql, p, "budi", code(andi))
    await register_ok(gql, p, "cici", code(andi))
    await register_ok(gql, p, "dodi", code(budi))
    link = (await field(gql, p, "budi", "referral { id }"))["referral"]
    reviewed = await gql.data(
        "mutation($id: ID!) { reviewReferral(input: {referralId: $id, decision: REJECT}) "
        "{ referral { status } userErrors { code } } }",
        {"id": link["id"]},
    )
    assert reviewed["reviewReferral"] == {"referral": {"status": "REJECTED"}, "userErrors": []}
    andi_now = await field(
        gql,
        p,
        "andi",
        "stats { directReferrals depth } referrals { totalCount } downline { totalCount }",
    )
    # The structural tree keeps the rejected link; directReferrals does not count it.
    assert andi_now["stats"] == {"directReferrals": 1, "depth": 0}
    assert andi_now["referrals"] == {"totalCount": 2}
    assert andi_now["downline"] == {"totalCount": 3}
    dodi = await field(gql, p, "dodi", "stats { depth } ancestors { externalId }")
    assert dodi == {
        "stats": {"depth": 2},
        "ancestors": [{"externalId": "budi"}, {"externalId": "andi"}],
    }


NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Customer { externalId }
    ... on Program { name }
    ... on Referral { code status }
  }
}"""


async def test_node_finds_customers_programs_and_referrals(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    p = program["id"]
    andi = await register_ok(gql, p, "andi")
    budi = await register_ok(gql, p, "budi", code(andi))
    referral = (await field(gql, p, "budi", "referral { id }"))["referral"]
    by_customer = (await gql.data(NODE, {"id": budi["id"]}))["node"]
    assert by_customer == {"__typename": "Customer", "id": budi["id"], "externalId": "budi"}
    by_program = (await gql.data(NODE, {"id": p}))["node"]
    assert by_program == {"__typename": "Program", "id": p, "name": "Toko Test"}
    by_referral = (await gql.data(NODE, {"id": referral["id"]}))["node"]
    assert by_referral == {
        "__typename": "Referral",
        "id": referral["id"],
        "code": code(andi),
        "status": "ACTIVE",
    }
    assert len({andi["id"], budi["id"], p, referral["id"]}) == 4


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        "!!!!",
        "Q3VzdG9tZXI6OTk5OTk",  # Customer:99999
        "UHJvZ3JhbTo5OTk5OQ",  # Program:99999
        "UmVmZXJyYWw6OTk5OTk",  # Referral:99999
        "UmV3YXJkOjE",  # Reward:1 (no such type yet)
        "Q3VzdG9tZXI6LTE",  # Customer:-1
        "Q3VzdG9tZXI6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk",  # Customer:99999999999999999999999
        "x" * 10_000,
        "🙂",
    ],
)
async def test_node_of_garbage_is_null(gql: GraphQLClient, garbage: str) -> None:
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    assert (await gql.data(NODE, {"id": garbage}))["node"] is None
