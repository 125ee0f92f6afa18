"""Operations of the reward engine that the tests share."""

from __future__ import annotations

import uuid
from typing import Any

from rujuk.db.pool import Connection
from tests.graphql_client import GraphQLClient

PURCHASE_FIELDS = """
purchase { id orderId amount refundedAmount rulesVersion eligible customer { externalId } }
rewards {
  id kind level rate tier amount status availableAt milestone beneficiary { externalId }
}
userErrors { field code message }
"""

RECORD = f"""
mutation($input: RecordPurchaseInput!) {{
  recordPurchase(input: $input) {{ {PURCHASE_FIELDS} }}
}}"""

REFUND = f"""
mutation($input: RefundPurchaseInput!) {{
  refundPurchase(input: $input) {{ {PURCHASE_FIELDS} }}
}}"""

SETTLE = """
mutation($input: SettleRewardsInput!) {
  settleRewards(input: $input) { approvedCount approvedAmount userErrors { code field } }
}"""

REVIEW = """
mutation($input: ReviewReferralInput!) {
  reviewReferral(input: $input) { referral { id status } userErrors { code field } }
}"""

ERASE = """
mutation($input: EraseCustomerInput!) {
  eraseCustomer(input: $input) { customer { id displayName email } userErrors { code field } }
}"""

CUSTOMER = """
query($p: ID!, $e: String!) {
  customer(programId: $p, externalId: $e) {
    stats { directReferrals qualifiedReferrals networkSize networkRevenue influence tier depth }
    balance { pending approved reversed }
    rewards(first: 100) { totalCount edges { node { kind level amount status tier
                                                    purchase { orderId } } } }
  }
}"""


async def record(
    gql: GraphQLClient, program_id: str, customer: str, order: str, amount: str, **extra: Any
) -> dict[str, Any]:
    """The recordPurchase payload."""
    data = await gql.data(
        RECORD,
        {
            "input": {
                "programId": program_id,
                "customerExternalId": customer,
                "orderId": order,
                "amount": amount,
                **extra,
            }
        },
    )
    payload: dict[str, Any] = data["recordPurchase"]
    return payload


async def paid(
    gql: GraphQLClient, program_id: str, customer: str, order: str, amount: str, **extra: Any
) -> list[tuple[str, str, int, str]]:
    """(beneficiary, kind, level, amount) of each reward a purchase created; no userErrors."""
    payload = await record(gql, program_id, customer, order, amount, **extra)
    assert payload["userErrors"] == [], payload["userErrors"]
    return [
        (r["beneficiary"]["externalId"], r["kind"], r["level"], r["amount"])
        for r in payload["rewards"]
    ]


async def refund(
    gql: GraphQLClient,
    program_id: str,
    order: str,
    amount: str | None = None,
    refund_id: str | None = None,
) -> dict[str, Any]:
    """The refundPurchase payload; without a refund_id, a refund of its own (a fresh key)."""
    refund_input = {
        "programId": program_id,
        "orderId": order,
        "refundId": f"refund-{uuid.uuid4().hex}" if refund_id is None else refund_id,
        "amount": amount,
    }
    data = await gql.data(REFUND, {"input": refund_input})
    payload: dict[str, Any] = data["refundPurchase"]
    return payload


async def customer(gql: GraphQLClient, program_id: str, external_id: str) -> dict[str, Any]:
    """A customer's stats, balance and rewards."""
    data = await gql.data(CUSTOMER, {"p": program_id, "e": external_id})
    found: dict[str, Any] = data["customer"]
    return found


# Each reference of the ledger that no foreign key checks (see migration 0004), as the rows
# breaking it; stricter than a foreign key: the row referred to is in the same program.
DANGLING_REFERENCES = {
    "purchase.customer_id": """SELECT count(*) FROM purchase p WHERE NOT EXISTS (
        SELECT 1 FROM customer c WHERE c.id = p.customer_id AND c.program_id = p.program_id)""",
    "purchase.program_id": """SELECT count(*) FROM purchase p WHERE NOT EXISTS (
        SELECT 1 FROM program g WHERE g.id = p.program_id)""",
    "reward.purchase_id": """SELECT count(*) FROM reward r WHERE NOT EXISTS (
        SELECT 1 FROM purchase p WHERE p.id = r.purchase_id AND p.program_id = r.program_id)""",
    "reward.beneficiary_id": """SELECT count(*) FROM reward r WHERE NOT EXISTS (
        SELECT 1 FROM customer c WHERE c.id = r.beneficiary_id
                                   AND c.program_id = r.program_id)""",
    "reward_entry.reward_id": """SELECT count(*) FROM reward_entry e WHERE NOT EXISTS (
        SELECT 1 FROM reward r WHERE r.id = e.reward_id)""",
}


async def dangling_references(conn: Connection) -> dict[str, int]:
    """Per ledger reference, how many rows refer to nothing (all zero in a sound ledger)."""
    return {name: await conn.fetchval(query) for name, query in DANGLING_REFERENCES.items()}


async def unbalanced_rewards(conn: Connection) -> int:
    """Rewards whose amount is not the sum of their ledger entries (zero in a sound ledger)."""
    count: int = await conn.fetchval(
        """SELECT count(*) FROM reward r
           WHERE r.amount <> (SELECT coalesce(sum(e.delta), 0) FROM reward_entry e
                              WHERE e.reward_id = r.id)"""
    )
    return count


async def event_log_gaps(conn: Connection) -> list[int]:
    """Programs whose graph events are not exactly 1..graph_version (none in a sound log)."""
    rows = await conn.fetch(
        """SELECT p.id FROM program p
           LEFT JOIN graph_event e ON e.program_id = p.id
           GROUP BY p.id, p.graph_version
           HAVING count(e.version) <> p.graph_version
               OR coalesce(max(e.version), 0) <> p.graph_version"""
    )
    return [r["id"] for r in rows]
