"""updateProgram and the v2 fields of createProgram: rights, validation as a whole, rule
versions, pause and resume, and what a purchase keeps of the rules it was priced under."""

from __future__ import annotations

from typing import Any

import pytest

from rujuk.db import programs as program_queries
from rujuk.db.pool import connect
from rujuk.ids import local_id
from tests.fixtures import chain, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import record

RULES = """
  id name currency rulesVersion active timeZone minPurchaseAmount commissionWindowDays
  commissionPurchaseLimit monthlyCapPerReferrer maxPayoutRate refereeReward holdDays
  compression blockedEmailDomains maxSignupsPerIpPerDay
  milestones { qualifiedReferrals reward }
  tiers { name minQualifiedReferrals minNetworkRevenue levelRates levelAmounts }
"""

CREATE = f"""
mutation($input: CreateProgramInput!) {{
  createProgram(input: $input) {{ program {{ {RULES} }} userErrors {{ field code message }} }}
}}"""

UPDATE = f"""
mutation($input: UpdateProgramInput!) {{
  updateProgram(input: $input) {{ program {{ {RULES} }} userErrors {{ field code message }} }}
}}"""

READ = f"query($id: ID!) {{ program(id: $id) {{ {RULES} }} }}"

BUY = """
mutation($input: RecordPurchaseInput!) {
  recordPurchase(input: $input) {
    purchase { orderId rulesVersion eligible
               rewards { kind level milestone amount beneficiary { externalId } } }
    rewards { kind level milestone rate amount beneficiary { externalId } }
    userErrors { field code message }
  }
}"""

TIERS = [
    {"name": "Bronze", "levelRates": ["0.10", "0.05"]},
    {"name": "Silver", "minQualifiedReferrals": 2, "levelRates": ["0.15", "0.05", "0.02"]},
]

EVERY_RULE: dict[str, Any] = {
    "name": "Toko Lengkap",
    "currency": "IDR",
    "tiers": [
        {"name": "Bronze", "levelRates": ["0.10"], "levelAmounts": ["0", "500"]},
        {
            "name": "Gold",
            "minQualifiedReferrals": 5,
            "minNetworkRevenue": "1000000",
            "levelRates": ["0.15", "0.05"],
            "levelAmounts": ["1000"],
        },
    ],
    "maxPayoutRate": "0.25",
    "refereeReward": "10000",
    "holdDays": 7,
    "compression": True,
    "timeZone": "America/New_York",
    "minPurchaseAmount": "50000",
    "commissionWindowDays": 90,
    "commissionPurchaseLimit": 3,
    "monthlyCapPerReferrer": "2000000",
    "milestones": [
        {"qualifiedReferrals": 3, "reward": "50000"},
        {"qualifiedReferrals": 10, "reward": "250000"},
    ],
    "blockedEmailDomains": ["mailinator.com", "xn--80ak6aa92e.com"],
    "maxSignupsPerIpPerDay": 4,
}


async def create(gql: GraphQLClient, **fields: Any) -> dict[str, Any]:
    """A program with these fields (TIERS unless given); fails the test on userErrors."""
    payload = (await gql.data(CREATE, {"input": {"name": "Toko", "tiers": TIERS, **fields}}))[
        "createProgram"
    ]
    assert payload["userErrors"] == [], payload["userErrors"]
    program: dict[str, Any] = payload["program"]
    return program


async def update(gql: GraphQLClient, program_id: str, **fields: Any) -> dict[str, Any]:
    """The updateProgram payload."""
    data = await gql.data(UPDATE, {"input": {"programId": program_id, **fields}})
    payload: dict[str, Any] = data["updateProgram"]
    return payload


async def updated(gql: GraphQLClient, program_id: str, **fields: Any) -> dict[str, Any]:
    """The program after an update that must succeed."""
    payload = await update(gql, program_id, **fields)
    assert payload["userErrors"] == [], payload["userErrors"]
    program: dict[str, Any] = payload["program"]
    return program


