"""Queries on purchases and the reward ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from rujuk.db.events import GRAPH_CHANNEL
from rujuk.db.pool import Connection, Pool
from rujuk.records import Purchase, Reward
from rujuk.vocabulary import RewardStatus

# Wider than any time zone's offset from UTC (at most 14 hours).
MONTH_MARGIN = timedelta(days=1)

PURCHASE_COLUMNS = (
    "id, program_id, customer_id, order_id, amount, refunded_amount, occurred_at, rules_version,"
    " eligible"
)
REWARD_COLUMNS = (
    "id, program_id, purchase_id, beneficiary_id, kind, level, rate, tier, first_amount, amount,"
    " status, created_at, available_at, path, milestone"
)


def purchase_from_row(row: Any) -> Purchase:
    """A purchase read with PURCHASE_COLUMNS."""
    return Purchase(**{k: row[k] for k in Purchase.__slots__})


def reward_from_row(row: Any) -> Reward:
    """A reward read with REWARD_COLUMNS."""
    values = {k: row[k] for k in Reward.__slots__}
    values["path"] = tuple(values["path"])
    return Reward(**values)


async def lock_ledger(conn: Connection, program_id: int) -> int | None:
    """Lock the program for a ledger write; its graph version (None: no such program)."""
    version: int | None = await conn.fetchval(
        "SELECT graph_version FROM program WHERE id = $1 FOR UPDATE", program_id
    )
    return version


RewardRow = tuple[int, str, int, Decimal | None, str | None, Decimal, tuple[int, ...], int | None]


@dataclass(frozen=True, slots=True)
class NewPurchase:
    """A purchase to store, with its rewards as (beneficiary, kind, level, rate, tier,
    amount, path)."""

    customer_id: int
    order_id: str
    amount: Decimal
    occurred_at: datetime
    available_at: datetime
    # Active program and amount >= its minimum, under the rules it is priced by.
    eligible: bool
    rewards: Sequence[RewardRow]
    # The JSON of what the purchase_recorded event carries beside the rows (graph/events.py
    # book_json): the statement adds it to the payload it builds.
    book: str = "{}"


async def insert_purchases(
    conn: Connection,
    program_id: int,
    purchases: Sequence[NewPurchase],
    *,
    created_at: datetime,
    first_version: int,
    rules_version: int,
) -> list[tuple[Purchase, list[Reward]]] | None:
    """Store purchases, their rewards, EARNED entries and graph events: one statement that
    locks the program, so it may run alone (autocommit) or inside a transaction.

    The purchases become graph versions first_version, first_version + 1, ... in the given
    order, and only if the program's graph is at first_version - 1 and its rules at
    rules_version once locked: otherwise nothing is written and the result is None
    (somebody else wrote since the caller read the graph and the rules it priced with). An
    order recorded already fails the statement on the unique key.
    """
    rewards = [(p.order_id, r) for p in purchases for r in p.rewards]
    last_version = first_version + len(purchases) - 1
    rows = await conn.fetch(
        """
        WITH locked AS (
            SELECT graph_version, rules_version FROM program WHERE id = $1 FOR UPDATE
        ), input AS (
            SELECT * FROM unnest($2::bigint[], $3::text[], $4::numeric[], $5::timestamptz[],
                                 $6::timestamptz[], $19::boolean[], $21::text[])
                   WITH ORDINALITY AS p(customer, order_id, amount, occurred_at, available_at,
                                        eligible, book, position)
        ), new_purchase AS (
            INSERT INTO purchase (program_id, customer_id, order_id, amount, occurred_at,
                                  created_at, rules_version, eligible)
            SELECT $1, customer, order_id, amount, occurred_at, $7, $20, eligible FROM input
            WHERE (SELECT graph_version = $16 - 1 AND rules_version = $20 FROM locked)
            ORDER BY position
            RETURNING id, order_id
        ), new_reward AS (
            INSERT INTO reward (program_id, purchase_id, beneficiary_id, kind, level, rate, tier,
                                first_amount, amount, status, created_at, available_at, path,
                                milestone)
            SELECT $1, new_purchase.id, d.beneficiary, d.kind, d.level, d.rate, d.tier,
                   d.amount, d.amount, 'PENDING', $7, input.available_at,
                   string_to_array(d.path, ',')::bigint[], d.milestone
            FROM unnest($8::text[], $9::bigint[], $10::text[], $11::int[], $12::numeric[],
                        $13::text[], $14::numeric[], $15::text[], $22::int[])
                   AS d(order_id, beneficiary, kind, level, rate, tier, amount, path, milestone)
            JOIN new_purchase USING (order_id)
            JOIN input USING (order_id)
            RETURNING id, purchase_id, kind, level, amount, created_at, milestone
        ), entry AS (
            INSERT INTO reward_entry (reward_id, kind, delta, status, created_at)
            SELECT id, 'EARNED', amount, 'PENDING', created_at FROM new_reward
        ), spent AS (
            UPDATE referral SET referee_spend = referee_spend + bought.amount
            FROM (SELECT customer, sum(amount) AS amount FROM input
                  WHERE EXISTS (SELECT 1 FROM new_purchase) GROUP BY customer) AS bought
            WHERE referee_id = bought.customer
        ), version AS (
            UPDATE program SET graph_version = $18
            WHERE id = $1 AND EXISTS (SELECT 1 FROM new_purchase)
        ), event AS (
            INSERT INTO graph_event (program_id, version, kind, payload)
            SELECT $1, $16 + input.position - 1, 'purchase_recorded',
                   jsonb_build_object('customer_id', input.customer,
                                      'purchase_id', new_purchase.id,
                                      'delta', input.amount::text) || input.book::jsonb
            FROM input JOIN new_purchase USING (order_id)
        ), notify AS (
            SELECT pg_notify($17, $1::text || ':' || $18::text)
            WHERE EXISTS (SELECT 1 FROM new_purchase)
        )
        SELECT new_purchase.order_id, new_purchase.id AS purchase_id, r.id, r.kind, r.level,
               r.milestone
        FROM new_purchase
        CROSS JOIN notify
        LEFT JOIN new_reward r ON r.purchase_id = new_purchase.id
        """,
        program_id,
        [p.customer_id for p in purchases],
        [p.order_id for p in purchases],
        [p.amount for p in purchases],
        [p.occurred_at for p in purchases],
        [p.available_at for p in purchases],
        created_at,
        [order_id for order_id, _ in rewards],
        [r[0] for _, r in rewards],
        [r[1] for _, r in rewards],
        [r[2] for _, r in rewards],
        [r[3] for _, r in rewards],
        [r[4] for _, r in rewards],
        [r[5] for _, r in rewards],
        [",".join(map(str, r[6])) for _, r in rewards],
        first_version,
        GRAPH_CHANNEL,
        last_version,
        [p.eligible for p in purchases],
        rules_version,
        [p.book for p in purchases],
        [r[7] for _, r in rewards],
    )
    if not rows:
        return None
    purchase_ids = {row["order_id"]: row["purchase_id"] for row in rows}
    reward_ids = {
        (row["purchase_id"], row["kind"], row["level"], row["milestone"]): row["id"]
        for row in rows
        if row["id"] is not None
    }
    if len(purchase_ids) != len(purchases) or len(reward_ids) != len(rewards):
        raise RuntimeError("the purchase insert stored something other than what it was given")
    stored = []
    for p in purchases:
        purchase_id = purchase_ids[p.order_id]
        purchase = Purchase(
            purchase_id,
            program_id,
            p.customer_id,
            p.order_id,
            p.amount,
            Decimal(0),
            p.occurred_at,
            rules_version=rules_version,
            eligible=p.eligible,
        )
        stored.append(
            (
                purchase,
                [
                    Reward(
                        id=reward_ids[(purchase_id, kind, level, milestone)],
                        program_id=program_id,
                        purchase_id=purchase_id,
                        beneficiary_id=beneficiary,
                        kind=kind,
                        level=level,
                        rate=rate,
                        tier=tier,
                        first_amount=paid,
                        amount=paid,
                        status=RewardStatus.PENDING,
                        created_at=created_at,
                        available_at=p.available_at,
                        path=path,
                        milestone=milestone,
                    )
                    for beneficiary, kind, level, rate, tier, paid, path, milestone in p.rewards
                ],
            )
        )
    return stored


async def insert_bonuses(
    conn: Connection,
    program_id: int,
    purchase_id: int,
    bonuses: Sequence[RewardRow],
    *,
    created_at: datetime,
    available_at: datetime,
) -> list[Reward]:
    """Store rewards a review creates (milestone bonuses) for a purchase, with their EARNED
    entries."""
    if not bonuses:
        return []
    rows = await conn.fetch(
        f"""
        WITH new_reward AS (
            INSERT INTO reward (program_id, purchase_id, beneficiary_id, kind, level, rate, tier,
                                first_amount, amount, status, created_at, available_at, path,
                                milestone)
            SELECT $1, $2, d.beneficiary, d.kind, d.level, d.rate, d.tier, d.amount, d.amount,
                   'PENDING', $3, $4, string_to_array(d.path, ',')::bigint[], d.milestone
            FROM unnest($5::bigint[], $6::text[], $7::int[], $8::numeric[], $9::text[],
                        $10::numeric[], $11::text[], $12::int[])
                   WITH ORDINALITY
                   AS d(beneficiary, kind, level, rate, tier, amount, path, milestone, position)
            ORDER BY d.position
            RETURNING {REWARD_COLUMNS}
        ), entry AS (
            INSERT INTO reward_entry (reward_id, kind, delta, status, created_at)
            SELECT id, 'EARNED', amount, 'PENDING', created_at FROM new_reward
        )
        SELECT * FROM new_reward ORDER BY id
        """,
        program_id,
        purchase_id,
        created_at,
        available_at,
        [r[0] for r in bonuses],
        [r[1] for r in bonuses],
        [r[2] for r in bonuses],
        [r[3] for r in bonuses],
        [r[4] for r in bonuses],
        [r[5] for r in bonuses],
        [",".join(map(str, r[6])) for r in bonuses],
        [r[7] for r in bonuses],
    )
    return [reward_from_row(r) for r in rows]


async def first_paying_purchase(conn: Connection, customer_id: int) -> Purchase | None:
    """The customer's earliest recorded eligible purchase whose net amount is above 0: the
    one an approval's milestone bonuses belong to (rewards.md, "Milestones")."""
    row = await conn.fetchrow(
        f"""SELECT {PURCHASE_COLUMNS} FROM purchase
            WHERE customer_id = $1 AND eligible AND amount > refunded_amount
            ORDER BY id LIMIT 1""",
        customer_id,
    )
    return None if row is None else purchase_from_row(row)


