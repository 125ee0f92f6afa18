"""registerCustomer: default codes, typed codes, replays, every userError and the fraud flags."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rujuk.db.pool import connect
from tests.fixtures import chain, create_program, register, register_ok
from tests.graphql_client import GraphQLClient

CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

ISSUE = """
mutation($input: IssueReferralCodeInput!) {
  issueReferralCode(input: $input) {
    referralCode { code kind uses maxUses expiresAt active }
    userErrors { field code message }
  }
}"""

CUSTOMER = """
query($programId: ID!, $externalId: String!) {
  customer(programId: $programId, externalId: $externalId) {
    id externalId displayName email phone channel joinedAt
    referrer { externalId }
    referralCodes { code kind uses maxUses }
  }
}"""


async def issue(gql: GraphQLClient, customer_id: str, **fields: Any) -> dict[str, Any]:
    data = await gql.data(ISSUE, {"input": {"customerId": customer_id, **fields}})
    payload: dict[str, Any] = data["issueReferralCode"]
    assert payload["userErrors"] == [], payload["userErrors"]
    code: dict[str, Any] = payload["referralCode"]
    return code


def code_of(customer: dict[str, Any]) -> str:
    code: str = customer["referralCodes"][0]["code"]
    return code


def error_of(payload: dict[str, Any]) -> tuple[str, list[str] | None]:
    assert payload["customer"] is None
    assert payload["referral"] is None
    assert len(payload["userErrors"]) == 1, payload["userErrors"]
    error = payload["userErrors"][0]
    assert error["message"]
    return error["code"], error["field"]


async def exists(gql: GraphQLClient, program_id: str, external_id: str) -> bool:
    data = await gql.data(CUSTOMER, {"programId": program_id, "externalId": external_id})
    return data["customer"] is not None


def hours_ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0).isoformat()


async def test_a_root_gets_a_default_crockford_code(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    payload = await register(gql, program["id"], "andi", displayName="  Andi Wijaya ")
    assert payload["userErrors"] == []
    assert payload["referral"] is None
    customer = payload["customer"]
    assert customer["externalId"] == "andi"
    assert customer["displayName"] == "Andi Wijaya"
    [code] = customer["referralCodes"]
    assert code["kind"] == "MULTI_USE"
    assert len(code["code"]) == 8
    assert set(code["code"]) <= CROCKFORD
    found = await gql.data(CUSTOMER, {"programId": program["id"], "externalId": "andi"})
    assert found["customer"]["referrer"] is None
    assert found["customer"]["channel"] == "DIRECT"
    assert found["customer"]["referralCodes"] == [
        {"code": code["code"], "kind": "MULTI_USE", "uses": 0, "maxUses": None}
    ]


async def test_every_customer_gets_its_own_code(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    made = [await register_ok(gql, program["id"], f"c{i}") for i in range(10)]
    assert len({code_of(c) for c in made}) == 10


async def test_a_referred_sign_up_links_to_the_code_owner(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    payload = await register(
        gql,
        program["id"],
        "budi",
        code_of(andi),
        channel="INSTAGRAM",
        email="budi@example.com",
        phone="0812-1111-2222",
        joinedAt="2026-01-05T10:00:00+07:00",
    )
    assert payload["userErrors"] == []
    assert payload["referral"]["status"] == "ACTIVE"
    assert payload["referral"]["fraudSignals"] == []
    assert payload["referral"]["code"] == code_of(andi)
    assert payload["referral"]["channel"] == "INSTAGRAM"
    found = await gql.data(CUSTOMER, {"programId": program["id"], "externalId": "budi"})
    budi = found["customer"]
    assert budi["referrer"] == {"externalId": "andi"}
    assert budi["email"] == "budi@example.com"
    assert budi["phone"] == "0812-1111-2222"
    assert budi["channel"] == "INSTAGRAM"
    assert budi["joinedAt"] == "2026-01-05T03:00:00+00:00"
    owner = await gql.data(CUSTOMER, {"programId": program["id"], "externalId": "andi"})
    assert owner["customer"]["referralCodes"][0]["uses"] == 1


@pytest.mark.parametrize(
    "typed",
    [
        lambda c: c.lower(),
        lambda c: f"  {c[:4]} {c[4:]}  ",
        lambda c: f"{c[:4]}-{c[4:]}",
        lambda c: "-".join(c.lower()),
    ],
)
async def test_typed_codes_ignore_case_spaces_and_hyphens(gql: GraphQLClient, typed: Any) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    payload = await register(gql, program["id"], "budi", typed(code_of(andi)))
    assert payload["userErrors"] == []
    assert payload["referral"]["code"] == code_of(andi)


async def test_typed_codes_read_o_as_zero_and_i_l_as_one(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    vanity = await issue(gql, andi["id"], vanity="X0X1Y1Z0")
    assert vanity["code"] == "X0X1Y1Z0"
    for i, typed in enumerate(["xOx1y1z0", "X0XIY1ZO", "x0xly1z0", "xoxiylzo"]):
        payload = await register(gql, program["id"], f"r{i}", typed)
        assert payload["userErrors"] == [], typed
        assert payload["referral"]["code"] == "X0X1Y1Z0"


async def test_a_vanity_code_with_o_and_i_matches_literally_first(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    budi = await register_ok(gql, program["id"], "budi")
    await issue(gql, andi["id"], vanity="HELLO")
    await issue(gql, budi["id"], vanity="HE110")
    first = await register(gql, program["id"], "r1", "hello")
    assert first["referral"]["code"] == "HELLO"
    second = await register(gql, program["id"], "r2", "he110")
    assert second["referral"]["code"] == "HE110"


async def test_replay_with_the_same_referrer_returns_the_customer(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    first = await register(gql, program["id"], "budi", code_of(andi))
    again = await register(gql, program["id"], "budi", code_of(andi).lower())
    assert again["userErrors"] == []
    assert again["customer"]["id"] == first["customer"]["id"]
    assert again["referral"]["id"] == first["referral"]["id"]
    assert again["customer"]["referralCodes"] == first["customer"]["referralCodes"]
    # The replay did not count as a second use.
    owner = await gql.data(CUSTOMER, {"programId": program["id"], "externalId": "andi"})
    assert owner["customer"]["referralCodes"][0]["uses"] == 1


async def test_replay_through_another_code_of_the_same_referrer(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    single = await issue(gql, andi["id"], kind="SINGLE_USE")
    first = await register(gql, program["id"], "budi", single["code"])
    assert first["userErrors"] == []
    # The single-use code is used up, but the replay is the same sign-up.
    again = await register(gql, program["id"], "budi", single["code"])
    assert again["userErrors"] == []
    assert again["customer"]["id"] == first["customer"]["id"]
    by_default_code = await register(gql, program["id"], "budi", code_of(andi))
    assert by_default_code["userErrors"] == []
    assert by_default_code["customer"]["id"] == first["customer"]["id"]


async def test_replay_without_a_code_both_times(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    first = await register_ok(gql, program["id"], "andi")
    again = await register(gql, program["id"], "andi", displayName="Someone Else")
    assert again["userErrors"] == []
    assert again["referral"] is None
    assert again["customer"]["id"] == first["id"]
    assert again["customer"]["displayName"] == first["displayName"]


@pytest.mark.parametrize("second_code", ["other", "none", "unknown"])
async def test_replay_with_another_referrer_is_already_registered(
    gql: GraphQLClient, second_code: str
) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    cici = await register_ok(gql, program["id"], "cici")
    await register_ok(gql, program["id"], "budi", code_of(andi))
    code = {"other": code_of(cici), "none": None, "unknown": "ZZZZ9999"}[second_code]
    code_name, field = error_of(await register(gql, program["id"], "budi", code))
    assert code_name == "ALREADY_REGISTERED"
    assert field == ["input", "externalId"]


async def test_a_root_registered_again_with_a_code_is_already_registered(
    gql: GraphQLClient,
) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    await register_ok(gql, program["id"], "budi")
    code_name, _ = error_of(await register(gql, program["id"], "budi", code_of(andi)))
    assert code_name == "ALREADY_REGISTERED"


async def test_already_registered_says_which_referrer_the_customer_has(
    gql: GraphQLClient,
) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    cici = await register_ok(gql, program["id"], "cici")
    await register_ok(gql, program["id"], "budi", code_of(andi))

    async def message(external_id: str, code: str | None) -> str:
        payload = await register(gql, program["id"], external_id, code)
        assert payload["userErrors"][0]["code"] == "ALREADY_REGISTERED"
        text: str = payload["userErrors"][0]["message"]
        return text

    # cici is a root: there is no other referrer to speak of.
    root = await message("cici", code_of(andi))
    assert "without a referrer" in root
    assert "another referrer" not in root
    assert "another referrer" in await message("budi", code_of(cici))
    assert "another referrer" not in await message("budi", None)
    assert "with a referrer" in await message("budi", None)


async def test_the_same_external_id_in_two_programs_is_two_customers(gql: GraphQLClient) -> None:
    one = await create_program(gql, name="One")
    two = await create_program(gql, name="Two")
    a = await register_ok(gql, one["id"], "andi")
    b = await register_ok(gql, two["id"], "andi")
    assert a["id"] != b["id"]


async def test_an_unknown_code_is_invalid(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    await register_ok(gql, program["id"], "andi")
    code_name, field = error_of(await register(gql, program["id"], "budi", "ZZZZ9999"))
    assert (code_name, field) == ("INVALID_CODE", ["input", "referralCode"])
    assert not await exists(gql, program["id"], "budi")


@pytest.mark.parametrize("typed", ["", "abc", "🙂🙂🙂🙂", "x" * 65, "'; DROP TABLE customer; --"])
async def test_malformed_codes_are_invalid(gql: GraphQLClient, typed: str) -> None:
    program = await create_program(gql)
    code_name, field = error_of(await register(gql, program["id"], "budi", typed))
    assert (code_name, field) == ("INVALID_CODE", ["input", "referralCode"])
    assert not await exists(gql, program["id"], "budi")


async def test_another_programs_code_is_invalid(gql: GraphQLClient) -> None:
    one = await create_program(gql, name="One")
    two = await create_program(gql, name="Two")
    andi = await register_ok(gql, one["id"], "andi")
    code_name, _ = error_of(await register(gql, two["id"], "budi", code_of(andi)))
    assert code_name == "INVALID_CODE"
    assert not await exists(gql, two["id"], "budi")


async def test_an_erased_owners_code_is_invalid(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    erased = await gql.data(
        "mutation($id: ID!) { eraseCustomer(input: {customerId: $id}) "
        "{ customer { displayName } userErrors { code } } }",
        {"id": andi["id"]},
    )
    assert erased["eraseCustomer"]["userErrors"] == []
    code_name, field = error_of(await register(gql, program["id"], "budi", code_of(andi)))
    assert (code_name, field) == ("INVALID_CODE", ["input", "referralCode"])
    assert not await exists(gql, program["id"], "budi")
    looked_up = await gql.as_token(None).data(
        "query($c: String!) { referralCode(code: $c) { active } }", {"c": code_of(andi)}
    )
    assert looked_up["referralCode"] == {"active": False}


async def test_an_expired_code_is_refused(gql: GraphQLClient, database_url: str) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    code = await issue(gql, andi["id"], vanity="ANDIEXP", expiresAt=soon)
    # Expiry cannot be issued in the past, and the tests do not sleep: age the code in SQL.
    conn = await connect(database_url)
    try:
        await conn.execute(
            "UPDATE referral_code SET expires_at = now() - interval '1 second' WHERE code = $1",
            code["code"],
        )
    finally:
        await conn.close()
    code_name, field = error_of(await register(gql, program["id"], "budi", "andiexp"))
    assert (code_name, field) == ("CODE_EXPIRED", ["input", "referralCode"])
    assert not await exists(gql, program["id"], "budi")
    # The owner's default code still works.
    assert (await register(gql, program["id"], "budi", code_of(andi)))["userErrors"] == []


async def test_a_used_single_use_code_is_exhausted(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    single = await issue(gql, andi["id"], kind="SINGLE_USE")
    assert single["maxUses"] == 1
    await register_ok(gql, program["id"], "budi", single["code"])
    code_name, field = error_of(await register(gql, program["id"], "cici", single["code"]))
    assert (code_name, field) == ("CODE_EXHAUSTED", ["input", "referralCode"])
    assert not await exists(gql, program["id"], "cici")


async def test_a_code_at_max_uses_is_exhausted(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    limited = await issue(gql, andi["id"], maxUses=3)
    for name in ("r1", "r2", "r3"):
        await register_ok(gql, program["id"], name, limited["code"])
    code_name, _ = error_of(await register(gql, program["id"], "r4", limited["code"]))
    assert code_name == "CODE_EXHAUSTED"
    found = await gql.data(CUSTOMER, {"programId": program["id"], "externalId": "andi"})
    by_code = {c["code"]: c for c in found["customer"]["referralCodes"]}
    assert by_code[limited["code"]]["uses"] == 3


@pytest.mark.parametrize(
    ("owner_email", "typed_email"),
    [
        ("andi@example.com", "andi@example.com"),
        ("andi@example.com", "  ANDI@Example.com "),
        ("andi@example.com", "andi+second@example.com"),
        ("andi.wijaya@gmail.com", "AndiWijaya@gmail.com"),
        ("andi.wijaya@gmail.com", "a.n.d.i.w.i.j.a.y.a+promo@googlemail.com"),
    ],
)
async def test_self_referral_by_email(
    gql: GraphQLClient, owner_email: str, typed_email: str
) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi", email=owner_email)
    code_name, field = error_of(
        await register(gql, program["id"], "andi2", code_of(andi), email=typed_email)
    )
    assert (code_name, field) == ("SELF_REFERRAL", ["input", "referralCode"])
    assert not await exists(gql, program["id"], "andi2")


async def test_dots_count_outside_gmail(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi", email="andi.wijaya@example.com")
    payload = await register(
        gql, program["id"], "budi", code_of(andi), email="andiwijaya@example.com"
    )
    assert payload["userErrors"] == []
    assert payload["referral"]["status"] == "ACTIVE"


@pytest.mark.parametrize(
    ("owner_phone", "typed_phone"),
    [
        ("081234567890", "+6281234567890"),
        ("+62 812-3456-7890", "0812 3456 7890"),
        ("6281234567890", "(0812) 3456.7890"),
    ],
)
async def test_self_referral_by_phone(
    gql: GraphQLClient, owner_phone: str, typed_phone: str
) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi", phone=owner_phone)
    code_name, _ = error_of(
        await register(gql, program["id"], "andi2", code_of(andi), phone=typed_phone)
    )
    assert code_name == "SELF_REFERRAL"


async def test_self_referral_by_device(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi", deviceId="device-1")
    code_name, _ = error_of(
        await register(gql, program["id"], "andi2", code_of(andi), deviceId="device-1")
    )
    assert code_name == "SELF_REFERRAL"


async def test_no_self_referral_when_nothing_matches(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(
        gql, program["id"], "andi", email="andi@example.com", phone="0811111111", deviceId="d1"
    )
    payload = await register(
        gql,
        program["id"],
        "budi",
        code_of(andi),
        email="budi@example.com",
        phone="0822222222",
        deviceId="d2",
    )
    assert payload["userErrors"] == []
    assert payload["referral"]["status"] == "ACTIVE"
    assert payload["referral"]["fraudSignals"] == []


async def test_self_referral_through_the_tenth_ancestor(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    customers = [await register_ok(gql, program["id"], "c0", email="root@example.com")]
    for i in range(1, 11):
        customers.append(await register_ok(gql, program["id"], f"c{i}", code_of(customers[-1])))
    # c0 is the 10th ancestor of c10, the code's owner.
    code_name, _ = error_of(
        await register(gql, program["id"], "x", code_of(customers[10]), email="ROOT@example.com")
    )
    assert code_name == "SELF_REFERRAL"


async def test_no_self_referral_through_the_eleventh_ancestor(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    customers = [await register_ok(gql, program["id"], "c0", phone="081200000000")]
    for i in range(1, 12):
        customers.append(await register_ok(gql, program["id"], f"c{i}", code_of(customers[-1])))
    # c0 is the 11th ancestor of c11: not a self-referral, but the phone is a duplicate.
    payload = await register(
        gql, program["id"], "x", code_of(customers[11]), phone="+62 812 0000 0000"
    )
    assert payload["userErrors"] == []
    assert payload["referral"]["status"] == "FLAGGED"
    assert payload["referral"]["fraudSignals"] == ["DUPLICATE_CONTACT"]


async def test_a_shared_device_is_flagged(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    await register_ok(gql, program["id"], "dewi", deviceId="shared-phone")
    payload = await register(gql, program["id"], "budi", code_of(andi), deviceId="shared-phone")
    assert payload["userErrors"] == []
    assert payload["referral"]["status"] == "FLAGGED"
    assert payload["referral"]["fraudSignals"] == ["SHARED_DEVICE"]
    assert payload["customer"]["externalId"] == "budi"


async def test_a_device_of_another_program_is_not_shared(gql: GraphQLClient) -> None:
    one = await create_program(gql, name="One")
    two = await create_program(gql, name="Two")
    andi = await register_ok(gql, one["id"], "andi")
    await register_ok(gql, two["id"], "dewi", deviceId="d1", email="dewi@example.com")
    payload = await register(
        gql, one["id"], "budi", code_of(andi), deviceId="d1", email="dewi@example.com"
    )
    assert payload["referral"]["status"] == "ACTIVE"


@pytest.mark.parametrize(
    ("existing", "typed"),
    [
        ({"email": "Dewi.S@gmail.com"}, {"email": "dewis+x@gmail.com"}),
        ({"phone": "0813 5555 6666"}, {"phone": "+62-813-5555-6666"}),
    ],
)
async def test_a_duplicate_contact_is_flagged(
    gql: GraphQLClient, existing: dict[str, str], typed: dict[str, str]
) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    await register_ok(gql, program["id"], "dewi", **existing)
    payload = await register(gql, program["id"], "budi", code_of(andi), **typed)
    assert payload["userErrors"] == []
    assert payload["referral"]["status"] == "FLAGGED"
    assert payload["referral"]["fraudSignals"] == ["DUPLICATE_CONTACT"]


async def test_both_signals_at_once(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    await register_ok(gql, program["id"], "dewi", deviceId="d9", email="dewi@example.com")
    payload = await register(
        gql, program["id"], "budi", code_of(andi), deviceId="d9", email="DEWI@example.com"
    )
    assert payload["referral"]["status"] == "FLAGGED"
    assert sorted(payload["referral"]["fraudSignals"]) == ["DUPLICATE_CONTACT", "SHARED_DEVICE"]


async def test_the_21st_use_within_an_hour_is_flagged_for_velocity(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi", joinedAt=hours_ago(48))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=24)
    statuses = []
    for i in range(21):
        joined = (start + timedelta(minutes=2 * i)).isoformat()  # 21 uses over 40 minutes
        payload = await register(gql, program["id"], f"r{i}", code_of(andi), joinedAt=joined)
        assert payload["userErrors"] == []
        statuses.append((payload["referral"]["status"], payload["referral"]["fraudSignals"]))
    assert statuses[:20] == [("ACTIVE", [])] * 20
    assert statuses[20] == ("FLAGGED", ["VELOCITY"])


async def test_uses_older_than_an_hour_do_not_count_for_velocity(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi", joinedAt=hours_ago(48))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=24)
    for i in range(20):
        joined = (start + timedelta(minutes=i)).isoformat()
        await register_ok(gql, program["id"], f"r{i}", code_of(andi), joinedAt=joined)
    # The first of the 20 uses is 61 minutes before this one: 19 in the last hour.
    later = (start + timedelta(minutes=61)).isoformat()
    payload = await register(gql, program["id"], "late", code_of(andi), joinedAt=later)
    assert payload["referral"]["status"] == "ACTIVE"
    assert payload["referral"]["fraudSignals"] == []


async def test_velocity_counts_per_code(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi", joinedAt=hours_ago(48))
    other = await issue(gql, andi["id"])
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=24)
    for i in range(20):
        joined = (start + timedelta(minutes=i)).isoformat()
        await register_ok(gql, program["id"], f"r{i}", code_of(andi), joinedAt=joined)
    joined = (start + timedelta(minutes=30)).isoformat()
    payload = await register(gql, program["id"], "x", other["code"], joinedAt=joined)
    assert payload["referral"]["status"] == "ACTIVE"


async def test_an_unknown_program_is_refused(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    customer = await register_ok(gql, program["id"], "andi")
    for program_id in ("UHJvZ3JhbTo5OTk5", "garbage", customer["id"], ""):
        code_name, field = error_of(await register(gql, program_id, "budi"))
        assert (code_name, field) == ("UNKNOWN_PROGRAM", ["input", "programId"])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "x" * 10_000 + "@example.com"}, "email"),
        ({"email": "a\x00b@example.com"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"phone": "call me 08123456789"}, "phone"),
        ({"phone": "9" * 10_000}, "phone"),
        ({"displayName": ""}, "displayName"),
        ({"displayName": "   "}, "displayName"),
        ({"displayName": "x" * 10_000}, "displayName"),
        ({"deviceId": ""}, "deviceId"),
        ({"deviceId": "d" * 10_000}, "deviceId"),
        ({"joinedAt": "2999-01-01T00:00:00Z"}, "joinedAt"),
    ],
)
async def test_invalid_input_is_refused(
    gql: GraphQLClient, fields: dict[str, Any], field: str
) -> None:
    program = await create_program(gql)
    code_name, path = error_of(await register(gql, program["id"], "budi", **fields))
    assert (code_name, path) == ("INVALID_INPUT", ["input", field])
    assert not await exists(gql, program["id"], "budi")


@pytest.mark.parametrize("external_id", ["", " budi", "budi ", "x" * 201])
async def test_invalid_external_ids_are_refused(gql: GraphQLClient, external_id: str) -> None:
    program = await create_program(gql)
    code_name, path = error_of(await register(gql, program["id"], external_id))
    assert (code_name, path) == ("INVALID_INPUT", ["input", "externalId"])


@pytest.mark.parametrize(
    "fields",
    [
        {"externalId": "a\x00b"},
        {"displayName": "Andi\x00"},
        {"deviceId": "dev\x00ice"},
    ],
)
async def test_nul_characters_are_invalid_input_not_a_crash(
    gql: GraphQLClient, fields: dict[str, Any]
) -> None:
    program = await create_program(gql)
    external_id = fields.pop("externalId", "budi")
    code_name, _ = error_of(await register(gql, program["id"], external_id, **fields))
    assert code_name == "INVALID_INPUT"


async def test_odd_but_valid_text_is_kept(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    payload = await register(
        gql, program["id"], "ext-🙂-'; DROP TABLE customer; --", displayName="Siti 🙂 O'Brien"
    )
    assert payload["userErrors"] == []
    found = await gql.data(
        CUSTOMER, {"programId": program["id"], "externalId": "ext-🙂-'; DROP TABLE customer; --"}
    )
    assert found["customer"]["displayName"] == "Siti 🙂 O'Brien"


async def test_a_chain_of_sign_ups(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    customers = await chain(gql, program["id"], 4)
    found = await gql.data(CUSTOMER, {"programId": program["id"], "externalId": "c3"})
    assert found["customer"]["referrer"] == {"externalId": "c2"}
    assert customers[3]["id"] == found["customer"]["id"]


async def test_concurrent_sign_ups_share_a_single_use_code_once(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    single = await issue(gql, andi["id"], kind="SINGLE_USE")
    payloads = await asyncio.gather(
        *(register(gql, program["id"], f"r{i}", single["code"]) for i in range(6))
    )
    outcomes = sorted(p["userErrors"][0]["code"] if p["userErrors"] else "OK" for p in payloads)
    assert outcomes == ["CODE_EXHAUSTED"] * 5 + ["OK"]


async def test_concurrent_replays_make_one_customer(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    payloads = await asyncio.gather(
        *(register(gql, program["id"], "budi", code_of(andi)) for _ in range(6))
    )
    assert all(p["userErrors"] == [] for p in payloads)
    assert len({p["customer"]["id"] for p in payloads}) == 1
    owner = await gql.data(CUSTOMER, {"programId": program["id"], "externalId": "andi"})
    assert owner["customer"]["referralCodes"][0]["uses"] == 1


async def test_concurrent_uses_of_one_code_are_counted_one_after_the_other(
    gql: GraphQLClient,
) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    payloads = await asyncio.gather(
        *(register(gql, program["id"], f"r{i}", code_of(andi)) for i in range(24))
    )
    seen = sorted((p["referral"]["status"], p["referral"]["fraudSignals"]) for p in payloads)
    # Each sign-up is dated under the program's lock, so its hour holds all committed before.
    assert seen == [("ACTIVE", [])] * 20 + [("FLAGGED", ["VELOCITY"])] * 4
