"""Reading referral links."""

from __future__ import annotations

from rujuk.access import Principal
from rujuk.db import referrals as referral_queries
from rujuk.records import Referral
from rujuk.services.runtime import Runtime


async def find_referral(
    runtime: Runtime, principal: Principal, referral_id: int
) -> Referral | None:
    """A link, for ADMIN, its program's PARTNER, or the referee itself."""
    principal.require_authenticated()
    async with runtime.pool.acquire() as conn:
        referral = await referral_queries.get_referral(conn, referral_id)
    if referral is not None:
        principal.require_details(referral.program_id, referral.referee_id)
    return referral
