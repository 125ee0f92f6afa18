"""The sign-up fraud rules of contract v2: BLOCKED_EMAIL_DOMAIN, DISPOSABLE_EMAIL, SHARED_IP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from typing import Any

import pytest

from rujuk import contacts
from tests.fixtures import create_program, register, register_ok
from tests.graphql_client import GraphQLClient

CODES = """
query($p: ID!, $e: String!) {
  customer(programId: $p, externalId: $e) { referralCodes { code uses } }
}"""


def code_of(customer: dict[str, Any]) -> str:
    code: str = customer["referralCodes"][0]["code"]
    return code


def at(moment: datetime) -> str:
    return moment.isoformat()


def signals(payload: dict[str, Any]) -> tuple[str, list[str]]:
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["referral"]["status"], payload["referral"]["fraudSignals"]


# --- the rules in isolation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("a@Example.COM", "example.com"),
        (" a@mail.example.com. ", "mail.example.com"),
        ("a@bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_email_domain_is_compared_lower_case_and_in_ascii(email: str, domain: str) -> None:
    assert contacts.email_domain(email) == domain


def test_a_domain_matches_itself_and_its_subdomains_only() -> None:
    blocked = {"spam.example"}
    assert contacts.in_domains("spam.example", blocked)
    assert contacts.in_domains("a.b.spam.example", blocked)
    assert not contacts.in_domains("notspam.example", blocked)
    assert not contacts.in_domains("example", blocked)
    assert not contacts.in_domains("spam.example.org", blocked)


def test_disposable_domains_come_from_the_public_list_subdomains_too() -> None:
    assert contacts.is_disposable("mailinator.com")
    assert contacts.is_disposable("inbox.mailinator.com")
    assert not contacts.is_disposable("gmail.com")
    assert not contacts.is_disposable("example.co.id")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
    ],
)
def test_the_ip_key_is_the_ipv4_address_or_the_ipv6_slash_64(text: str, key: str) -> None:
    assert contacts.ip_key(ip_address(text)) == key


@pytest.mark.parametrize("text", ["", "999.1.1.1", "1.2.3", "not-an-ip", "2001:db8::g", "1" * 100])
def test_what_is_not_an_ip_address(text: str) -> None:
    assert contacts.parse_ip(text) is None


# --- BLOCKED_EMAIL_DOMAIN ------------------------------------------------------------------


async def test_a_blocked_domain_and_its_subdomains_are_refused_and_nothing_is_created(
    gql: GraphQLClient,
) -> None:
    program = await create_program(
        gql, blockedEmailDomains=["spam.example", "xn--bcher-kva.example"]
    )
    p = program["id"]
    andi = await register_ok(gql, p, "andi")
    blocked = ["x@spam.example", "x@SPAM.Example", "x@mx.eu.spam.example", "x@Bücher.example"]
    for i, email in enumerate(blocked):
        payload = await register(gql, p, f"blocked{i}", code_of(andi), email=email)
        assert payload["customer"] is None
        assert payload["referral"] is None
        [error] = payload["userErrors"]
        assert (error["code"], error["field"]) == ("BLOCKED_EMAIL_DOMAIN", ["input", "email"])
        assert error["message"]
        found = await gql.data(CODES, {"p": p, "e": f"blocked{i}"})
        assert found["customer"] is None
    # Nothing was used up either.
    found = await gql.data(CODES, {"p": p, "e": "andi"})
    assert found["customer"]["referralCodes"][0]["uses"] == 0
    # A look-alike domain passes, and the rule is about sign-ups with a code only.
    assert signals(await register(gql, p, "ok", code_of(andi), email="x@notspam.example")) == (
        "ACTIVE",
        [],
    )
    root = await register(gql, p, "root", email="x@spam.example")
    assert root["userErrors"] == []
    assert root["referral"] is None


# --- DISPOSABLE_EMAIL -------------------------------------------------------------------------


async def test_a_disposable_email_domain_is_flagged(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    p = program["id"]
    andi = await register_ok(gql, p, "andi")
    assert signals(await register(gql, p, "d1", code_of(andi), email="budi@mailinator.com")) == (
        "FLAGGED",
        ["DISPOSABLE_EMAIL"],
    )
    assert signals(
        await register(gql, p, "d2", code_of(andi), email="budi@Inbox.Mailinator.com")
    ) == ("FLAGGED", ["DISPOSABLE_EMAIL"])
    assert signals(await register(gql, p, "d3", code_of(andi), email="budi@example.co.id")) == (
        "ACTIVE",
        [],
    )
    # A root has no link to flag.
    root = await register(gql, p, "root", email="root@mailinator.com")
    assert root["userErrors"] == []
    assert root["referral"] is None


# --- SHARED_IP ------------------------------------------------------------------------------


async def test_an_ip_address_is_validated(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    for text in ["999.1.1.1", "not-an-ip", "", "203.0.113.7/24"]:
        payload = await register(gql, program["id"], "x", ipAddress=text)
        [error] = payload["userErrors"]
        assert (error["code"], error["field"]) == ("INVALID_INPUT", ["input", "ipAddress"])
        assert payload["customer"] is None


async def test_the_eleventh_sign_up_with_a_code_from_one_ipv4_address_is_flagged(
    gql: GraphQLClient,
) -> None:
    program = await create_program(gql)
    other = await create_program(gql, name="Other")
    p = program["id"]
    ip = "203.0.113.9"
    # Roots (no code) from the address, and sign-ups from it in another program, do not count.
    andi = await register_ok(gql, p, "andi", ipAddress=ip)
    await register_ok(gql, p, "root2", ipAddress=ip)
    dewi = await register_ok(gql, other["id"], "dewi", ipAddress=ip)
    for i in range(5):
        await register_ok(gql, other["id"], f"o{i}", code_of(dewi), ipAddress=ip)
    seen = [
        signals(await register(gql, p, f"r{i}", code_of(andi), ipAddress=ip)) for i in range(11)
    ]
    # maxSignupsPerIpPerDay is 10 by default: the 10th is at the limit, the 11th past it.
    assert seen[:10] == [("ACTIVE", [])] * 10
    assert seen[10] == ("FLAGGED", ["SHARED_IP"])
    assert signals(await register(gql, p, "r11", code_of(andi), ipAddress="203.0.113.10")) == (
        "ACTIVE",
        [],
    )
    assert signals(await register(gql, p, "r12", code_of(andi), ipAddress=ip)) == (
        "FLAGGED",
        ["SHARED_IP"],
    )


async def test_ipv6_addresses_compare_by_their_slash_64(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    p = program["id"]
    andi = await register_ok(gql, p, "andi")
    # Ten sign-ups from two addresses of one /64 (privacy extensions rotate the rest).
    pair = ["2001:db8:7:1::a", "2001:db8:7:1:ffff:ffff:ffff:ffff"]
    for i in range(10):
        assert signals(await register(gql, p, f"r{i}", code_of(andi), ipAddress=pair[i % 2])) == (
            "ACTIVE",
            [],
        )
    # Another /64 next door is another place.
    assert signals(await register(gql, p, "n", code_of(andi), ipAddress="2001:db8:7:2::a")) == (
        "ACTIVE",
        [],
    )
    assert signals(await register(gql, p, "x", code_of(andi), ipAddress="2001:db8:7:1::b")) == (
        "FLAGGED",
        ["SHARED_IP"],
    )


async def test_the_shared_ip_window_is_24_hours_by_joined_at(gql: GraphQLClient) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    day = timedelta(hours=24)
    ip = "198.51.100.4"

    async def ten_then_one(earlier: datetime, later: datetime) -> tuple[str, list[str]]:
        program = await create_program(gql)
        p = program["id"]
        andi = await register_ok(gql, p, "andi", joinedAt=at(now - 3 * day))
        for i in range(10):
            await register_ok(gql, p, f"r{i}", code_of(andi), ipAddress=ip, joinedAt=at(earlier))
        return signals(await register(gql, p, "x", code_of(andi), ipAddress=ip, joinedAt=at(later)))

    # Exactly 24 hours before is inside the window; a second more is outside.
    assert await ten_then_one(now - day, now) == ("FLAGGED", ["SHARED_IP"])
    assert await ten_then_one(now - day - timedelta(seconds=1), now) == ("ACTIVE", [])
    # Sign-ups dated after this one (a backdated import) are not in its last 24 hours.
    assert await ten_then_one(now, now - timedelta(hours=2)) == ("ACTIVE", [])


async def test_concurrent_sign_ups_from_one_address_are_counted_one_after_the_other(
    gql: GraphQLClient,
) -> None:
    program = await create_program(gql)
    p = program["id"]
    andi = await register_ok(gql, p, "andi")
    ip = "192.0.2.200"
    payloads = await asyncio.gather(
        *(register(gql, p, f"r{i}", code_of(andi), ipAddress=ip) for i in range(14))
    )
    seen = sorted(signals(payload) for payload in payloads)
    # Whatever the order they commit in, ten pass and the four past the limit are flagged.
    assert seen == [("ACTIVE", [])] * 10 + [("FLAGGED", ["SHARED_IP"])] * 4


async def test_the_program_sets_how_many_sign_ups_one_address_may_make(gql: GraphQLClient) -> None:
    program = await create_program(gql, maxSignupsPerIpPerDay=2)
    p = program["id"]
    andi = await register_ok(gql, p, "andi")
    seen = [
        signals(await register(gql, p, f"r{i}", code_of(andi), ipAddress="203.0.113.1"))
        for i in range(3)
    ]
    assert seen == [("ACTIVE", []), ("ACTIVE", []), ("FLAGGED", ["SHARED_IP"])]
    # An update applies to the next sign-up.
    updated = await gql.data(
        "mutation($p: ID!) { updateProgram(input: {programId: $p, maxSignupsPerIpPerDay: 3}) "
        "{ userErrors { code } } }",
        {"p": p},
    )
    assert updated["updateProgram"]["userErrors"] == []
    assert signals(await register(gql, p, "r3", code_of(andi), ipAddress="203.0.113.1")) == (
        "FLAGGED",
        ["SHARED_IP"],
    )
    await gql.data(
        "mutation($p: ID!) { updateProgram(input: {programId: $p, maxSignupsPerIpPerDay: 10}) "
        "{ userErrors { code } } }",
        {"p": p},
    )
    assert signals(await register(gql, p, "r4", code_of(andi), ipAddress="203.0.113.1")) == (
        "ACTIVE",
        [],
    )
