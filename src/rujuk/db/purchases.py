"""Queries on purchases and the reward ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from rujuk.db.events import GRAPH_CHANNEL
from rujuk.db.pool import Connection, Pool
from rujuk.records import Purchase, Reward
from rujuk.vocabulary import RewardStatus

PURCHASE_COLUMNS = "id, program_id, customer_id, order_id, amount, refunded_amount, occurred_at"
REWARD_COLUMNS = (
    "id, program_id, purchase_id, beneficiary_id, kind, level, rate, tier, first_amount, amount,"
    " status, created_at, available_at, path"
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


RewardRow = tuple[int, str, int, Decimal | None, str | None, Decimal, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class NewPurchase:
    """A purchase to store, with its rewards as (beneficiary, kind, level, rate, tier,
    amount, path)."""

    customer_id: int
    order_id: str
    amount: Decimal
    occurred_at: datetime
    available_at: datetime
    rewards: Sequence[RewardRow]


async def insert_purchases(
    conn: Connection,
    program_id: int,
    purchases: Sequence[NewPurchase],
    *,
    created_at: datetime,
    first_version: int,
) -> list[tuple[Purchase, list[Reward]]] | None:
    """Store purchases, their rewards, EARNED entries and graph events: one statement that
    locks the program, so it may run alone (autocommit) or inside a transaction.

    The purchases become graph versions first_version, first_version + 1, ... in the given
    order, and only if the program's graph is at first_version - 1 once locked: otherwise
    nothing is written and the result is None (somebody else wrote since the caller read
    the graph). An order recorded already fails the statement on the unique key.
    """
    rewards = [(p.order_id, r) for p in purchases for r in p.rewards]
    last_version = first_version + len(purchases) - 1
    rows = await conn.fetch(
        """
        WITH locked AS (
            SELECT graph_version FROM program WHERE id = $1 FOR UPDATE
        ), input AS (
            SELECT * FROM unnest($2::bigint[], $3::text[], $4::numeric[], $5::timestamptz[],
                                 $6::timestamptz[])
                   WITH ORDINALITY AS p(customer, order_id, amount, occurred_at, available_at,
                                        position)
        ), new_purchase AS (
            INSERT INTO purchase (program_id, customer_id, order_id, amount, occurred_at,
                                  created_at)
            SELECT $1, customer, order_id, amount, occurred_at, $7 FROM input
            WHERE (SELECT graph_version FROM locked) = $16 - 1
            ORDER BY position
            RETURNING id, order_id
        ), new_reward AS (
            INSERT INTO reward (program_id, purchase_id, beneficiary_id, kind, level, rate, tier,
                                first_amount, amount, status, created_at, available_at, path)
            SELECT $1, new_purchase.id, d.beneficiary, d.kind, d.level, d.rate, d.tier,
                   d.amount, d.amount, 'PENDING', $7, input.available_at,
                   string_to_array(d.path, ',')::bigint[]
            FROM unnest($8::text[], $9::bigint[], $10::text[], $11::int[], $12::numeric[],
                        $13::text[], $14::numeric[], $15::text[])
                   AS d(order_id, beneficiary, kind, level, rate, tier, amount, path)
            JOIN new_purchase USING (order_id)
            JOIN input USING (order_id)
            RETURNING id, purchase_id, kind, level, amount, created_at
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
                                      'delta', input.amount::text)
            FROM input JOIN new_purchase USING (order_id)
        ), notify AS (
            SELECT pg_notify($17, $1::text || ':' || $18::text)
            WHERE EXISTS (SELECT 1 FROM new_purchase)
        )
        SELECT new_purchase.order_id, new_purchase.id AS purchase_id, r.id, r.kind, r.level
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
    )
    if not rows:
        return None
    purchase_ids = {row["order_id"]: row["purchase_id"] for row in rows}
    reward_ids = {
        (row["purchase_id"], row["kind"], row["level"]): row["id"]
        for row in rows
        if row["id"] is not None
    }
    if len(purchase_ids) != len(purchases) or len(reward_ids) != len(rewards):
        raise RuntimeError("the purchase insert stored something other than what it was given")
    stored = []
    for p in purchases:
        purchase_id = purchase_ids[p.order_id]
        purchase = Purchase(
            purchase_id, program_id, p.customer_id, p.order_id, p.amount, Decimal(0), p.occurred_at
        )
        stored.append(
            (
                purchase,
                [
                    Reward(
                        id=reward_ids[(purchase_id, kind, level)],
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
                    )
                    for beneficiary, kind, level, rate, tier, paid, path in p.rewards
                ],
            )
        )
    return stored


async def purchase_rewards(conn: Connection | Pool, purchase_ids: list[int]) -> list[Reward]:
    """The rewards of these purchases as recordPurchase first returned them: commissions
    shallowest level first, then the welcome reward."""
    rows = await conn.fetch(
        f"""SELECT {REWARD_COLUMNS} FROM reward WHERE purchase_id = ANY($1)
            ORDER BY purchase_id, kind = 'REFEREE_WELCOME', level, id""",
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
    """A customer's rewards, newest first, after a keyset cursor; and how many match in all."""
    rows = await conn.fetch(
        f"""SELECT {REWARD_COLUMNS} FROM reward
            WHERE beneficiary_id = $1 AND ($2::text IS NULL OR status = $2)
              AND ($4::bigint IS NULL OR id < $4)
            ORDER BY id DESC LIMIT $3""",
        beneficiary_id,
        status,
        limit,
        before_id,
    )
    total = await conn.fetchval(
        """SELECT count(*) FROM reward
           WHERE beneficiary_id = $1 AND ($2::text IS NULL OR status = $2)""",
        beneficiary_id,
        status,
    )
    return [reward_from_row(r) for r in rows], int(total)


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