async def monthly_usage(
    conn: Connection, program_id: int, zone: str, month: int
) -> list[tuple[int, Decimal]]:
    """Per beneficiary, the current amount of the program's commissions of purchases made in
    one month (year * 12 + month - 1) of the time zone: the monthly cap's usage."""
    year, index = divmod(month, 12)
    # Bounds in UTC a day wider than any zone's offset, for the index on the purchase's
    # time; the month in the zone decides.
    after = datetime(year, index + 1, 1, tzinfo=UTC) - MONTH_MARGIN
    year_next, index_next = divmod(month + 1, 12)
    before = datetime(year_next, index_next + 1, 1, tzinfo=UTC) + MONTH_MARGIN
    rows = await conn.fetch(
        """
        SELECT r.beneficiary_id, sum(r.amount) AS used
        FROM purchase p JOIN reward r ON r.purchase_id = p.id
        WHERE p.program_id = $1 AND p.occurred_at >= $3 AND p.occurred_at < $4
          AND (extract(year FROM p.occurred_at AT TIME ZONE $2) * 12
               + extract(month FROM p.occurred_at AT TIME ZONE $2) - 1) = $5
          AND r.kind = 'REFERRER_COMMISSION' AND r.amount > 0
        GROUP BY 1
        """,
        program_id,
        zone,
        after,
        before,
        month,
    )
    return [(r["beneficiary_id"], r["used"]) for r in rows]


