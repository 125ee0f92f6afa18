"""The seeded program with every reward rule of contract v2 switched on, switched through
`updateProgram` over HTTP, and what those rules did to the purchases the bench recorded.

The rules (`rules_on`) are set so that each one bites on a share of the load of
`bench/purchase.lua`'s `graphql-rules` kind (a fresh buyer per request, amounts 25,000 to
200,000 in eight steps): the minimum purchase refuses one amount in eight, the commission
window leaves out the tenth of the customers who joined first, the purchase limit the
buyers with two seeded purchases, the flat amounts pay on the two upper tiers (and make the
per-purchase cap cut small purchases up an Emas chain), the monthly cap stops the large
influencers within seconds, and the milestones pay referrers whose referees' first
purchases take them past 3, 10 or 50 qualified referrals. `fired` reads from the database
how often each did.
"""

from __future__ import annotations

import http.client
import json
import math
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bench.seed import TIERS
from rujuk.db.pool import connect

MIN_PURCHASE = Decimal(50_000)
PURCHASE_LIMIT = 2
MONTHLY_CAP = Decimal(1_000_000)
# (qualifiedReferrals, reward)
MILESTONES = ((3, Decimal(10_000)), (10, Decimal(25_000)), (50, Decimal(100_000)))
# Flat amounts per level on the upper tiers; the first tier keeps its rates alone.
LEVEL_AMOUNTS = {
    "Perak": (Decimal(1_000), Decimal(500)),
    "Emas": (Decimal(2_500), Decimal(1_000), Decimal(500)),
}
# The share of customers (the latest to join) whose purchases are inside the window.
WINDOW_SHARE = 0.9
TIME_ZONE = "Asia/Jakarta"

UPDATE = """mutation($input: UpdateProgramInput!) {
  updateProgram(input: $input) {
    program { rulesVersion } userErrors { code field message } } }"""


def _tiers(flat: bool) -> list[dict[str, Any]]:
    return [
        {
            "name": t.name,
            "minQualifiedReferrals": t.min_qualified_referrals,
            "minNetworkRevenue": str(t.min_network_revenue),
            "levelRates": [str(r) for r in t.level_rates],
            "levelAmounts": [str(a) for a in LEVEL_AMOUNTS.get(t.name, ())] if flat else [],
        }
        for t in TIERS
    ]


def rules_on(program: str, window_days: int) -> dict[str, Any]:
    """updateProgram's input switching every rule on (program: the global id)."""
    return {
        "programId": program,
        "tiers": _tiers(flat=True),
        "timeZone": TIME_ZONE,
        "minPurchaseAmount": str(MIN_PURCHASE),
        "commissionWindowDays": window_days,
        "commissionPurchaseLimit": PURCHASE_LIMIT,
        "monthlyCapPerReferrer": str(MONTHLY_CAP),
        "milestones": [
            {"qualifiedReferrals": q, "reward": str(reward)} for q, reward in MILESTONES
        ],
    }


def rules_off(program: str) -> dict[str, Any]:
    """updateProgram's input putting the seeded program's rules back (rates only)."""
    return {
        "programId": program,
        "tiers": _tiers(flat=False),
        "minPurchaseAmount": "0",
        "commissionWindowDays": None,
        "commissionPurchaseLimit": None,
        "monthlyCapPerReferrer": None,
        "milestones": [],
    }


