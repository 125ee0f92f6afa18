"""Bad requests: each gets a clear error with a code, never a 500, and writes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rujuk.db.pool import connect
from tests.fixtures import REGISTER, create_program, register_ok
from tests.graphql_client import ADMIN_TOKEN, GraphQLClient

REGISTER_IDS = (
    "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { customer { id } } }"
)
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TABLES = ("program", "customer", "referral_code", "referral", "api_token")


async def counts(database_url: str) -> dict[str, int]:
    conn = await connect(database_url)
    try:
        return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in TABLES}
    finally:
        await conn.close()


def assert_clean_error(response: httpx.Response) -> dict[str, Any]:
    """A JSON GraphQL error response with a code on every error and no internals."""
    assert response.status_code == 200, response.text
    assert "Traceback" not in response.text
    assert "asyncpg" not in response.text
    body: dict[str, Any] = response.json()
    assert body["errors"], body
    for error in body["errors"]:
        assert error["message"]
        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", error
    return body


@pytest.fixture
async def seeded(gql: GraphQLClient) -> dict[str, Any]:
    program = await create_program(gql)
    customer = await register_ok(gql, program["id"], "andi")
    return {"program": program, "customer": customer}


@pytest.mark.parametrize(
    ("content", "content_type", "says"),
    [
        (b"{not json", "application/json", "JSON"),
        (b"", "application/json", "JSON"),
        (b"[1, 2]", "application/json", "Batching"),
        (b"{}", "application/json", "query"),
        (b'{"query": 5}', "application/json", "query"),
        (b'{"query": "{ programs { id } }", "variables": "x"}', "application/json", "variables"),
        (b"{ programs { id } }", "text/plain", "content type"),
        (b"\xff\xfe\x00garbage", "application/json", "JSON"),
    ],
)
async def test_malformed_bodies_are_400(
    http: httpx.AsyncClient, database_url: str, content: bytes, content_type: str, says: str
) -> None:
    before = await counts(database_url)
    response = await http.post(
        "/graphql", content=content, headers={**AUTH, "content-type": content_type}
    )
    assert response.status_code == 400
    assert says.lower() in response.text.lower()
    assert "Traceback" not in response.text
    assert await counts(database_url) == before


async def test_malformed_json_has_an_error_code(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/graphql", content=b"{not json", headers={**AUTH, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_mutations_over_get_are_refused(http: httpx.AsyncClient, database_url: str) -> None:
    query = 'mutation { createApiToken(input: {role: ADMIN, label: "x"}) { token } }'
    response = await http.get("/graphql", params={"query": query}, headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "mutations are not allowed" in response.json()["errors"][0]["message"]
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert (await counts(database_url))["api_token"] == 0


async def test_queries_over_get_work(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/graphql",
        params={"query": "{ programs { id } }"},
        headers={**AUTH, "accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"programs": []}, "extensions": {"cost": 1}}


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ programs { id ", {}, "GRAPHQL_PARSE_FAILED"),
        ("}}}", {}, "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("{ programs { id secret } }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ('{ program(id: "x", extra: 1) { id } }', {}, "GRAPHQL_VALIDATION_FAILED"),
        ("query($id: ID!) { program(id: $id) { id } }", {}, "BAD_USER_INPUT"),
        ("query($id: ID!) { program(id: $id) { id } }", {"id": {"a": 1}}, "BAD_USER_INPUT"),
        ("query($id: ID!) { program(id: $id) { id } }", {"id": [1]}, "BAD_USER_INPUT"),
        (
            REGISTER_IDS,
            {"i": {"programId": "x", "externalId": "a", "displayName": "b", "bogus": 1}},
            "BAD_USER_INPUT",
        ),
        (
            REGISTER_IDS,
            {"i": {"programId": "x", "externalId": 5, "displayName": "b"}},
            "BAD_USER_INPUT",
        ),
        (
            REGISTER_IDS,
            {"i": {"programId": "x", "externalId": "a", "displayName": "b", "channel": "FAX"}},
            "BAD_USER_INPUT",
        ),
        (
            REGISTER_IDS,
            {"i": {"programId": "x", "externalId": "a", "displayName": "b", "joinedAt": "today"}},
            "BAD_USER_INPUT",
        ),
        (
            REGISTER_IDS,
            {"i": {"programId": "x", "externalId": "a", "displayName": "b", "joinedAt": 5}},
            "BAD_USER_INPUT",
        ),
        (
            'mutation($r: Decimal!) { createProgram(input: {name: "P", maxPayoutRate: $r, '
            'tiers: [{name: "T", levelRates: ["0.1"]}]}) { program { id } } }',
            {"r": 0.3},
            "BAD_USER_INPUT",
        ),
        (
            'mutation($r: Decimal!) { createProgram(input: {name: "P", maxPayoutRate: $r, '
            'tiers: [{name: "T", levelRates: ["0.1"]}]}) { program { id } } }',
            {"r": "NaN"},
            "BAD_USER_INPUT",
        ),
        (
            'mutation { createProgram(input: {name: "P", tiers: [{name: "T", '
            'levelRates: ["abc"]}]}) { program { id } } }',
            {},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            'query($f: Int!) { programs { id } customer(programId: "x", externalId: "y") '
            "{ referrals(first: $f) { totalCount } } }",
            {"f": 10**20},
            "BAD_USER_INPUT",
        ),
        (
            '{ customer(programId: "x", externalId: "y") { referrals(first: 99999999999) '
            "{ totalCount } } }",
            {},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ viewer " + "{ referrer " * 20 + "{ id }" + " }" * 20 + " }",
            {},
            "QUERY_TOO_DEEP",
        ),
        ("{ " + " ".join(f"a{i}: programs {{ id }}" for i in range(150)) + " }", {}, None),
    ],
)
async def test_invalid_operations_get_coded_errors(
    http: httpx.AsyncClient,
    database_url: str,
    query: str,
    variables: dict[str, Any],
    code: str | None,
) -> None:
    before = await counts(database_url)
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=AUTH
    )
    body = assert_clean_error(response)
    if code is not None:
        assert body["errors"][0]["extensions"]["code"] == code, body
    assert await counts(database_url) == before


@pytest.mark.parametrize("first", [101, 1000, -1])
async def test_a_huge_first_is_invalid_input(
    gql: GraphQLClient, seeded: dict[str, Any], first: int
) -> None:
    for field in ("referrals", "downline"):
        query = (
            f'query($p: ID!, $f: Int!) {{ customer(programId: $p, externalId: "andi") '
            f"{{ {field}(first: $f) {{ totalCount }} }} }}"
        )
        body = await gql.post(query, {"p": seeded["program"]["id"], "f": first})
        assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
        assert "first" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "bad_id",
    ["", "nope", "UHJvZ3JhbTo5OTk5OQ", "Q3VzdG9tZXI6OTk5OTk", "🙂", "' OR 1=1 --", "x" * 5000],
)
async def test_unknown_ids_are_null_or_user_errors(
    gql: GraphQLClient, seeded: dict[str, Any], database_url: str, bad_id: str
) -> None:
    before = await counts(database_url)
    found = await gql.data(
        'query($id: ID!) { program(id: $id) { id } customer(programId: $id, externalId: "andi") '
        "{ id } }",
        {"id": bad_id},
    )
    assert found == {"program": None, "customer": None}
    registered = await gql.data(
        REGISTER, {"input": {"programId": bad_id, "externalId": "new", "displayName": "N"}}
    )
    assert registered["registerCustomer"]["userErrors"][0]["code"] == "UNKNOWN_PROGRAM"
    issued = await gql.data(
        "mutation($id: ID!) { issueReferralCode(input: {customerId: $id}) "
        "{ referralCode { code } userErrors { code } } }",
        {"id": bad_id},
    )
    assert issued["issueReferralCode"]["userErrors"] == [{"code": "UNKNOWN_CUSTOMER"}]
    assert await counts(database_url) == before


@pytest.mark.parametrize(
    "typed",
    [
        "🙂🙂🙂🙂🙂🙂",
        "'; DROP TABLE referral_code; --",
        "' OR '1'='1",
        "%_%_%_%_",
        "ABCD\x00EFGH",
        "\u202eABCDEFGH",
        "A" * 10_000,
        "\\x00\\x00\\x00\\x00",
    ],
)
async def test_odd_codes_are_clear_errors(
    gql: GraphQLClient, seeded: dict[str, Any], database_url: str, typed: str
) -> None:
    before = await counts(database_url)
    looked_up = await gql.data(
        "query($c: String!) { referralCode(code: $c) { code } }", {"c": typed}
    )
    assert looked_up["referralCode"] is None
    registered = await gql.data(
        REGISTER,
        {
            "input": {
                "programId": seeded["program"]["id"],
                "externalId": "new",
                "displayName": "N",
                "referralCode": typed,
            }
        },
    )
    [error] = registered["registerCustomer"]["userErrors"]
    assert error["code"] == "INVALID_CODE"
    assert error["field"] == ["input", "referralCode"]
    vanity = await gql.data(
        "mutation($id: ID!, $v: String!) { issueReferralCode(input: {customerId: $id, vanity: $v}) "
        "{ referralCode { code } userErrors { code } } }",
        {"id": seeded["customer"]["id"], "v": typed},
    )
    assert vanity["issueReferralCode"]["userErrors"] == [{"code": "INVALID_CODE"}]
    assert await counts(database_url) == before


async def test_a_ten_thousand_character_email(
    gql: GraphQLClient, seeded: dict[str, Any], database_url: str
) -> None:
    before = await counts(database_url)
    data = await gql.data(
        REGISTER,
        {
            "input": {
                "programId": seeded["program"]["id"],
                "externalId": "long",
                "displayName": "Long",
                "email": "a" * 10_000,
            }
        },
    )
    [error] = data["registerCustomer"]["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", ["input", "email"])
    assert await counts(database_url) == before


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (
            'query($e: String!) { customer(programId: "UHJvZ3JhbTox", externalId: $e) { id } }',
            {"e": "an\x00di"},
        ),
        (
            "mutation($l: String!) { createApiToken(input: {role: ADMIN, label: $l}) { token } }",
            {"l": "la\x00bel"},
        ),
    ],
)
async def test_nul_characters_are_invalid_input(
    gql: GraphQLClient,
    seeded: dict[str, Any],
    database_url: str,
    query: str,
    variables: dict[str, Any],
) -> None:
    before = await counts(database_url)
    body = await gql.post(query, variables)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT", body
    assert "Internal" not in body["errors"][0]["message"]
    assert await counts(database_url) == before


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        (
            "mutation($n: String!) { createProgram(input: {name: $n, "
            'tiers: [{name: "T", levelRates: ["0.1"]}]}) { userErrors { code field } } }',
            {"n": "Toko\x00"},
            ("INVALID_INPUT", ["input", "name"]),
        ),
        (
            'mutation($n: String!) { createProgram(input: {name: "Toko", '
            'tiers: [{name: $n, levelRates: ["0.1"]}]}) { userErrors { code field } } }',
            {"n": "T\x00"},
            ("INVALID_PROGRAM_RULES", ["input", "tiers"]),
        ),
    ],
)
async def test_nul_characters_in_program_names_are_user_errors(
    gql: GraphQLClient,
    database_url: str,
    query: str,
    variables: dict[str, Any],
    code: tuple[str, list[str]],
) -> None:
    before = await counts(database_url)
    errors = (await gql.data(query, variables))["createProgram"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [code]
    assert await counts(database_url) == before


async def test_lone_surrogates_are_not_a_crash(http: httpx.AsyncClient, database_url: str) -> None:
    before = await counts(database_url)
    # JSON may carry an unpaired surrogate escape, which UTF-8 cannot encode.
    content = (
        b'{"query": "mutation($n: String!) { createApiToken(input: {role: ADMIN, label: $n}) '
        b'{ token } }", "variables": {"n": "x\\ud800y"}}'
    )
    response = await http.post(
        "/graphql", content=content, headers={**AUTH, "content-type": "application/json"}
    )
    assert response.status_code < 500
    assert "Traceback" not in response.text
    if response.status_code == 200:
        assert response.json()["errors"][0]["extensions"]["code"] != "INTERNAL_SERVER_ERROR"
    assert await counts(database_url) == before


async def test_a_huge_query_is_refused(http: httpx.AsyncClient) -> None:
    query = "{ " + "programs { id } " * 5000 + "}"
    response = await http.post("/graphql", json={"query": query}, headers=AUTH)
    body = assert_clean_error(response)
    assert body["data"] is None