async def purchase_rewards(conn: Connection | Pool, purchase_ids: list[int]) -> list[Reward]:
    """The rewards of these purchases as recordPurchase first returned them: commissions
    shallowest level first, then the welcome reward."""
    rows = await conn.fetch(
        f"""SELECT {REWARD_COLUMNS} FROM reward WHERE purchase_id = ANY($1)
            ORDER BY purchase_id, kind <> 'REFERRER_COMMISSION', kind = 'MILESTONE_BONUS',
                     level, id""",
        purchase_ids,
    )
    return [reward_from_row(r) for r in rows]


async def get_purchases(conn: Connection | Pool, purchase_ids: list[int]) -> list[Purchase]:
    """Purchases by id (missing ids are left out)."""
    rows = await conn.fetch(
        f"SELECT {PURCHASE_COLUMNS} FROM purchase WHERE id = ANY($1)", purchase_ids
    )
    return [purchase_from_row(r) for r in rows]


async def get_rewards(conn: Connection | Pool, reward_ids: list[int]) -> list[Reward]:
    """Rewards by id (missing ids are left out)."""
    rows = await conn.fetch(f"SELECT {REWARD_COLUMNS} FROM reward WHERE id = ANY($1)", reward_ids)
    return [reward_from_row(r) for r in rows]


