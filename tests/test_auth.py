"""Tokens and rights: ADMIN, PARTNER (one program), CUSTOMER (signed, expiring), anonymous."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rujuk.db.pool import connect
from tests.fixtures import REGISTER, create_program, register_ok
from tests.graphql_client import ADMIN_TOKEN, GraphQLClient

CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { token userErrors { field code message } }
}"""

CUSTOMER_TOKEN = """
mutation($input: IssueCustomerTokenInput!) {
  issueCustomerToken(input: $input) { token expiresAt userErrors { field code message } }
}"""

VIEWER = """
{ viewer { externalId displayName email phone channel
           referralCodes { code } referrer { displayName }
           referrals { totalCount edges { node { displayName } } }
           stats { directReferrals depth } } }
"""


async def api_token(gql: GraphQLClient, role: str, program_id: str | None = None) -> str:
    data = await gql.data(
        CREATE_TOKEN, {"input": {"role": role, "programId": program_id, "label": f"{role} test"}}
    )
    payload = data["createApiToken"]
    assert payload["userErrors"] == [], payload["userErrors"]
    token: str = payload["token"]
    return token


async def customer_token(gql: GraphQLClient, customer_id: str, ttl: int | None = None) -> str:
    data = await gql.data(CUSTOMER_TOKEN, {"input": {"customerId": customer_id, "ttlSeconds": ttl}})
    payload = data["issueCustomerToken"]
    assert payload["userErrors"] == [], payload["userErrors"]
    token: str = payload["token"]
    return token


def code(customer: dict[str, Any]) -> str:
    value: str = customer["referralCodes"][0]["code"]
    return value


async def two_programs(gql: GraphQLClient) -> tuple[dict[str, Any], dict[str, Any]]:
    return await create_program(gql, name="Toko A"), await create_program(gql, name="Toko B")


async def test_the_environment_admin_token_is_admin(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    assert (await gql.data("{ programs { id } }"))["programs"] == [{"id": program["id"]}]
    assert (await gql.data("{ viewer { id } }"))["viewer"] is None


async def test_a_minted_admin_token_works_and_only_its_hash_is_stored(
    gql: GraphQLClient, database_url: str
) -> None:
    token = await api_token(gql, "ADMIN")
    assert token.startswith("rjk_")
    admin = gql.as_token(token)
    program = await create_program(admin)
    assert (await admin.data("{ programs { id } }"))["programs"] == [{"id": program["id"]}]
    conn = await connect(database_url)
    try:
        rows = await conn.fetch("SELECT * FROM api_token")
    finally:
        await conn.close()
    assert len(rows) == 1
    assert token not in repr([dict(r) for r in rows])
    assert token.encode() not in bytes(rows[0]["token_hash"])


async def test_an_admin_token_with_a_program_is_refused(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    data = await gql.data(
        CREATE_TOKEN, {"input": {"role": "ADMIN", "programId": program["id"], "label": "x"}}
    )
    assert data["createApiToken"]["token"] is None
    assert data["createApiToken"]["userErrors"][0]["field"] == ["input", "programId"]


@pytest.mark.parametrize("program_id", [None, "UHJvZ3JhbTo5OTk5", "garbage"])
async def test_a_partner_token_needs_a_real_program(
    gql: GraphQLClient, program_id: str | None
) -> None:
    await create_program(gql)
    data = await gql.data(
        CREATE_TOKEN, {"input": {"role": "PARTNER", "programId": program_id, "label": "x"}}
    )
    payload = data["createApiToken"]
    assert payload["token"] is None
    [error] = payload["userErrors"]
    assert error["code"] in ("UNKNOWN_PROGRAM", "INVALID_INPUT")
    assert error["field"] == ["input", "programId"]


@pytest.mark.parametrize("label", ["", "   ", "x" * 201])
async def test_a_token_label_is_checked(gql: GraphQLClient, label: str) -> None:
    data = await gql.data(CREATE_TOKEN, {"input": {"role": "ADMIN", "label": label}})
    assert data["createApiToken"]["userErrors"][0]["code"] == "INVALID_INPUT"


async def test_only_admins_mint_api_tokens(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    partner = gql.as_token(await api_token(gql, "PARTNER", program["id"]))
    variables = {"input": {"role": "ADMIN", "label": "escalate"}}
    assert await partner.error_code(CREATE_TOKEN, variables) == "FORBIDDEN"
    assert await gql.as_token(None).error_code(CREATE_TOKEN, variables) == "UNAUTHENTICATED"


async def test_a_partner_works_in_its_own_program(gql: GraphQLClient) -> None:
    a, _ = await two_programs(gql)
    partner = gql.as_token(await api_token(gql, "PARTNER", a["id"]))
    assert (await partner.data("{ programs { name } }"))["programs"] == [{"name": "Toko A"}]
    andi = await register_ok(partner, a["id"], "andi", email="andi@example.com", phone="0811111111")
    budi = await register_ok(partner, a["id"], "budi", code(andi))
    found = await partner.data(
        'query($p: ID!) { customer(programId: $p, externalId: "andi") '
        "{ email phone referrals { totalCount } } }",
        {"p": a["id"]},
    )
    assert found["customer"] == {
        "email": "andi@example.com",
        "phone": "0811111111",
        "referrals": {"totalCount": 1},
    }
    issued = await partner.data(
        "mutation($id: ID!) { issueReferralCode(input: {customerId: $id}) "
        "{ referralCode { code } userErrors { code } } }",
        {"id": andi["id"]},
    )
    assert issued["issueReferralCode"]["userErrors"] == []
    assert (await partner.data("query($id: ID!) { node(id: $id) { id } }", {"id": budi["id"]}))[
        "node"
    ] == {"id": budi["id"]}
    assert await customer_token(partner, budi["id"])


async def test_a_partner_is_forbidden_in_another_program(gql: GraphQLClient) -> None:
    a, b = await two_programs(gql)
    other = await register_ok(gql, b["id"], "bob")
    referred = await register_ok(gql, b["id"], "bea", code(other))
    link = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "bea") { referral { id } } }',
        {"p": b["id"]},
    )
    partner = gql.as_token(await api_token(gql, "PARTNER", a["id"]))
    node = "query($id: ID!) { node(id: $id) { id } }"
    forbidden: list[tuple[str, dict[str, Any]]] = [
        ("query($id: ID!) { program(id: $id) { name } }", {"id": b["id"]}),
        (node, {"id": b["id"]}),
        (node, {"id": other["id"]}),
        (node, {"id": link["customer"]["referral"]["id"]}),
        (
            'query($p: ID!) { customer(programId: $p, externalId: "bob") { id } }',
            {"p": b["id"]},
        ),
        (
            REGISTER,
            {"input": {"programId": b["id"], "externalId": "intruder", "displayName": "X"}},
        ),
        (
            "mutation($id: ID!) { issueReferralCode(input: {customerId: $id}) "
            "{ referralCode { code } } }",
            {"id": other["id"]},
        ),
        (CUSTOMER_TOKEN, {"input": {"customerId": referred["id"]}}),
        (
            'mutation { createProgram(input: {name: "Mine", tiers: [{name: "T", '
            'levelRates: ["0.1"]}]}) { program { id } } }',
            {},
        ),
    ]
    for query, variables in forbidden:
        assert await partner.error_code(query, variables) == "FORBIDDEN", query
    # Nothing was written in program B.
    missing = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "intruder") { id } }',
        {"p": b["id"]},
    )
    assert missing["customer"] is None
    codes = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "bob") { referralCodes { code } } }',
        {"p": b["id"]},
    )
    assert len(codes["customer"]["referralCodes"]) == 1