async def read(gql: GraphQLClient, program_id: str) -> dict[str, Any]:
    program: dict[str, Any] = (await gql.data(READ, {"id": program_id}))["program"]
    return program


async def buy(
    gql: GraphQLClient, program_id: str, customer: str, order: str, amount: str
) -> dict[str, Any]:
    """The recordPurchase payload of a purchase that must be recorded."""
    data = await gql.data(
        BUY,
        {
            "input": {
                "programId": program_id,
                "customerExternalId": customer,
                "orderId": order,
                "amount": amount,
            }
        },
    )
    payload: dict[str, Any] = data["recordPurchase"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


def paid(payload: dict[str, Any]) -> list[tuple[str, str, int, str]]:
    return [
        (r["beneficiary"]["externalId"], r["kind"], r["level"], r["amount"])
        for r in payload["rewards"]
    ]


# --- createProgram ---------------------------------------------------------------------


async def test_create_program_takes_every_rule_and_reads_it_back(gql: GraphQLClient) -> None:
    program = await create(gql, **EVERY_RULE)
    expected = {
        **EVERY_RULE,
        "id": program["id"],
        "rulesVersion": 1,
        "active": True,
        "tiers": [
            {"minQualifiedReferrals": 0, "minNetworkRevenue": "0", **EVERY_RULE["tiers"][0]},
            EVERY_RULE["tiers"][1],
        ],
    }
    assert program == expected
    assert await read(gql, program["id"]) == expected


async def test_create_program_defaults_are_the_contracts(gql: GraphQLClient) -> None:
    program = await create(gql)
    assert {k: program[k] for k in program if k not in ("id", "tiers")} == {
        "name": "Toko",
        "currency": "IDR",
        "rulesVersion": 1,
        "active": True,
        "timeZone": "Asia/Jakarta",
        "minPurchaseAmount": "0",
        "commissionWindowDays": None,
        "commissionPurchaseLimit": None,
        "monthlyCapPerReferrer": None,
        "maxPayoutRate": "0.30",
        "refereeReward": "0",
        "holdDays": 14,
        "compression": False,
        "blockedEmailDomains": [],
        "maxSignupsPerIpPerDay": 10,
        "milestones": [],
    }
    assert [t["levelAmounts"] for t in program["tiers"]] == [[], []]


@pytest.mark.parametrize("rate", ["1e-20000", "0.000000000000000000001", "NaN", "Infinity"])
async def test_a_rate_of_absurd_precision_is_invalid_rules_not_a_server_error(
    gql: GraphQLClient, rate: str
) -> None:
    """maxPayoutRate "1e-20000" used to pass validation and fail in PostgreSQL
    (INTERNAL_SERVER_ERROR)."""
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"maxPayoutRate": rate}, ["input", "maxPayoutRate"]),
        (
            {"tiers": [{"name": "A", "levelRates": [rate]}]},
            ["input", "tiers", "0", "levelRates"],
        ),
    ]
    for fields, path in cases:
        body = await gql.post(CREATE, {"input": {"name": "Toko", "tiers": TIERS, **fields}})
        if "errors" in body:  # the Decimal scalar refuses NaN and Infinity itself
            assert rate in ("NaN", "Infinity"), body
            assert body["errors"][0]["extensions"]["code"] != "INTERNAL_SERVER_ERROR"
            continue
        payload = body["data"]["createProgram"]
        assert payload["program"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("INVALID_PROGRAM_RULES", path)
        ]
    assert (await gql.data("{ programs { id } }"))["programs"] == []


