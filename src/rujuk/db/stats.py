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
), spend AS (
    SELECT customer_id, sum(amount - refunded_amount) AS total
    FROM purchase WHERE program_id = $1 GROUP BY customer_id
), in_range AS (
    SELECT p.id, p.customer_id, p.amount - p.refunded_amount AS net,
           r.status IS NOT NULL AND r.status <> 'REJECTED' AS referred
    FROM purchase p LEFT JOIN referral r ON r.referee_id = p.customer_id
    WHERE p.program_id = $1
      AND ($2::timestamptz IS NULL OR p.occurred_at >= $2)
      AND ($3::timestamptz IS NULL OR p.occurred_at < $3)
), referred AS (
    SELECT j.id, j.channel, j.status = 'ACTIVE' AND coalesce(s.total, 0) > 0 AS qualified
    FROM joined j LEFT JOIN spend s ON s.customer_id = j.id
    WHERE j.status IS NOT NULL AND j.status <> 'REJECTED'
)
SELECT
    (SELECT count(*) FROM joined) AS customers,
    (SELECT count(*) FROM referred) AS referred_customers,
    (SELECT count(*) FROM referred WHERE qualified) AS qualified_referrals,
    (SELECT coalesce(sum(net), 0) FROM in_range) AS revenue,
    (SELECT coalesce(sum(net), 0) FROM in_range WHERE referred) AS referred_revenue,
    (SELECT coalesce(sum(w.amount), 0) FROM reward w JOIN in_range p ON p.id = w.purchase_id)
        AS reward_cost,
    (SELECT coalesce(jsonb_agg(jsonb_build_array(channel, referrals, conversions, revenue::text)
                               ORDER BY channel), '[]'::jsonb)
     FROM (SELECT f.channel, count(*) AS referrals, count(*) FILTER (WHERE f.qualified)
                  AS conversions,
                  coalesce(sum((SELECT sum(net) FROM in_range p WHERE p.customer_id = f.id)), 0)
                  AS revenue
           FROM referred f GROUP BY f.channel) per_channel) AS channels
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
