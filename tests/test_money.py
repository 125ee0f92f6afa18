"""Money inputs as rewards.md "Money" reads them: decimals counted as written, trailing
zeros included, at most 10^12 major units, each refusal saying what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures import CREATE_PROGRAM, DEFAULT_TIERS, chain, create_program
from tests.graphql_client import GraphQLClient
from tests.ledger import customer, paid, record, refund

AMOUNT = ["input", "amount"]


def errors(payload: dict[str, Any]) -> list[tuple[str, list[str] | None, str]]:
    return [(e["code"], e["field"], e["message"]) for e in payload["userErrors"]]


@pytest.mark.parametrize(
    ("currency", "amount", "message"),
    [
        # How Indonesians write two hundred fifty thousand: never 250 rupiah.
        ("IDR", "250.000", "is written with 3 decimals, but IDR amounts take none"),
        ("IDR", "250000.00", "is written with 2 decimals, but IDR amounts take none"),
        ("IDR", "100.5", "is written with 1 decimal, but IDR amounts take none"),
        ("JPY", "1.0", "is written with 1 decimal, but JPY amounts take none"),
        ("USD", "10.990", "is written with 3 decimals, but USD amounts take at most 2"),
        ("IDR", "0", "must be above 0, and it is 0"),
        ("IDR", "0.000", "must be above 0, and it is 0"),
        ("IDR", "-5", "must be above 0, and it is negative"),
        ("IDR", "1000000000001", "must be at most 10^12 IDR (1000000000000)"),
        ("IDR", "1000000000000000", "must be at most 10^12 IDR"),
        ("IDR", "1e30", "must be at most 10^12 IDR"),
        ("USD", "1000000000000.01", "must be at most 10^12 USD"),
    ],
)
async def test_a_purchase_amount_is_refused_saying_why(
    gql: GraphQLClient, currency: str, amount: str, message: str
) -> None:
    program = await create_program(gql, currency=currency, refereeReward="0")
    pid = program["id"]
    await chain(gql, pid, 2)
    payload = await record(gql, pid, "c1", "o1", amount)
    [(code, field, text)] = errors(payload)
    assert (code, field) == ("INVALID_AMOUNT", AMOUNT)
    assert text.startswith(f"amount {message}"), text
    assert payload["purchase"] is None
    # Nothing recorded: no reward, no spend, and the orderId is still free.
    assert (await customer(gql, pid, "c0"))["rewards"]["totalCount"] == 0
    assert (await customer(gql, pid, "c0"))["stats"]["networkRevenue"] == "0"
    assert (await record(gql, pid, "c1", "o1", "1000"))["userErrors"] == []


async def test_the_decimals_message_says_how_to_write_rupiah(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    await chain(gql, program["id"], 2)
    [(_, _, text)] = errors(await record(gql, program["id"], "c1", "o1", "250.000"))
    assert text == (
        "amount is written with 3 decimals, but IDR amounts take none:"
        ' write whole numbers ("250000", not "250.000" or "250000.00")'
    )


@pytest.mark.parametrize(
    ("currency", "amount", "paid_to_c0"),
    [
        ("IDR", "250000", "25000"),
        ("IDR", "1000000000000", "100000000000"),  # 10^12 itself is allowed
        ("USD", "10.50", "1.05"),
        ("USD", "10.5", "1.05"),
        ("JPY", "2.5E+3", "250"),  # exponent notation, no decimals
    ],
)
async def test_amounts_within_the_rules_are_recorded(
    gql: GraphQLClient, currency: str, amount: str, paid_to_c0: str
) -> None:
    program = await create_program(gql, currency=currency)
    await chain(gql, program["id"], 2)
    assert await paid(gql, program["id"], "c1", "o1", amount) == [
        ("c0", "REFERRER_COMMISSION", 1, paid_to_c0)
    ]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("50.000", "is written with 3 decimals, but IDR amounts take none"),
        ("0", "must be above 0, and it is 0"),
        ("-1", "must be above 0, and it is negative"),
        ("1e30", "must be at most 10^12 IDR"),
    ],
)
async def test_a_refund_amount_is_refused_saying_why(
    gql: GraphQLClient, amount: str, message: str
) -> None:
    program = await create_program(gql)
    pid = program["id"]
    await chain(gql, pid, 2)
    await paid(gql, pid, "c1", "o1", "250000")
    [(code, field, text)] = errors(await refund(gql, pid, "o1", amount, refund_id="r1"))
    assert (code, field) == ("INVALID_AMOUNT", AMOUNT)
    assert text.startswith(f"amount {message}"), text
    # Nothing refunded, and the refundId is still free.
    assert (await customer(gql, pid, "c0"))["balance"]["reversed"] == "0"
    done = await refund(gql, pid, "o1", "50000", refund_id="r1")
    assert done["purchase"]["refundedAmount"] == "50000"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"refereeReward": "25.000"}, ["refereeReward"], "is written with 3 decimals"),
        ({"refereeReward": "0.5"}, ["refereeReward"], "is written with 1 decimal, but IDR"),
        ({"refereeReward": "-1"}, ["refereeReward"], "must be 0 or more, and it is negative"),
        ({"refereeReward": "1000000000001"}, ["refereeReward"], "must be at most 10^12 IDR"),
        (
            {"currency": "USD", "refereeReward": "5.000"},
            ["refereeReward"],
            "is written with 3 decimals, but USD amounts take at most 2",
        ),
        (
            {
                "tiers": [
                    {"name": "A", "levelRates": ["0.1"]},
                    {"name": "B", "minNetworkRevenue": "5000.000", "levelRates": ["0.1"]},
                ]
            },
            ["tiers", "1", "minNetworkRevenue"],
            "is written with 3 decimals, but IDR amounts take none",
        ),
    ],
)
async def test_rule_amounts_follow_the_same_rules(
    gql: GraphQLClient, overrides: dict[str, Any], field: list[str], message: str
) -> None:
    program_input = {"name": "Toko", "tiers": DEFAULT_TIERS, **overrides}
    payload = (await gql.data(CREATE_PROGRAM, {"input": program_input}))["createProgram"]
    assert payload["program"] is None
    [(code, at, text)] = errors(payload)
    assert (code, at) == ("INVALID_PROGRAM_RULES", ["input", *field])
    assert text.startswith(f"{field[-1]} {message}"), text
    assert (await gql.data("{ programs { id } }"))["programs"] == []


async def test_rule_amounts_within_the_rules_are_kept_as_written(gql: GraphQLClient) -> None:
    usd = await create_program(gql, currency="USD", refereeReward="2.50")
    assert usd["refereeReward"] == "2.50"
    idr = await create_program(gql, refereeReward="25000", tiers=DEFAULT_TIERS)
    assert idr["refereeReward"] == "25000"
