"""Operations the tests share: create a program, register customers."""

from __future__ import annotations

from typing import Any

from tests.graphql_client import GraphQLClient

CREATE_PROGRAM = """
mutation($input: CreateProgramInput!) {
  createProgram(input: $input) {
    program { id name currency maxPayoutRate refereeReward holdDays compression createdAt
              tiers { name minQualifiedReferrals minNetworkRevenue levelRates } }
    userErrors { field code message }
  }
}"""

REGISTER = """
mutation($input: RegisterCustomerInput!) {
  registerCustomer(input: $input) {
    customer { id externalId displayName referralCodes { code kind } }
    referral { id status fraudSignals code channel }
    userErrors { field code message }
  }
}"""

DEFAULT_TIERS: list[dict[str, Any]] = [
    {"name": "Bronze", "levelRates": ["0.10", "0.05"]},
    {"name": "Silver", "minQualifiedReferrals": 2, "levelRates": ["0.15", "0.05", "0.02"]},
]


async def create_program(gql: GraphQLClient, **overrides: Any) -> dict[str, Any]:
    """A program (default: two tiers, IDR); fails the test on userErrors."""
    program_input: dict[str, Any] = {"name": "Toko Test", "tiers": DEFAULT_TIERS, **overrides}
    data = await gql.data(CREATE_PROGRAM, {"input": program_input})
    payload = data["createProgram"]
    assert payload["userErrors"] == [], payload["userErrors"]
    program: dict[str, Any] = payload["program"]
    return program


async def register(
    gql: GraphQLClient, program_id: str, external_id: str, code: str | None = None, **fields: Any
) -> dict[str, Any]:
    """The registerCustomer payload (customer, referral, userErrors)."""
    registration_input: dict[str, Any] = {
        "programId": program_id,
        "externalId": external_id,
        "displayName": fields.pop("displayName", f"Customer {external_id}"),
        "referralCode": code,
        **fields,
    }
    data = await gql.data(REGISTER, {"input": registration_input})
    payload: dict[str, Any] = data["registerCustomer"]
    return payload


async def register_ok(
    gql: GraphQLClient, program_id: str, external_id: str, code: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A registered customer (id, externalId, referralCodes); fails the test on userErrors."""
    payload = await register(gql, program_id, external_id, code, **fields)
    assert payload["userErrors"] == [], payload["userErrors"]
    customer: dict[str, Any] = payload["customer"]
    return customer


async def chain(gql: GraphQLClient, program_id: str, length: int) -> list[dict[str, Any]]:
    """A referral chain c0 <- c1 <- ... (each referred by the previous one)."""
    customers = [await register_ok(gql, program_id, "c0")]
    for i in range(1, length):
        code = customers[-1]["referralCodes"][0]["code"]
        customers.append(await register_ok(gql, program_id, f"c{i}", code))
    return customers
