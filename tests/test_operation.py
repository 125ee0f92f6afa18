"""The everyday POST runs on graphql-core directly (schema/operation.py): it must answer
exactly what strawberry's own path (RequestGuard in Schema.execute) answers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from rujuk.api import RujukSchema
from tests.fixtures import create_program, register_ok
from tests.graphql_client import ADMIN_TOKEN, GraphQLClient

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DEEP = "{ programs " + "{ customers(first: 1) { edges { node " * 8 + "{ id }" + " } } }" * 8 + " }"

# Queries, so that strawberry's path answers them too, over GET.
CASES = [
    (
        "an answer",
        "query($p: ID!, $e: String!) { customer(programId: $p, externalId: $e) { id } }",
    ),
    ("a named operation", "query A { programs { name } } query B { programs { id } }"),
    ("a syntax error", "{ programs { id "),
    ("a validation error", "{ programs { nope } }"),
    ("a document too deep", DEEP),
    (
        "an operation too costly",
        "query($p: ID!) { program(id: $p) { customers(first: 100) { edges { node {"
        " referrals(first: 100) { edges { node { referee { downline(first: 100) {"
        " edges { node { id } } } } } } } } } } } }",
    ),
    ("variables too many", "query($p: ID!, $e: String!) { programs { id } }"),
]


def without_request_ids(body: dict[str, Any]) -> dict[str, Any]:
    for error in body.get("errors") or []:
        error.get("extensions", {}).pop("requestId", None)
    return body


@pytest.mark.parametrize(("case", "query"), CASES, ids=[c for c, _ in CASES])
async def test_a_post_answers_what_strawberrys_path_answers(
    http: httpx.AsyncClient, gql: GraphQLClient, case: str, query: str
) -> None:
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    variables: dict[str, Any] = {"p": program["id"], "e": "andi"}
    if case == "variables too many":
        variables["e"] = [1] * 10_001  # short enough for a URL
    name = "B" if case == "a named operation" else None
    payload: dict[str, Any] = {"query": query, "variables": variables, "operationName": name}
    posted = await http.post("/graphql", json=payload, headers=AUTH)
    params = {"query": query, "variables": json.dumps(variables, separators=(",", ":"))}
    if name:
        params["operationName"] = name
    got = await http.get("/graphql", params=params, headers=AUTH)
    assert (posted.status_code, got.status_code) == (200, 200), (posted.text, got.text)
    fast, generic = without_request_ids(posted.json()), without_request_ids(got.json())
    assert fast == generic
    assert "cost" in fast["extensions"]


async def test_a_post_of_a_query_or_mutation_does_not_go_through_strawberrys_execute(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("strawberry's Schema.execute ran")

    monkeypatch.setattr(RujukSchema, "execute", refuse)
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    body = await gql.post("{ programs { name } }")
    assert body["data"] == {"programs": [{"name": "Toko Test"}]}
    assert body["extensions"] == {"cost": 1}
