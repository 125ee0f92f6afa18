"""The aggregate queries behind Program.stats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from rujuk.db.pool import Pool


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """Referred customers of one channel who joined in the range."""

    channel: str
    referrals: int
    conversions: int
    revenue: Decimal


@dataclass(frozen=True, slots=True)
class StatsRow:
    """The raw counts and sums of Program.stats over a range."""

    customers: int
    referred_customers: int
    qualified_referrals: int
    revenue: Decimal
    referred_revenue: Decimal
    reward_cost: Decimal
    channels: list[ChannelRow]


# Customers by join time, purchases by occurredAt, both over [from, to); a missing bound
# is open. "Referred" means an effective referrer: a link that is not REJECTED.
_STATS = """
WITH joined AS (
    SELECT c.id, c.channel, r.status
    FROM customer c LEFT JOIN referral r ON r.referee_id = c.id
    WHERE c.program_id = $1
      AND ($2::timestamptz IS NULL OR c.joined_at >= $2)
      AND ($3::timestamptz IS NULL OR c.joined_at < $3)
), in_range AS (
    SELECT p.id, p.customer_id, p.amount - p.refunded_amount AS net
    FROM purchase p
    WHERE p.program_id = $1
      AND ($2::timestamptz IS NULL OR p.occurred_at >= $2)
      AND ($3::timestamptz IS NULL OR p.occurred_at < $3)
), net_by_customer AS (
    SELECT customer_id, sum(net) AS net FROM in_range GROUP BY customer_id
), referred_net AS (
    SELECT coalesce(sum(n.net), 0) AS net
    FROM net_by_customer n JOIN referral r ON r.referee_id = n.customer_id
    WHERE r.status <> 'REJECTED'
), referred AS (
    -- Qualified counts all of a customer's spend, not only the range's.
    SELECT j.id, j.channel,
           j.status = 'ACTIVE' AND EXISTS (
               SELECT 1 FROM purchase p
               WHERE p.customer_id = j.id AND p.amount > p.refunded_amount) AS qualified
    FROM joined j
    WHERE j.status IS NOT NULL AND j.status <> 'REJECTED'
), per_channel AS (
    SELECT f.channel, count(*) AS referrals, count(*) FILTER (WHERE f.qualified) AS conversions,
           coalesce(sum(n.net), 0) AS revenue
    FROM referred f LEFT JOIN net_by_customer n ON n.customer_id = f.id
    GROUP BY f.channel
)
SELECT
    (SELECT count(*) FROM joined) AS customers,
    (SELECT count(*) FROM referred) AS referred_customers,
    (SELECT count(*) FROM referred WHERE qualified) AS qualified_referrals,
    (SELECT coalesce(sum(net), 0) FROM net_by_customer) AS revenue,
    (SELECT net FROM referred_net) AS referred_revenue,
    (SELECT coalesce(sum(w.amount), 0) FROM reward w JOIN in_range p ON p.id = w.purchase_id)
        AS reward_cost,
    (SELECT coalesce(jsonb_agg(jsonb_build_array(channel, referrals, conversions, revenue::text)
                               ORDER BY channel), '[]'::jsonb)
     FROM per_channel) AS channels
"""


async def program_stats(
    pool: Pool, program_id: int, start: datetime | None, end: datetime | None
) -> StatsRow:
    """Program.stats' raw figures over [start, end)."""
    row = await pool.fetchrow(_STATS, program_id, start, end)
    assert row is not None  # an aggregate always returns one row
    return StatsRow(
        customers=row["customers"],
        referred_customers=row["referred_customers"],
        qualified_referrals=row["qualified_referrals"],
        revenue=row["revenue"],
        referred_revenue=row["referred_revenue"],
        reward_cost=row["reward_cost"],
        channels=[ChannelRow(c, r, q, Decimal(v)) for c, r, q, v in row["channels"]],
    )