async def test_create_program_names_every_field_at_fault(gql: GraphQLClient) -> None:
    body = await gql.data(
        CREATE,
        {
            "input": {
                "name": "Toko",
                "tiers": [{"name": "A", "levelRates": ["2"], "levelAmounts": ["0.5"]}],
                "timeZone": "Mars/Olympus",
                "milestones": [
                    {"qualifiedReferrals": 5, "reward": "100"},
                    {"qualifiedReferrals": 5, "reward": "0"},
                ],
                "blockedEmailDomains": ["Mailinator.com"],
            }
        },
    )
    errors = body["createProgram"]["userErrors"]
    assert sorted(tuple(e["field"]) for e in errors) == sorted(
        [
            ("input", "tiers", "0", "levelRates"),
            ("input", "tiers", "0", "levelAmounts"),
            ("input", "timeZone"),
            ("input", "milestones", "1", "qualifiedReferrals"),
            ("input", "milestones", "1", "reward"),
            ("input", "blockedEmailDomains"),
        ]
    )
    assert {e["code"] for e in errors} == {"INVALID_PROGRAM_RULES"}
    assert all(e["message"] for e in errors)


# --- updateProgram: rights --------------------------------------------------------------


async def api_token(gql: GraphQLClient, role: str, program_id: str | None) -> str:
    data = await gql.data(
        "mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { token } }",
        {"input": {"role": role, "programId": program_id, "label": f"{role} token"}},
    )
    token: str = data["createApiToken"]["token"]
    return token


async def test_update_program_rights(gql: GraphQLClient) -> None:
    mine = await create(gql, name="Mine")
    other = await create(gql, name="Other")
    partner = gql.as_token(await api_token(gql, "PARTNER", mine["id"]))
    other_partner = gql.as_token(await api_token(gql, "PARTNER", other["id"]))
    buyer = await register_ok(gql, mine["id"], "buyer")
    customer_token = (
        await gql.data(
            "mutation($id: ID!) { issueCustomerToken(input: {customerId: $id}) { token } }",
            {"id": buyer["id"]},
        )
    )["issueCustomerToken"]["token"]
    variables = {"input": {"programId": mine["id"], "holdDays": 3}}

    assert await gql.as_token(None).error_code(UPDATE, variables) == "UNAUTHENTICATED"
    assert await gql.as_token("rjk_nope").error_code(UPDATE, variables) == "UNAUTHENTICATED"
    assert await gql.as_token(customer_token).error_code(UPDATE, variables) == "FORBIDDEN"
    assert await other_partner.error_code(UPDATE, variables) == "FORBIDDEN"
    assert (await read(gql, mine["id"]))["rulesVersion"] == 1  # none of them changed it

    by_partner = await updated(partner, mine["id"], holdDays=3)
    assert (by_partner["holdDays"], by_partner["rulesVersion"]) == (3, 2)
    by_admin = await updated(gql, mine["id"], holdDays=4)
    assert (by_admin["holdDays"], by_admin["rulesVersion"]) == (4, 3)
    # The other partner's own program is its to change; ours stays as it is.
    assert (await updated(other_partner, other["id"], holdDays=1))["holdDays"] == 1
    assert (await read(gql, mine["id"]))["holdDays"] == 4


@pytest.mark.parametrize("program_id", ["nonsense", "UHJvZ3JhbTo5OTk5"])
async def test_update_of_an_unknown_program(gql: GraphQLClient, program_id: str) -> None:
    payload = await update(gql, program_id, name="X")
    assert payload["program"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("UNKNOWN_PROGRAM", ["input", "programId"])
    ]


# --- updateProgram: omitted, null, versions ----------------------------------------------