async def test_a_customer_token_sees_its_own_data(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    p = program["id"]
    andi = await register_ok(gql, p, "andi", displayName="Andi", email="andi@example.com")
    budi = await register_ok(
        gql, p, "budi", code(andi), displayName="Budi", email="budi@example.com", phone="0812222222"
    )
    await register_ok(gql, p, "cici", code(budi), displayName="Cici")
    data = await gql.data(CUSTOMER_TOKEN, {"input": {"customerId": budi["id"], "ttlSeconds": 600}})
    issued = data["issueCustomerToken"]
    assert issued["token"].startswith("rjc_")
    expires = datetime.fromisoformat(issued["expiresAt"])
    assert abs(expires - (datetime.now(UTC) + timedelta(seconds=600))) < timedelta(seconds=30)
    me = gql.as_token(issued["token"])
    viewer = (await me.data(VIEWER))["viewer"]
    assert viewer == {
        "externalId": "budi",
        "displayName": "Budi",
        "email": None,
        "phone": None,
        "channel": "DIRECT",
        "referralCodes": [{"code": code(budi)}],
        "referrer": {"displayName": "Andi"},
        "referrals": {"totalCount": 1, "edges": [{"node": {"displayName": "Cici"}}]},
        "stats": {"directReferrals": 1, "depth": 1},
    }
    own = await me.data(
        'query($p: ID!) { customer(programId: $p, externalId: "budi") { displayName } }',
        {"p": p},
    )
    assert own["customer"] == {"displayName": "Budi"}


@pytest.mark.parametrize(
    "selection",
    [
        "referrer { externalId }",
        "referrer { referralCodes { code } }",
        "referrer { joinedAt }",
        "referrer { referrals { totalCount } }",
        "referrer { stats { depth } }",
        "referrals { edges { node { channel } } }",
        "referrals { edges { node { referrer { externalId } } } }",
        "referrer { referral { id } }",
    ],
)
async def test_a_customer_token_sees_others_by_display_name_only(
    gql: GraphQLClient, selection: str
) -> None:
    program = await create_program(gql)
    p = program["id"]
    andi = await register_ok(gql, p, "andi", email="andi@example.com")
    budi = await register_ok(gql, p, "budi", code(andi))
    await register_ok(gql, p, "cici", code(budi))
    me = gql.as_token(await customer_token(gql, budi["id"]))
    assert await me.error_code(f"{{ viewer {{ {selection} }} }}") == "FORBIDDEN"
    hidden = await me.data("{ viewer { referrer { displayName email phone } } }")
    assert hidden["viewer"]["referrer"] == {
        "displayName": "Customer andi",
        "email": None,
        "phone": None,
    }


async def test_a_customer_token_may_not_act_or_look_elsewhere(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    other_program = await create_program(gql, name="Other")
    p = program["id"]
    andi = await register_ok(gql, p, "andi")
    budi = await register_ok(gql, p, "budi", code(andi))
    me = gql.as_token(await customer_token(gql, budi["id"]))
    checks: list[tuple[str, dict[str, Any]]] = [
        ('query($p: ID!) { customer(programId: $p, externalId: "andi") { id } }', {"p": p}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": andi["id"]}),
        ("query($id: ID!) { program(id: $id) { id } }", {"id": other_program["id"]}),
        (REGISTER, {"input": {"programId": p, "externalId": "new", "displayName": "N"}}),
        (CUSTOMER_TOKEN, {"input": {"customerId": budi["id"]}}),
        (CREATE_TOKEN, {"input": {"role": "ADMIN", "label": "x"}}),
        (
            "mutation($id: ID!) { issueReferralCode(input: {customerId: $id}) "
            "{ referralCode { code } } }",
            {"id": budi["id"]},
        ),
    ]
    for query, variables in checks:
        assert await me.error_code(query, variables) == "FORBIDDEN", query
    own_program = await me.data("query($id: ID!) { program(id: $id) { name } }", {"id": p})
    assert own_program["program"] == {"name": "Toko Test"}


@pytest.mark.parametrize("ttl", [0, 59, -1, 31 * 24 * 3600])
async def test_customer_token_lifetime_is_bounded(gql: GraphQLClient, ttl: int) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    data = await gql.data(CUSTOMER_TOKEN, {"input": {"customerId": andi["id"], "ttlSeconds": ttl}})
    payload = data["issueCustomerToken"]
    assert payload["token"] is None
    assert payload["userErrors"][0]["code"] == "INVALID_INPUT"
    assert payload["userErrors"][0]["field"] == ["input", "ttlSeconds"]


async def test_a_customer_token_for_an_unknown_customer(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    for customer_id in ("Q3VzdG9tZXI6OTk5OTk", "garbage", program["id"]):
        data = await gql.data(CUSTOMER_TOKEN, {"input": {"customerId": customer_id}})
        assert data["issueCustomerToken"]["userErrors"][0]["code"] == "UNKNOWN_CUSTOMER"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_tampered_and_malformed_customer_tokens_are_unauthenticated(
    gql: GraphQLClient,
) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    budi = await register_ok(gql, program["id"], "budi")
    token = await customer_token(gql, andi["id"])
    body, _, signature = token.removeprefix("rjc_").partition(".")
    claims = json.loads(unb64(body))
    budi_number = int(unb64(budi["id"]).decode().rpartition(":")[2])
    forged_claims = b64(json.dumps({**claims, "c": budi_number}, separators=(",", ":")).encode())
    longer = b64(json.dumps({**claims, "e": claims["e"] + 10**6}, separators=(",", ":")).encode())
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    bad_tokens = [
        f"rjc_{body}.{flipped}",
        f"rjc_{forged_claims}.{signature}",
        f"rjc_{longer}.{signature}",
        f"rjc_{body}",
        f"rjc_{body}.",
        "rjc_",
        "rjc_.",
        "rjc_!!!.???",
        f"rjc_{body}.{signature}x",
        "rjc_" + "A" * 500,
        "rjk_" + "A" * 43,
        "x" * 600,
        "not-a-token",
    ]
    for bad in bad_tokens:
        assert await gql.as_token(bad).error_code("{ viewer { id } }") == "UNAUTHENTICATED", bad
    assert (await gql.as_token(token).data("{ viewer { externalId } }"))["viewer"] == {
        "externalId": "andi"
    }


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer    ",
        f"Token {ADMIN_TOKEN}",
        "Bearer rjc_\u00e9\u00e9.\u00e9\u00e9",
        "Bearer \u00ff" * 3,
    ],
)
async def test_malformed_authorization_headers(gql: GraphQLClient, header: str) -> None:
    response = await gql.http.post(
        "/graphql",
        json={"query": "{ programs { id } }"},
        headers=[(b"authorization", header.encode("latin-1"))],
    )
    assert response.status_code == 200, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_anonymous_gets_only_referral_code_and_introspection(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    anonymous = gql.as_token(None)
    schema = await anonymous.data(
        '{ __schema { queryType { name } } __type(name: "Customer") { name } }'
    )
    assert schema == {"__schema": {"queryType": {"name": "Query"}}, "__type": {"name": "Customer"}}
    found = await anonymous.data(
        "query($c: String!) { referralCode(code: $c) { code } }", {"c": code(andi)}
    )
    assert found["referralCode"] == {"code": code(andi)}
    refused: list[tuple[str, dict[str, Any]]] = [
        ("{ programs { id } }", {}),
        ("{ viewer { id } }", {}),
        ("query($id: ID!) { program(id: $id) { id } }", {"id": program["id"]}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": andi["id"]}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": "garbage"}),
        (
            'query($p: ID!) { customer(programId: $p, externalId: "andi") { id } }',
            {"p": program["id"]},
        ),
        (REGISTER, {"input": {"programId": program["id"], "externalId": "x", "displayName": "X"}}),
        (CUSTOMER_TOKEN, {"input": {"customerId": andi["id"]}}),
        (CREATE_TOKEN, {"input": {"role": "ADMIN", "label": "x"}}),
    ]
    for query, variables in refused:
        assert await anonymous.error_code(query, variables) == "UNAUTHENTICATED", query
    missing = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "x") { id } }', {"p": program["id"]}
    )
    assert missing["customer"] is None


