"""createProgram, programs, program: the rules of rewards.md and who may do what."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures import CREATE_PROGRAM, DEFAULT_TIERS, create_program
from tests.graphql_client import GraphQLClient


async def test_create_program_with_defaults(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    assert program["currency"] == "IDR"
    assert program["maxPayoutRate"] == "0.30"
    assert program["refereeReward"] == "0"
    assert program["holdDays"] == 14
    assert program["compression"] is False
    assert program["tiers"][1] == {
        "name": "Silver",
        "minQualifiedReferrals": 2,
        "minNetworkRevenue": "0",
        "levelRates": ["0.15", "0.05", "0.02"],
    }
    listed = await gql.data("{ programs { id name } }")
    assert listed["programs"] == [{"id": program["id"], "name": "Toko Test"}]
    found = await gql.data("query($id: ID!) { program(id: $id) { name } }", {"id": program["id"]})
    assert found["program"] == {"name": "Toko Test"}


def tiers(*rules: dict[str, Any]) -> list[dict[str, Any]]:
    return list(rules)


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"tiers": []}, "INVALID_PROGRAM_RULES", ["input", "tiers"]),
        (
            {"tiers": tiers({"name": "A", "minQualifiedReferrals": 1, "levelRates": ["0.1"]})},
            "INVALID_PROGRAM_RULES",
            ["input", "tiers", "0"],
        ),
        (
            {
                "tiers": tiers(
                    {"name": "A", "levelRates": ["0.1"]},
                    {"name": "B", "minNetworkRevenue": "100", "levelRates": ["0.1"]},
                    {"name": "C", "minNetworkRevenue": "50", "levelRates": ["0.1"]},
                )
            },
            "INVALID_PROGRAM_RULES",
            ["input", "tiers", "2"],
        ),
        (
            {"tiers": tiers({"name": "A", "levelRates": ["1.01"]})},
            "INVALID_PROGRAM_RULES",
            ["input", "tiers", "0", "levelRates"],
        ),
        (
            {"tiers": tiers({"name": "A", "levelRates": ["-0.1"]})},
            "INVALID_PROGRAM_RULES",
            ["input", "tiers", "0", "levelRates"],
        ),
        (
            {"tiers": tiers({"name": "A", "levelRates": ["0.01"] * 21})},
            "INVALID_PROGRAM_RULES",
            ["input", "tiers", "0", "levelRates"],
        ),
        ({"maxPayoutRate": "0"}, "INVALID_PROGRAM_RULES", ["input", "maxPayoutRate"]),
        ({"maxPayoutRate": "1.5"}, "INVALID_PROGRAM_RULES", ["input", "maxPayoutRate"]),
        ({"refereeReward": "-1"}, "INVALID_PROGRAM_RULES", ["input", "refereeReward"]),
        ({"holdDays": -1}, "INVALID_PROGRAM_RULES", ["input", "holdDays"]),
        ({"currency": "rupiah"}, "INVALID_INPUT", ["input", "currency"]),
        ({"name": ""}, "INVALID_INPUT", ["input", "name"]),
    ],
)
async def test_invalid_rules_are_refused(
    gql: GraphQLClient, overrides: dict[str, Any], code: str, field: list[str]
) -> None:
    program_input = {"name": "Toko", "tiers": DEFAULT_TIERS, **overrides}
    data = await gql.data(CREATE_PROGRAM, {"input": program_input})
    payload = data["createProgram"]
    assert payload["program"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert (await gql.data("{ programs { id } }"))["programs"] == []


async def test_twenty_levels_and_rates_at_the_bounds_are_valid(gql: GraphQLClient) -> None:
    program = await create_program(
        gql, tiers=[{"name": "A", "levelRates": ["0"] + ["1"] + ["0.01"] * 18}], maxPayoutRate="1"
    )
    assert len(program["tiers"][0]["levelRates"]) == 20


async def test_only_admin_creates_programs(gql: GraphQLClient) -> None:
    variables = {"input": {"name": "X", "tiers": DEFAULT_TIERS}}
    assert await gql.as_token(None).error_code(CREATE_PROGRAM, variables) == "UNAUTHENTICATED"
    assert await gql.as_token("rjk_nope").error_code(CREATE_PROGRAM, variables) == "UNAUTHENTICATED"


async def test_unknown_program_id_is_null(gql: GraphQLClient) -> None:
    for unknown in ["nonsense", "UHJvZ3JhbTo5OTk5"]:
        found = await gql.data("query($id: ID!) { program(id: $id) { id } }", {"id": unknown})
        assert found["program"] is None
