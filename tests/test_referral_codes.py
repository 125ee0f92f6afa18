"""issueReferralCode and the public referralCode(code) query."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.fixtures import create_program, register, register_ok
from tests.graphql_client import GraphQLClient

ISSUE = """
mutation($input: IssueReferralCodeInput!) {
  issueReferralCode(input: $input) {
    referralCode { code kind uses maxUses expiresAt active owner { externalId } }
    userErrors { field code message }
  }
}"""

LOOK_UP = """
query($code: String!) {
  referralCode(code: $code) { code kind uses maxUses expiresAt active owner { displayName } }
}"""


async def issue_payload(gql: GraphQLClient, customer_id: str, **fields: Any) -> dict[str, Any]:
    data = await gql.data(ISSUE, {"input": {"customerId": customer_id, **fields}})
    payload: dict[str, Any] = data["issueReferralCode"]
    return payload


async def issue(gql: GraphQLClient, customer_id: str, **fields: Any) -> dict[str, Any]:
    payload = await issue_payload(gql, customer_id, **fields)
    assert payload["userErrors"] == [], payload["userErrors"]
    code: dict[str, Any] = payload["referralCode"]
    return code


def refused(payload: dict[str, Any]) -> tuple[str, list[str]]:
    assert payload["referralCode"] is None
    [error] = payload["userErrors"]
    return error["code"], error["field"]


async def look_up(gql: GraphQLClient, code: str) -> dict[str, Any] | None:
    data = await gql.as_token(None).data(LOOK_UP, {"code": code})
    found: dict[str, Any] | None = data["referralCode"]
    return found


async def codes_of(gql: GraphQLClient, program_id: str, external_id: str) -> list[str]:
    data = await gql.data(
        "query($p: ID!, $e: String!) { customer(programId: $p, externalId: $e) "
        "{ referralCodes { code } } }",
        {"p": program_id, "e": external_id},
    )
    return [c["code"] for c in data["customer"]["referralCodes"]]


async def test_a_multi_use_code_by_default(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    code = await issue(gql, andi["id"])
    assert code["kind"] == "MULTI_USE"
    assert code["maxUses"] is None
    assert code["expiresAt"] is None
    assert code["uses"] == 0
    assert code["active"] is True
    assert code["owner"] == {"externalId": "andi"}
    assert len(code["code"]) == 8
    assert code["code"] != andi["referralCodes"][0]["code"]
    assert await codes_of(gql, program["id"], "andi") == [
        andi["referralCodes"][0]["code"],
        code["code"],
    ]


async def test_a_single_use_code_works_once(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    code = await issue(gql, andi["id"], kind="SINGLE_USE")
    assert (code["kind"], code["maxUses"]) == ("SINGLE_USE", 1)
    await register_ok(gql, program["id"], "budi", code["code"])
    after = await look_up(gql, code["code"])
    assert after is not None
    assert (after["uses"], after["active"]) == (1, False)
    payload = await register(gql, program["id"], "cici", code["code"])
    assert payload["userErrors"][0]["code"] == "CODE_EXHAUSTED"


async def test_max_uses(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    code = await issue(gql, andi["id"], maxUses=2)
    assert code["maxUses"] == 2
    await register_ok(gql, program["id"], "r1", code["code"])
    middle = await look_up(gql, code["code"])
    assert middle is not None
    assert (middle["uses"], middle["active"]) == (1, True)
    await register_ok(gql, program["id"], "r2", code["code"])
    full = await look_up(gql, code["code"])
    assert full is not None
    assert (full["uses"], full["active"]) == (2, False)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"maxUses": 0}, "maxUses"),
        ({"maxUses": -5}, "maxUses"),
        ({"maxUses": 2_000_000}, "maxUses"),
        ({"kind": "SINGLE_USE", "maxUses": 3}, "maxUses"),
        ({"expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt"),
    ],
)
async def test_invalid_limits_are_refused(
    gql: GraphQLClient, fields: dict[str, Any], field: str
) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    code, path = refused(await issue_payload(gql, andi["id"], **fields))
    assert (code, path) == ("INVALID_INPUT", ["input", field])
    assert len(await codes_of(gql, program["id"], "andi")) == 1


async def test_an_expiring_code(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    expires = datetime(2100, 1, 1, 12, 0, tzinfo=UTC)
    code = await issue(gql, andi["id"], expiresAt="2100-01-01T19:00:00+07:00")
    assert datetime.fromisoformat(code["expiresAt"]) == expires
    assert code["active"] is True
    payload = await register(gql, program["id"], "budi", code["code"])
    assert payload["userErrors"] == []


async def test_an_expiry_without_offset_is_refused(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    body = await gql.post(
        ISSUE, {"input": {"customerId": andi["id"], "expiresAt": "2100-01-01T00:00:00"}}
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "offset" in body["errors"][0]["message"]


@pytest.mark.parametrize(("requested", "stored"), [("andi2026", "ANDI2026"), (" Siti ", "SITI")])
async def test_a_vanity_code_is_stored_upper_case(
    gql: GraphQLClient, requested: str, stored: str
) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    code = await issue(gql, andi["id"], vanity=requested)
    assert code["code"] == stored
    found = await look_up(gql, requested.lower())
    assert found is not None
    assert found["code"] == stored


async def test_a_taken_vanity_code_is_refused_in_any_program(gql: GraphQLClient) -> None:
    one = await create_program(gql, name="One")
    two = await create_program(gql, name="Two")
    andi = await register_ok(gql, one["id"], "andi")
    budi = await register_ok(gql, two["id"], "budi")
    await issue(gql, andi["id"], vanity="PROMO2026")
    assert refused(await issue_payload(gql, andi["id"], vanity="promo2026")) == (
        "INVALID_CODE",
        ["input", "vanity"],
    )
    assert refused(await issue_payload(gql, budi["id"], vanity="PROMO2026"))[0] == "INVALID_CODE"
    # A vanity equal to someone's default code is taken too.
    default = andi["referralCodes"][0]["code"]
    assert refused(await issue_payload(gql, budi["id"], vanity=default))[0] == "INVALID_CODE"
    assert len(await codes_of(gql, two["id"], "budi")) == 1


@pytest.mark.parametrize(
    "vanity", ["ABC", "A" * 21, "ANDI-2026", "AN DI", "ANDI_26", "ANDİ2026", "🙂🙂🙂🙂", "straße"]
)
async def test_a_malformed_vanity_code_is_refused(gql: GraphQLClient, vanity: str) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    assert refused(await issue_payload(gql, andi["id"], vanity=vanity)) == (
        "INVALID_CODE",
        ["input", "vanity"],
    )


@pytest.mark.parametrize("customer_id", ["Q3VzdG9tZXI6OTk5OTk", "garbage", "", "UHJvZ3JhbToxMjM"])
async def test_an_unknown_customer(gql: GraphQLClient, customer_id: str) -> None:
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    assert refused(await issue_payload(gql, customer_id)) == (
        "UNKNOWN_CUSTOMER",
        ["input", "customerId"],
    )


async def test_a_program_id_is_not_a_customer(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    assert refused(await issue_payload(gql, program["id"]))[0] == "UNKNOWN_CUSTOMER"


async def test_anyone_may_look_up_a_code(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi", displayName="Andi Wijaya")
    code = andi["referralCodes"][0]["code"]
    found = await look_up(gql, f" {code[:4].lower()}-{code[4:]} ")
    assert found == {
        "code": code,
        "kind": "MULTI_USE",
        "uses": 0,
        "maxUses": None,
        "expiresAt": None,
        "active": True,
        "owner": {"displayName": "Andi Wijaya"},
    }


@pytest.mark.parametrize("typed", ["ZZZZ9999", "", "abc", "🙂", "x" * 10_000, "' OR 1=1 --"])
async def test_an_unknown_or_malformed_code_is_null(gql: GraphQLClient, typed: str) -> None:
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    assert await look_up(gql, typed) is None


async def test_anonymous_callers_see_only_the_owners_display_name(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi", email="andi@example.com")
    code = andi["referralCodes"][0]["code"]
    anonymous = gql.as_token(None)
    body = await anonymous.post(
        "query($c: String!) { referralCode(code: $c) { owner { displayName email externalId } } }",
        {"c": code},
    )
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body["errors"][0]["path"] == ["referralCode", "owner", "externalId"]
    assert body["data"] is None or body["data"]["referralCode"] is None
    email = await anonymous.data(
        "query($c: String!) { referralCode(code: $c) { owner { email phone } } }", {"c": code}
    )
    assert email["referralCode"]["owner"] == {"email": None, "phone": None}


async def test_a_bad_token_fails_even_the_public_query(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    code = await gql.as_token("rjk_not-a-real-token").error_code(
        LOOK_UP, {"code": andi["referralCodes"][0]["code"]}
    )
    assert code == "UNAUTHENTICATED"


async def test_issuing_needs_a_token(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    code = await gql.as_token(None).error_code(ISSUE, {"input": {"customerId": andi["id"]}})
    assert code == "UNAUTHENTICATED"
    assert len(await codes_of(gql, program["id"], "andi")) == 1
