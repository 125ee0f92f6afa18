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
# is open. "Referred" means an effective referrer: a link that is not REJECTED. A link is
# made at sign-up with the referee's join time and channel, so the referred customers are
# read from the links alone, without a join over every customer.
_RANGE = """($2::timestamptz IS NULL OR {0} >= $2) AND ($3::timestamptz IS NULL OR {0} < $3)"""

_STATS = f"""
SELECT
    (SELECT count(*) FROM customer
     WHERE program_id = $1 AND {_RANGE.format("joined_at")}) AS customers,
    (SELECT coalesce(sum(amount - refunded_amount), 0) FROM purchase
     WHERE program_id = $1 AND {_RANGE.format("occurred_at")}) AS revenue,
    (SELECT coalesce(sum(w.amount), 0)
     FROM reward w JOIN purchase p ON p.id = w.purchase_id
     WHERE w.program_id = $1 AND {_RANGE.format("p.occurred_at")}) AS reward_cost
"""

# Per channel: referred customers who joined in the range, how many of them qualify, and
# the net of their purchases in the range; plus the net of every referred customer's
# purchases in the range (referredRevenue), whenever they joined.
_CHANNELS = f"""
WITH referred AS (
    SELECT channel,
           count(*) AS referrals,
           count(*) FILTER (WHERE status = 'ACTIVE' AND referee_spend > 0) AS conversions,
           sum(referee_spend) AS spend
    FROM referral
    WHERE program_id = $1 AND status <> 'REJECTED' AND {_RANGE.format("created_at")}
    GROUP BY channel
), sales AS (
    -- Only for a range: over all time, the links' spend is the purchases' net already.
    SELECT r.channel,
           sum(p.amount - p.refunded_amount) AS referred,
           coalesce(sum(p.amount - p.refunded_amount)
                    FILTER (WHERE {_RANGE.format("r.created_at")}), 0) AS revenue
    FROM purchase p JOIN referral r ON r.referee_id = p.customer_id
    WHERE NOT ($2::timestamptz IS NULL AND $3::timestamptz IS NULL)
      AND p.program_id = $1 AND r.status <> 'REJECTED' AND {_RANGE.format("p.occurred_at")}
    GROUP BY r.channel
)
SELECT coalesce(f.channel, s.channel) AS channel,
       coalesce(f.referrals, 0) AS referrals,
       coalesce(f.conversions, 0) AS conversions,
       CASE WHEN $2::timestamptz IS NULL AND $3::timestamptz IS NULL
            THEN coalesce(f.spend, 0) ELSE coalesce(s.revenue, 0) END AS revenue,
       CASE WHEN $2::timestamptz IS NULL AND $3::timestamptz IS NULL
            THEN coalesce(f.spend, 0) ELSE coalesce(s.referred, 0) END AS referred
FROM referred f FULL JOIN sales s ON s.channel = f.channel
ORDER BY 1
"""

# Hashing a million links fits in memory this way instead of spilling to disk.
_WORK_MEM = "64MB"


async def program_stats(
    pool: Pool, program_id: int, start: datetime | None, end: datetime | None
) -> StatsRow:
    """Program.stats' raw figures over [start, end)."""
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await conn.execute(f"SET LOCAL work_mem = '{_WORK_MEM}'")
        row = await conn.fetchrow(_STATS, program_id, start, end)
        per_channel = await conn.fetch(_CHANNELS, program_id, start, end)
    assert row is not None  # an aggregate always returns one row
    channels = [
        ChannelRow(r["channel"], r["referrals"], r["conversions"], r["revenue"])
        for r in per_channel
        if r["referrals"] > 0
    ]
    return StatsRow(
        customers=row["customers"],
        referred_customers=sum(c.referrals for c in channels),
        qualified_referrals=sum(c.conversions for c in channels),
        revenue=row["revenue"],
        referred_revenue=sum((r["referred"] for r in per_channel), Decimal(0)),
        reward_cost=row["reward_cost"],
        channels=channels,
    )
