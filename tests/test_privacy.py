"""Personal data law: erasure leaves nothing behind; exportCustomerData shows everything held."""

from __future__ import annotations

import logging

import pytest

from rujuk.db.pool import connect
from tests.fixtures import create_program, register_ok
from tests.graphql_client import GraphQLClient

NAME = "Zyxwqa Erasable"
EMAIL = "zyxwqa.erasable@example.co.id"
PHONE = "081299887766"
DEVICE = "device-zyxwqa-4242"
# Its /64 is stored too, as the SHARED_IP key: both must go.
IP = "2001:db8:abcd:77::42"
NOTE = "same phone as 081299887766"

EXPORT = """query($id: ID!) { exportCustomerData(customerId: $id) {
  customer { id } externalId displayName email phone deviceId ipAddress channel joinedAt erasedAt
  referral { code status } referralCodes { code } purchases { orderId amount }
  rewards { kind amount } } }"""


async def test_erasure_leaves_no_personal_data_in_any_table_or_log(
    gql: GraphQLClient, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    program = await create_program(gql, refereeReward="1000")
    p = program["id"]
    andi = await register_ok(gql, p, "andi")
    target = await register_ok(
        gql,
        p,
        "target",
        andi["referralCodes"][0]["code"],
        displayName=NAME,
        email=EMAIL,
        phone=PHONE,
        deviceId=DEVICE,
        ipAddress=IP,
        channel="WHATSAPP",
    )
    link = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "target") { referral { id } } }',
        {"p": p},
    )
    reviewed = await gql.data(
        "mutation($id: ID!, $n: String) { reviewReferral(input: {referralId: $id, "
        "decision: APPROVE, note: $n}) { userErrors { code } } }",
        {"id": link["customer"]["referral"]["id"], "n": NOTE},
    )
    assert reviewed["reviewReferral"]["userErrors"] == []
    bought = await gql.data(
        'mutation($p: ID!) { recordPurchase(input: {programId: $p, customerExternalId: "target", '
        'orderId: "o-1", amount: "50000"}) { userErrors { code } } }',
        {"p": p},
    )
    assert bought["recordPurchase"]["userErrors"] == []
    exported = (await gql.data(EXPORT, {"id": target["id"]}))["exportCustomerData"]
    assert exported["customer"] == {"id": target["id"]}
    assert (exported["displayName"], exported["email"], exported["phone"]) == (NAME, EMAIL, PHONE)
    assert exported["ipAddress"] == IP
    assert (exported["deviceId"], exported["channel"], exported["erasedAt"]) == (
        DEVICE,
        "WHATSAPP",
        None,
    )
    assert exported["referral"] == {"code": andi["referralCodes"][0]["code"], "status": "ACTIVE"}
    assert exported["referralCodes"] == [{"code": target["referralCodes"][0]["code"]}]
    assert exported["purchases"] == [{"orderId": "o-1", "amount": "50000"}]
    assert exported["rewards"] == [{"kind": "REFEREE_WELCOME", "amount": "1000"}]
    secrets = (NAME, EMAIL, PHONE, DEVICE, "zyxwqa", "99887766", "2001:db8:abcd:77")
    assert await tables_holding(database_url, secrets)  # the grep finds them before erasure

    erased = await gql.data(
        "mutation($id: ID!) { eraseCustomer(input: {customerId: $id}) { userErrors { code } } }",
        {"id": target["id"]},
    )
    assert erased["eraseCustomer"]["userErrors"] == []
    assert await tables_holding(database_url, secrets) == []
    after = (await gql.data(EXPORT, {"id": target["id"]}))["exportCustomerData"]
    assert (after["email"], after["phone"], after["deviceId"], after["ipAddress"]) == (
        None,
        None,
        None,
        None,
    )
    assert after["erasedAt"] is not None
    assert NAME not in after["displayName"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not [s for s in secrets if s.lower() in logged.lower()]


async def tables_holding(database_url: str, needles: tuple[str, ...]) -> list[str]:
    """Every table.column of a text-like type whose text contains one of the needles."""
    conn = await connect(database_url)
    try:
        columns = await conn.fetch(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = 'public'
                 AND (data_type IN ('text', 'character varying', 'character', 'jsonb', 'json')
                      OR udt_name IN ('_text', '_varchar'))"""
        )
        found = []
        for row in columns:
            table, column = row["table_name"], row["column_name"]
            for needle in needles:
                hit = await conn.fetchval(
                    f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE $1',
                    f"%{needle}%",
                )
                if hit:
                    found.append(f"{table}.{column}")
        return sorted(set(found))
    finally:
        await conn.close()


async def test_only_admins_export_customer_data(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    andi = await register_ok(gql, program["id"], "andi")
    assert (await gql.data(EXPORT, {"id": "Q3VzdG9tZXI6OTk5OTk"}))["exportCustomerData"] is None
    partner = (
        await gql.data(
            "mutation($p: ID) { createApiToken(input: {role: PARTNER, programId: $p, "
            'label: "p"}) { token } }',
            {"p": program["id"]},
        )
    )["createApiToken"]["token"]
    assert await gql.as_token(partner).error_code(EXPORT, {"id": andi["id"]}) == "FORBIDDEN"
