"""The bulk read that builds the in-memory graphs at start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from rujuk.db.pool import Connection


@dataclass(frozen=True, slots=True)
class MemberRow:
    """A customer with its link and purchase totals, as the graph needs it."""

    id: int
    program_id: int
    external_id: str
    joined_at: datetime
    referrer_id: int | None
    link_status: str | None
    erased: bool
    spend: Decimal
    purchases: int


async def members(conn: Connection) -> list[MemberRow]:
    """Every customer of every program, referrers before their referees."""
    rows = await conn.fetch(
        """SELECT c.id, c.program_id, c.external_id, c.joined_at, r.referrer_id,
                  r.status AS link_status, c.erased_at IS NOT NULL AS erased,
                  coalesce(p.spend, 0) AS spend, coalesce(p.purchases, 0) AS purchases
           FROM customer c
           LEFT JOIN referral r ON r.referee_id = c.id
           LEFT JOIN (SELECT customer_id, sum(amount - refunded_amount) AS spend,
                             count(*) AS purchases
                      FROM purchase GROUP BY customer_id) p ON p.customer_id = c.id
           ORDER BY c.id"""
    )
    return [MemberRow(*r) for r in rows]