async def test_omitted_fields_keep_their_value_and_null_removes_a_limit(
    gql: GraphQLClient,
) -> None:
    program = await create(gql, **EVERY_RULE)
    pid = program["id"]
    renamed = await updated(gql, pid, name="Toko Baru")
    assert renamed == {**program, "name": "Toko Baru", "rulesVersion": 2}
    # null on a field that is no limit keeps it too.
    assert await updated(gql, pid, holdDays=None, tiers=None, active=None) == renamed
    removed = await updated(
        gql,
        pid,
        commissionWindowDays=None,
        commissionPurchaseLimit=None,
        monthlyCapPerReferrer=None,
    )
    assert removed == {
        **renamed,
        "commissionWindowDays": None,
        "commissionPurchaseLimit": None,
        "monthlyCapPerReferrer": None,
        "rulesVersion": 3,
    }
    restored = await updated(gql, pid, commissionWindowDays=30, monthlyCapPerReferrer="5000")
    assert (restored["commissionWindowDays"], restored["monthlyCapPerReferrer"]) == (30, "5000")
    assert restored["commissionPurchaseLimit"] is None
    assert restored["rulesVersion"] == 4
    assert await read(gql, pid) == restored


async def test_currency_cannot_be_updated(gql: GraphQLClient) -> None:
    program = await create(gql)
    body = await gql.post(UPDATE, {"input": {"programId": program["id"], "currency": "USD"}})
    assert body["errors"][0]["extensions"]["code"] in (
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_USER_INPUT",
    )
    assert (await read(gql, program["id"]))["currency"] == "IDR"


async def test_the_version_counts_changes_of_value_only(gql: GraphQLClient) -> None:
    program = await create(gql, **EVERY_RULE)
    pid = program["id"]
    # The same values, decimals written otherwise: nothing changes, not even how they read.
    same = await updated(
        gql,
        pid,
        name="Toko Lengkap",
        maxPayoutRate="0.250",
        refereeReward="10000",
        monthlyCapPerReferrer="2000000",
        tiers=[
            {"name": "Bronze", "levelRates": ["0.1"], "levelAmounts": ["0", "500"]},
            {
                "name": "Gold",
                "minQualifiedReferrals": 5,
                "minNetworkRevenue": "1000000",
                "levelRates": ["0.150", "0.05"],
                "levelAmounts": ["1000"],
            },
        ],
        milestones=EVERY_RULE["milestones"],
        blockedEmailDomains=EVERY_RULE["blockedEmailDomains"],
        active=True,
    )
    assert same == program
    assert await updated(gql, pid) == program  # nothing given at all
    version = 1
    changes: list[dict[str, Any]] = [
        {"name": "Toko Lengkap 2"},
        {"active": False},
        {"active": True},
        {"blockedEmailDomains": ["mailinator.com"]},
        {"maxSignupsPerIpPerDay": 5},
        {"timeZone": "Asia/Makassar"},
        {"minPurchaseAmount": "0"},
        {"milestones": []},
        {"compression": False},
        {"maxPayoutRate": "0.3"},
        # a level that pays nothing is still a level of the list: a change
        {"tiers": [{"name": "Bronze", "levelRates": ["0.1", "0"]}]},
    ]
    for change in changes:
        version += 1
        after = await updated(gql, pid, **change)
        assert after["rulesVersion"] == version, change
        # ...and once more: the same value again is no change.
        assert (await updated(gql, pid, **change))["rulesVersion"] == version, change
    stored = await read(gql, pid)
    assert stored["maxPayoutRate"] == "0.3"
    assert stored["tiers"] == [
        {
            "name": "Bronze",
            "minQualifiedReferrals": 0,
            "minNetworkRevenue": "0",
            "levelRates": ["0.1", "0"],
            "levelAmounts": [],
        }
    ]