async def update_reward_amounts(
    conn: Connection, changes: Sequence[tuple[int, Decimal]], entry_kind: str, reason: str | None
) -> None:
    """Set rewards' amounts (0 makes a reward REVERSED), appending one ledger entry per change."""
    if not changes:
        return
    await conn.execute(
        """
        WITH change AS (
            SELECT * FROM unnest($1::bigint[], $2::numeric[]) AS c(reward_id, amount)
        ), old AS (
            SELECT r.id, r.amount AS old_amount
            FROM reward r JOIN change c ON c.reward_id = r.id
            WHERE r.amount <> c.amount
        ), updated AS (
            UPDATE reward
            SET amount = change.amount,
                status = CASE WHEN change.amount = 0 THEN 'REVERSED' ELSE reward.status END
            FROM change, old
            WHERE reward.id = change.reward_id AND old.id = reward.id
            RETURNING reward.id, reward.amount, reward.status, old.old_amount
        )
        INSERT INTO reward_entry (reward_id, kind, delta, status, reason)
        SELECT id, CASE WHEN amount = 0 THEN 'REVERSED' ELSE $3 END, amount - old_amount,
               status, $4
        FROM updated
        """,
        [c[0] for c in changes],
        [c[1] for c in changes],
        entry_kind,
        reason,
    )


async def refund(
    conn: Connection, program_id: int, refund_id: str, purchase_id: int, amount: Decimal
) -> None:
    """Record the refund under its refundId, add it to the purchase's refunded amount and
    take it off its customer's spend. A refundId the program has used fails the statement
    on the unique key."""
    await conn.execute(
        """
        WITH recorded AS (
            INSERT INTO refund (program_id, refund_id, purchase_id, amount)
            VALUES ($3, $4, $1, $2)
        ), refunded AS (
            UPDATE purchase SET refunded_amount = refunded_amount + $2 WHERE id = $1
            RETURNING customer_id
        )
        UPDATE referral SET referee_spend = referee_spend - $2
        WHERE referee_id = (SELECT customer_id FROM refunded)
        """,
        purchase_id,
        amount,
        program_id,
        refund_id,
    )


@dataclass(frozen=True, slots=True)
class RecordedRefund:
    """A refund already made under a refundId: its order and the amount it refunded."""

    order_id: str
    amount: Decimal


async def find_refund(conn: Connection, program_id: int, refund_id: str) -> RecordedRefund | None:
    """The refund the program made under this refundId, if any."""
    row = await conn.fetchrow(
        """SELECT p.order_id, r.amount FROM refund r JOIN purchase p ON p.id = r.purchase_id
           WHERE r.program_id = $1 AND r.refund_id = $2""",
        program_id,
        refund_id,
    )
    return None if row is None else RecordedRefund(row["order_id"], row["amount"])


async def find_purchases(
    conn: Connection | Pool, program_id: int, order_ids: Sequence[str]
) -> dict[str, Purchase]:
    """The program's purchases with these order IDs, by order ID (unknown ones left out)."""
    rows = await conn.fetch(
        f"SELECT {PURCHASE_COLUMNS} FROM purchase WHERE program_id = $1 AND order_id = ANY($2)",
        program_id,
        order_ids,
    )
    return {row["order_id"]: purchase_from_row(row) for row in rows}


async def settle(
    conn: Connection | Pool, program_id: int, as_of: datetime
) -> tuple[int, Decimal, list[int]]:
    """Approve PENDING rewards available by as_of whose path crosses no FLAGGED link; how
    many, how much, and which."""
    row = await conn.fetchrow(
        """
        WITH approved AS (
            UPDATE reward SET status = 'APPROVED'
            WHERE program_id = $1 AND status = 'PENDING' AND available_at <= $2
              AND NOT EXISTS (
                  SELECT 1 FROM referral l
                  WHERE l.referee_id = ANY(reward.path) AND l.status = 'FLAGGED')
            RETURNING id, amount
        ), entry AS (
            INSERT INTO reward_entry (reward_id, kind, delta, status)
            SELECT id, 'APPROVED', 0, 'APPROVED' FROM approved
        )
        SELECT count(*) AS approved_count, coalesce(sum(amount), 0) AS approved_amount,
               coalesce(array_agg(id), '{}') AS approved_ids
        FROM approved
        """,
        program_id,
        as_of,
    )
    assert row is not None  # an aggregate always returns one row
    return int(row["approved_count"]), row["approved_amount"], list(row["approved_ids"])


async def pending_through(conn: Connection, referee_id: int) -> list[int]:
    """PENDING rewards whose path crosses this referee's link."""
    rows = await conn.fetch(
        "SELECT id FROM reward WHERE status = 'PENDING' AND path @> ARRAY[$1::bigint]",
        referee_id,
    )
    return [r["id"] for r in rows]