def switch(port: int, token: str, rules: dict[str, Any]) -> int:
    """Send updateProgram over HTTP with the partner's token; the program's rulesVersion."""
    body = json.dumps({"query": UPDATE, "variables": {"input": rules}}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/graphql", body, headers)
        answer = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    payload = (answer.get("data") or {}).get("updateProgram") or {}
    if answer.get("errors") or payload.get("userErrors") or not payload.get("program"):
        raise RuntimeError(f"updateProgram failed: {answer}")
    version: int = payload["program"]["rulesVersion"]
    return version


async def window_days(url: str, program_id: int) -> int:
    """commissionWindowDays leaving out the first (1 - WINDOW_SHARE) of the customers to join
    (the seeded ones joined in 2024, so a purchase now is within a window this long of the
    later ones' joining)."""
    conn = await connect(url)
    try:
        days: float = await conn.fetchval(
            "SELECT extract(epoch FROM now() - percentile_disc($2::float8) WITHIN GROUP"
            " (ORDER BY joined_at))::float8 / 86400 FROM customer WHERE program_id = $1",
            program_id,
            1 - WINDOW_SHARE,
        )
    finally:
        await conn.close()
    return math.ceil(days)


@dataclass(frozen=True, slots=True)
class Fired:
    """How the rules treated the purchases whose orderId starts with one prefix."""

    purchases: int
    # Under minPurchaseAmount (recorded, not eligible: no reward of any kind).
    ineligible: int
    # Eligible, but the buyer joined commissionWindowDays or more before the purchase.
    outside_window: int
    # Eligible, but the buyer had commissionPurchaseLimit earlier eligible purchases.
    past_limit: int
    # Rewards created, by kind.
    rewards: dict[str, int]
    # Commissions with a flat level amount in them.
    flat: int
    # Commissions recorded below floor(A * rate) + flat amount: cut by the per-purchase cap
    # or the monthly cap; of them, those on a purchase whose commissions sum to less than
    # the per-purchase cap, so only the monthly cap can have cut them (a commission it cut
    # to 0 records nothing and is not counted).
    cut: int
    cut_by_month: int
    # Milestone bonuses created, by threshold.
    milestones: dict[int, int]

    def line(self) -> str:
        """The counts as the report prints them."""
        per = {k: v / self.purchases for k, v in sorted(self.rewards.items())} if self else {}
        return (
            f"{self.purchases:,} purchases, {self.ineligible:,} under the minimum (ineligible),"
            f" {self.outside_window:,} outside the commission window, {self.past_limit:,}"
            f" past the purchase limit; rewards per purchase "
            + ", ".join(f"{k} {v:.2f}" for k, v in per.items())
            + f"; {self.flat:,} commissions with a flat amount, {self.cut:,} cut by a cap"
            f" ({self.cut_by_month:,} of them by the monthly cap alone); milestone bonuses "
            + (", ".join(f"{q}: {n:,}" for q, n in sorted(self.milestones.items())) or "none")
        )

    def __bool__(self) -> bool:
        return self.purchases > 0


FIRED = """
WITH p AS (
    SELECT p.id, p.customer_id, p.amount, p.eligible, p.occurred_at,
           p.eligible AND $3::int IS NOT NULL
               AND p.occurred_at >= c.joined_at + make_interval(days => $3) AS outside_window,
           p.eligible AND $4::int IS NOT NULL AND (
               SELECT count(*) FROM purchase q
               WHERE q.customer_id = p.customer_id AND q.id < p.id AND q.eligible) >= $4
               AS past_limit
    FROM purchase p JOIN customer c ON c.id = p.customer_id
    WHERE p.program_id = $1 AND p.order_id LIKE $2
), flat (tier, level, amount) AS (
    SELECT * FROM unnest($5::text[], $6::int[], $7::numeric[])
), r AS (
    SELECT r.*, p.amount AS purchase_amount, f.amount IS NOT NULL AS has_flat,
           r.first_amount < floor(p.amount * r.rate) + coalesce(f.amount, 0) AS cut,
           sum(r.first_amount) FILTER (WHERE r.kind = 'REFERRER_COMMISSION')
               OVER (PARTITION BY r.purchase_id) AS commissions
    FROM reward r JOIN p ON p.id = r.purchase_id
    LEFT JOIN flat f ON f.tier = r.tier AND f.level = r.level
                    AND r.kind = 'REFERRER_COMMISSION'
)
SELECT 'purchases' AS what, NULL::text AS key, count(*) AS n FROM p
UNION ALL SELECT 'ineligible', NULL, count(*) FILTER (WHERE NOT eligible) FROM p
UNION ALL SELECT 'outside_window', NULL, count(*) FILTER (WHERE outside_window) FROM p
UNION ALL SELECT 'past_limit', NULL, count(*) FILTER (WHERE past_limit) FROM p
UNION ALL SELECT 'rewards', kind, count(*) FROM r GROUP BY kind
UNION ALL SELECT 'flat', NULL, count(*) FILTER (WHERE has_flat) FROM r
UNION ALL SELECT 'cut', NULL, count(*) FILTER (WHERE cut) FROM r
UNION ALL SELECT 'cut_by_month', NULL,
    count(*) FILTER (WHERE cut AND commissions < floor(purchase_amount * $8)) FROM r
UNION ALL SELECT 'milestone', milestone::text, count(*) FROM r
    WHERE kind = 'MILESTONE_BONUS' GROUP BY milestone
"""


async def fired(url: str, program_id: int, prefix: str, window: int | None) -> Fired:
    """What the rules did to the purchases whose orderId starts with `prefix`, read from the
    ledger: those of `rules_on` with this commission window, or (window None) the seeded
    rules, under which only the per-purchase cap can cut."""
    tiers: list[str] = []
    levels: list[int] = []
    amounts: list[Decimal] = []
    for tier, flat in LEVEL_AMOUNTS.items() if window is not None else ():
        for level, amount in enumerate(flat, start=1):
            tiers.append(tier)
            levels.append(level)
            amounts.append(amount)
    conn = await connect(url)
    try:
        rate: Decimal = await conn.fetchval(
            "SELECT max_payout_rate FROM program WHERE id = $1", program_id
        )
        rows = await conn.fetch(
            FIRED,
            program_id,
            prefix.replace("_", r"\_") + "%",
            window,
            PURCHASE_LIMIT if window is not None else None,
            tiers,
            levels,
            amounts,
            rate,
        )
    finally:
        await conn.close()
    single = {r["what"]: int(r["n"]) for r in rows if r["key"] is None}
    return Fired(
        purchases=single["purchases"],
        ineligible=single["ineligible"],
        outside_window=single["outside_window"],
        past_limit=single["past_limit"],
        rewards={r["key"]: int(r["n"]) for r in rows if r["what"] == "rewards"},
        flat=single["flat"],
        cut=single["cut"],
        cut_by_month=single["cut_by_month"],
        milestones={int(r["key"]): int(r["n"]) for r in rows if r["what"] == "milestone"},
    )


async def at_monthly_cap(url: str, program_id: int) -> int:
    """How many beneficiaries' commissions of this month (in TIME_ZONE) stand at MONTHLY_CAP."""
    conn = await connect(url)
    try:
        count: int = await conn.fetchval(
            """SELECT count(*) FROM (
                   SELECT r.beneficiary_id FROM reward r JOIN purchase p ON p.id = r.purchase_id
                   WHERE r.program_id = $1 AND r.kind = 'REFERRER_COMMISSION'
                     AND p.occurred_at >= date_trunc('month', now() AT TIME ZONE $2)
                                          AT TIME ZONE $2
                   GROUP BY r.beneficiary_id HAVING sum(r.amount) >= $3) AS capped""",
            program_id,
            TIME_ZONE,
            MONTHLY_CAP,
        )
    finally:
        await conn.close()
    return count


RECORD = """mutation($i: RecordPurchaseInput!) { recordPurchase(input: $i) {
  purchase { id } rewards { amount } userErrors { code } } }"""


def first_purchase_ms(port: int, token: str, program: str, buyer: str, order: str) -> float:
    """The latency of one recordPurchase by `buyer` (an externalId), in milliseconds."""
    variables = {
        "i": {
            "programId": program,
            "customerExternalId": buyer,
            "orderId": order,
            "amount": "150000",
        }
    }
    body = json.dumps({"query": RECORD, "variables": variables}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        started = time.perf_counter()
        conn.request("POST", "/graphql", body, headers)
        answer = conn.getresponse().read()
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    if b'"errors"' in answer or b'"code"' in answer:
        raise RuntimeError(f"recordPurchase failed: {answer[:300]!r}")
    return elapsed * 1000