async def test_every_version_stays_readable_in_the_database(
    gql: GraphQLClient, database_url: str
) -> None:
    program = await create(gql, maxPayoutRate="0.20")
    pid = program["id"]
    await updated(gql, pid, maxPayoutRate="0.10", refereeReward="500")
    await updated(gql, pid, maxPayoutRate="0.10")  # no change: no version
    await updated(gql, pid, active=False, commissionWindowDays=30)
    program_id = local_id(pid, "Program")
    assert program_id is not None
    conn = await connect(database_url)
    try:
        versions = await conn.fetch(
            "SELECT version FROM program_rules WHERE program_id = $1 ORDER BY version",
            program_id,
        )
        assert [r["version"] for r in versions] == [1, 2, 3]
        first, second, third = [
            await program_queries.rules_of_version(conn, program_id, v) for v in (1, 2, 3)
        ]
        current = await program_queries.get_program(conn, program_id)
    finally:
        await conn.close()
    assert first is not None
    assert second is not None
    assert third is not None
    assert (str(first.max_payout_rate), str(first.referee_reward), first.active) == (
        "0.20",
        "0",
        True,
    )
    assert (str(second.max_payout_rate), str(second.referee_reward)) == ("0.10", "500")
    assert (third.active, third.commission_window_days, third.rules_version) == (False, 30, 3)
    assert third == current