async def rewards_at(
    conn: Connection | Pool, reward_ids: list[int]
) -> list[tuple[Reward, datetime]]:
    """Rewards by id, each with its purchase's time (missing ids are left out)."""
    columns = ", ".join(f"r.{c.strip()}" for c in REWARD_COLUMNS.split(","))
    rows = await conn.fetch(
        f"""SELECT {columns}, p.occurred_at AS purchase_time
            FROM reward r JOIN purchase p ON p.id = r.purchase_id
            WHERE r.id = ANY($1) ORDER BY r.id""",
        reward_ids,
    )
    return [(reward_from_row(r), r["purchase_time"]) for r in rows]


async def pending_of(conn: Connection, beneficiary_id: int) -> list[int]:
    """A customer's PENDING rewards."""
    rows = await conn.fetch(
        "SELECT id FROM reward WHERE beneficiary_id = $1 AND status = 'PENDING'", beneficiary_id
    )
    return [r["id"] for r in rows]


async def rewards_of(
    conn: Connection | Pool,
    beneficiary_id: int,
    status: str | None,
    limit: int,
    before_id: int | None,
) -> tuple[list[Reward], int]:
    """A customer's rewards, newest first, after a keyset cursor; and how many match in all.

    One statement (a dashboard's round trips are its cost): the count rides on each row of
    the page, and on one row of NULLs when the page is empty.
    """
    rows = await conn.fetch(
        f"""SELECT counted.total, page.*
            FROM (SELECT count(*) AS total FROM reward
                  WHERE beneficiary_id = $1 AND ($2::text IS NULL OR status = $2)) AS counted
            LEFT JOIN (
                SELECT {REWARD_COLUMNS} FROM reward
                WHERE beneficiary_id = $1 AND ($2::text IS NULL OR status = $2)
                  AND ($4::bigint IS NULL OR id < $4)
                ORDER BY id DESC LIMIT $3
            ) AS page ON true
            ORDER BY page.id DESC""",
        beneficiary_id,
        status,
        limit,
        before_id,
    )
    return [reward_from_row(r) for r in rows if r["id"] is not None], int(rows[0]["total"])


async def balance(
    conn: Connection | Pool, beneficiary_ids: list[int]
) -> dict[int, tuple[Decimal, Decimal, Decimal]]:
    """(pending, approved, reversed) of each customer."""
    rows = await conn.fetch(
        """SELECT beneficiary_id,
                  coalesce(sum(amount) FILTER (WHERE status = 'PENDING'), 0) AS pending,
                  coalesce(sum(amount) FILTER (WHERE status = 'APPROVED'), 0) AS approved,
                  coalesce(sum(first_amount - amount), 0) AS reversed
           FROM reward WHERE beneficiary_id = ANY($1) GROUP BY beneficiary_id""",
        beneficiary_ids,
    )
    return {r["beneficiary_id"]: (r["pending"], r["approved"], r["reversed"]) for r in rows}


async def program_rewards(
    conn: Connection | Pool,
    program_id: int,
    status: str | None,
    kind: str | None,
    limit: int,
    before: tuple[datetime, int] | None,
) -> list[Reward]:
    """The program's rewards, newest first (created_at, then id), after a keyset cursor.

    The SQL is written out per filter (no `$n IS NULL OR ...`), so that each form keeps a
    plan that walks reward_program_created, reward_program_status or reward_program_kind
    backwards (with both filters, the planner takes one index and filters on the other).
    """
    where, args = _program_reward_filter(program_id, status, kind)
    if before is not None:
        where += f" AND (created_at, id) < (${len(args) + 1}, ${len(args) + 2})"
        args += [before[0], before[1]]
    rows = await conn.fetch(
        f"""SELECT {REWARD_COLUMNS} FROM reward WHERE {where}
            ORDER BY created_at DESC, id DESC LIMIT ${len(args) + 1}""",
        *args,
        limit,
    )
    return [reward_from_row(r) for r in rows]


async def count_program_rewards(
    conn: Connection | Pool, program_id: int, status: str | None, kind: str | None
) -> int:
    """How many rewards the program has (of this status and kind)."""
    where, args = _program_reward_filter(program_id, status, kind)
    return int(await conn.fetchval(f"SELECT count(*) FROM reward WHERE {where}", *args))


def _program_reward_filter(
    program_id: int, status: str | None, kind: str | None
) -> tuple[str, list[object]]:
    where = "program_id = $1"
    args: list[object] = [program_id]
    if status is not None:
        args.append(status)
        where += f" AND status = ${len(args)}"
    if kind is not None:
        args.append(kind)
        where += f" AND kind = ${len(args)}"
    return where, args