async def test_an_erased_customers_token_stops_working(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    me = gql.as_token(await customer_token(gql, andi["id"]))
    assert (await me.data("{ viewer { externalId } }"))["viewer"] == {"externalId": "andi"}
    erased = await gql.data(
        "mutation($id: ID!) { eraseCustomer(input: {customerId: $id}) { userErrors { code } } }",
        {"id": andi["id"]},
    )
    assert erased["eraseCustomer"]["userErrors"] == []
    assert await me.error_code("{ viewer { externalId } }") == "UNAUTHENTICATED"
    data = await gql.data(CUSTOMER_TOKEN, {"input": {"customerId": andi["id"]}})
    assert data["issueCustomerToken"]["userErrors"][0]["code"] == "UNKNOWN_CUSTOMER"


LIST_TOKENS = "{ apiTokens { id role programId label createdAt revokedAt } }"
REVOKE = """
mutation($id: ID!) {
  revokeApiToken(input: {id: $id}) { apiToken { id revokedAt } userErrors { field code } }
}"""


async def test_tokens_are_listed_without_secrets_and_revoked_for_good(gql: GraphQLClient) -> None:
    a, b = await two_programs(gql)
    created = await gql.data(
        CREATE_TOKEN,
        {"input": {"role": "PARTNER", "programId": a["id"], "label": "shop A"}},
    )
    token = created["createApiToken"]["token"]
    other = await api_token(gql, "PARTNER", b["id"])
    fields = await gql.data('{ __type(name: "ApiToken") { fields { name } } }')
    assert {f["name"] for f in fields["__type"]["fields"]} == {
        "id",
        "role",
        "programId",
        "label",
        "createdAt",
        "revokedAt",
    }
    listed = (await gql.data(LIST_TOKENS))["apiTokens"]
    assert [(t["role"], t["label"], t["revokedAt"]) for t in listed] == [
        ("PARTNER", "shop A", None),
        ("PARTNER", "PARTNER test", None),
    ]
    assert token not in repr(listed)
    partner = gql.as_token(token)
    # A partner sees its own program's tokens only, and may retire a leaked one itself.
    own = (await partner.data(LIST_TOKENS))["apiTokens"]
    assert [t["programId"] for t in own] == [a["id"]]
    revoked = (await partner.data(REVOKE, {"id": own[0]["id"]}))["revokeApiToken"]
    assert revoked["userErrors"] == []
    assert revoked["apiToken"]["revokedAt"] is not None
    assert await partner.error_code("{ programs { id } }") == "UNAUTHENTICATED"
    # Revoking again keeps the first time; the other program's token still works.
    again = (await gql.data(REVOKE, {"id": own[0]["id"]}))["revokeApiToken"]
    assert again["apiToken"] == revoked["apiToken"]
    assert (await gql.as_token(other).data("{ programs { name } }"))["programs"] == [
        {"name": "Toko B"}
    ]
    for unknown in ("QXBpVG9rZW46OTk5OQ", "garbage", a["id"]):
        missing = (await gql.data(REVOKE, {"id": unknown}))["revokeApiToken"]
        assert missing["userErrors"] == [{"field": ["input", "id"], "code": "NOT_FOUND"}]