# --- updateProgram: validation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"name": ""}, "INVALID_INPUT", ["input", "name"]),
        ({"tiers": []}, "INVALID_PROGRAM_RULES", ["input", "tiers"]),
        (
            {"tiers": [{"name": "A", "minQualifiedReferrals": 1, "levelRates": ["0.1"]}]},
            "INVALID_PROGRAM_RULES",
            ["input", "tiers", "0"],
        ),
        (
            {
                "tiers": [
                    {"name": "A", "levelRates": ["0.1"]},
                    {"name": "B", "minQualifiedReferrals": 3, "levelRates": ["0.1"]},
                    {"name": "C", "minQualifiedReferrals": 2, "levelRates": ["0.1"]},
                ]
            },
            "INVALID_PROGRAM_RULES",
            ["input", "tiers", "2"],
        ),
        (
            {"tiers": [{"name": "A", "levelRates": ["1.5"]}]},
            "INVALID_PROGRAM_RULES",
            ["input", "tiers", "0", "levelRates"],
        ),
        (
            # 20 rates and 21 amounts: the longer list counts.
            {"tiers": [{"name": "A", "levelRates": ["0.01"] * 20, "levelAmounts": ["1"] * 21}]},
            "INVALID_PROGRAM_RULES",
            ["input", "tiers", "0", "levelAmounts"],
        ),
        (
            {"tiers": [{"name": "A", "levelRates": ["0.1"], "levelAmounts": ["-1"]}]},
            "INVALID_PROGRAM_RULES",
            ["input", "tiers", "0", "levelAmounts"],
        ),
        (
            {"tiers": [{"name": "A", "levelRates": ["0.1"], "levelAmounts": ["250.000"]}]},
            "INVALID_PROGRAM_RULES",
            ["input", "tiers", "0", "levelAmounts"],
        ),
        ({"maxPayoutRate": "0"}, "INVALID_PROGRAM_RULES", ["input", "maxPayoutRate"]),
        ({"maxPayoutRate": "1.01"}, "INVALID_PROGRAM_RULES", ["input", "maxPayoutRate"]),
        ({"maxPayoutRate": "1e-20000"}, "INVALID_PROGRAM_RULES", ["input", "maxPayoutRate"]),
        ({"refereeReward": "-5"}, "INVALID_PROGRAM_RULES", ["input", "refereeReward"]),
        ({"refereeReward": "10.5"}, "INVALID_PROGRAM_RULES", ["input", "refereeReward"]),
        ({"holdDays": -1}, "INVALID_PROGRAM_RULES", ["input", "holdDays"]),
        ({"timeZone": "WIB"}, "INVALID_PROGRAM_RULES", ["input", "timeZone"]),
        ({"timeZone": "../../etc/passwd"}, "INVALID_PROGRAM_RULES", ["input", "timeZone"]),
        ({"timeZone": ""}, "INVALID_PROGRAM_RULES", ["input", "timeZone"]),
        ({"minPurchaseAmount": "-1"}, "INVALID_PROGRAM_RULES", ["input", "minPurchaseAmount"]),
        ({"minPurchaseAmount": "1.5"}, "INVALID_PROGRAM_RULES", ["input", "minPurchaseAmount"]),
        ({"commissionWindowDays": 0}, "INVALID_PROGRAM_RULES", ["input", "commissionWindowDays"]),
        (
            {"commissionPurchaseLimit": 0},
            "INVALID_PROGRAM_RULES",
            ["input", "commissionPurchaseLimit"],
        ),
        (
            {"monthlyCapPerReferrer": "-1"},
            "INVALID_PROGRAM_RULES",
            ["input", "monthlyCapPerReferrer"],
        ),
        (
            {"monthlyCapPerReferrer": "100.00"},
            "INVALID_PROGRAM_RULES",
            ["input", "monthlyCapPerReferrer"],
        ),
        (
            {"milestones": [{"qualifiedReferrals": 0, "reward": "100"}]},
            "INVALID_PROGRAM_RULES",
            ["input", "milestones", "0", "qualifiedReferrals"],
        ),
        (
            {
                "milestones": [
                    {"qualifiedReferrals": 5, "reward": "100"},
                    {"qualifiedReferrals": 3, "reward": "100"},
                ]
            },
            "INVALID_PROGRAM_RULES",
            ["input", "milestones", "1", "qualifiedReferrals"],
        ),
        (
            {"milestones": [{"qualifiedReferrals": 1, "reward": "0"}]},
            "INVALID_PROGRAM_RULES",
            ["input", "milestones", "0", "reward"],
        ),
        (
            {"milestones": [{"qualifiedReferrals": 1, "reward": "99.5"}]},
            "INVALID_PROGRAM_RULES",
            ["input", "milestones", "0", "reward"],
        ),
        (
            {"blockedEmailDomains": ["Mailinator.com"]},
            "INVALID_PROGRAM_RULES",
            ["input", "blockedEmailDomains"],
        ),
        (
            {"blockedEmailDomains": ["ok.com", "@spam.com"]},
            "INVALID_PROGRAM_RULES",
            ["input", "blockedEmailDomains"],
        ),
        (
            {"blockedEmailDomains": ["bad..com"]},
            "INVALID_PROGRAM_RULES",
            ["input", "blockedEmailDomains"],
        ),
        ({"maxSignupsPerIpPerDay": 0}, "INVALID_PROGRAM_RULES", ["input", "maxSignupsPerIpPerDay"]),
    ],
)
async def test_an_invalid_update_is_refused_and_changes_nothing(
    gql: GraphQLClient, fields: dict[str, Any], code: str, field: list[str]
) -> None:
    program = await create(gql, **EVERY_RULE)
    payload = await update(gql, program["id"], **fields)
    assert payload["program"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert payload["userErrors"][0]["message"]
    assert await read(gql, program["id"]) == program


async def test_an_update_is_validated_as_a_whole(gql: GraphQLClient) -> None:
    """Each field may be valid alone and the result not: the tiers given meet the
    currency kept (USD takes cents, a flat amount of a tenth of a cent is refused), and
    every field at fault is named once."""
    program = await create(gql, currency="USD", refereeReward="2.50")
    payload = await update(
        gql,
        program["id"],
        tiers=[{"name": "A", "levelRates": ["0.1", "7"], "levelAmounts": ["0.125", "-1"]}],
        maxPayoutRate="0",
        holdDays=-3,
    )
    assert payload["program"] is None
    assert sorted(tuple(e["field"]) for e in payload["userErrors"]) == [
        ("input", "holdDays"),
        ("input", "maxPayoutRate"),
        ("input", "tiers", "0", "levelAmounts"),
        ("input", "tiers", "0", "levelRates"),
    ]
    assert await read(gql, program["id"]) == program
    # The same amount is fine for a currency of cents written with two decimals.
    ok = await updated(
        gql, program["id"], tiers=[{"name": "A", "levelRates": ["0.1"], "levelAmounts": ["0.12"]}]
    )
    assert ok["tiers"][0]["levelAmounts"] == ["0.12"]


# --- Pause, resume and eligibility -------------------------------------------------------


async def test_a_paused_program_records_purchases_and_pays_nothing(gql: GraphQLClient) -> None:
    program = await create(gql, refereeReward="1000", holdDays=0)
    pid = program["id"]
    await chain(gql, pid, 3)  # c0 <- c1 <- c2
    paused = await updated(gql, pid, active=False)
    assert (paused["active"], paused["rulesVersion"]) == (False, 2)

    payload = await buy(gql, pid, "c2", "o1", "10000")
    assert payload["rewards"] == []
    assert payload["purchase"] == {
        "orderId": "o1",
        "rulesVersion": 2,
        "eligible": False,
        "rewards": [],
    }
    # It still counts for spend and qualification: c2 is qualified, c1's network has it.
    stats = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "c1") '
        "{ stats { qualifiedReferrals networkRevenue } } }",
        {"p": pid},
    )
    assert stats["customer"]["stats"] == {"qualifiedReferrals": 1, "networkRevenue": "10000"}

    resumed = await updated(gql, pid, active=True)
    assert resumed["rulesVersion"] == 3
    payload = await buy(gql, pid, "c2", "o2", "10000")
    assert payload["purchase"]["eligible"] is True
    assert payload["purchase"]["rulesVersion"] == 3
    assert paid(payload)[:2] == [
        ("c1", "REFERRER_COMMISSION", 1, "1000"),
        ("c0", "REFERRER_COMMISSION", 2, "500"),
    ]
    assert all(r["milestone"] is None for r in payload["rewards"])
    # The replay of the paused purchase is as it was recorded.
    replay = await buy(gql, pid, "c2", "o1", "10000")
    assert (replay["purchase"]["rulesVersion"], replay["purchase"]["eligible"]) == (2, False)


