"""The right of access: all personal data rujuk holds about one customer (ADMIN only)."""

from __future__ import annotations

from dataclasses import dataclass

from rujuk.access import Principal
from rujuk.db import codes as code_queries
from rujuk.db import customers as customer_queries
from rujuk.db import privacy as privacy_queries
from rujuk.db import referrals as referral_queries
from rujuk.records import Customer, Purchase, Referral, ReferralCode, Reward
from rujuk.services.runtime import Runtime


@dataclass(frozen=True, slots=True)
class CustomerData:
    """Everything stored about a customer: profile, link into the tree, codes, ledger."""

    customer: Customer
    device_id: str | None
    ip_address: str | None
    referral: Referral | None
    codes: list[ReferralCode]
    purchases: list[Purchase]
    rewards: list[Reward]


async def export_customer_data(
    runtime: Runtime, principal: Principal, customer_id: int | None
) -> CustomerData | None:
    """The customer's data in one consistent snapshot; None for an unknown customer."""
    principal.require_admin()
    if customer_id is None:
        return None
    async with runtime.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        customer = await customer_queries.get_customer(conn, customer_id)
        if customer is None:
            return None
        links = await referral_queries.referrals_of_referees(conn, [customer_id])
        device_id, ip_address = await privacy_queries.sign_up_details(conn, customer_id)
        return CustomerData(
            customer=customer,
            device_id=device_id,
            ip_address=ip_address,
            referral=links[0] if links else None,
            codes=await code_queries.codes_of(conn, [customer_id]),
            purchases=await privacy_queries.purchases_of(conn, customer_id),
            rewards=await privacy_queries.rewards_of(conn, customer_id),
        )