async def test_a_purchase_below_the_minimum_is_not_eligible(gql: GraphQLClient) -> None:
    program = await create(gql, minPurchaseAmount="50000")
    pid = program["id"]
    await chain(gql, pid, 2)
    below = await buy(gql, pid, "c1", "o1", "49999")
    assert (below["purchase"]["eligible"], below["rewards"]) == (False, [])
    at = await buy(gql, pid, "c1", "o2", "50000")
    assert at["purchase"]["eligible"] is True
    assert paid(at) == [("c0", "REFERRER_COMMISSION", 1, "5000")]
    # Lowered: the same amount as the first now pays, under the new version.
    await updated(gql, pid, minPurchaseAmount="1000")
    again = await buy(gql, pid, "c1", "o3", "49999")
    assert (again["purchase"]["eligible"], again["purchase"]["rulesVersion"]) == (True, 2)
    assert paid(again) == [("c0", "REFERRER_COMMISSION", 1, "4999")]


async def test_a_rule_change_prices_the_next_purchase(gql: GraphQLClient) -> None:
    program = await create(gql, tiers=[{"name": "A", "levelRates": ["0.10"]}])
    pid = program["id"]
    await chain(gql, pid, 2)
    assert paid(await buy(gql, pid, "c1", "o1", "10000")) == [
        ("c0", "REFERRER_COMMISSION", 1, "1000")
    ]
    await updated(gql, pid, tiers=[{"name": "A", "levelRates": ["0.07"]}])
    after = await buy(gql, pid, "c1", "o2", "10000")
    assert paid(after) == [("c0", "REFERRER_COMMISSION", 1, "700")]
    assert after["purchase"]["rulesVersion"] == 2
    # The purchases keep the version they were priced under.
    first = await record(gql, pid, "c1", "o1", "10000")
    assert first["userErrors"] == []
    replayed = await buy(gql, pid, "c1", "o1", "10000")
    assert replayed["purchase"]["rulesVersion"] == 1
