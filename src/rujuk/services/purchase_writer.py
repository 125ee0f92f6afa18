"""Recording purchases in group commits, the write path of the reward engine.

A program's ledger is serialised by its row lock. Taking that lock, committing and
releasing it once per purchase caps a program at a few hundred purchases a second, so the
purchases that arrive while a program's ledger is busy are recorded together: one lock,
one statement, one commit. Inside a batch each purchase is priced against the graph as the
purchases before it left it, exactly as if they had been recorded one after another.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum

from rujuk.db import purchases as purchase_queries
from rujuk.db.pool import UNIQUE_VIOLATION, Connection, Pool
from rujuk.db.purchases import NewPurchase
from rujuk.errors import DomainError, ServiceUnavailable
from rujuk.graph.events import PurchaseRecorded, book_json
from rujuk.graph.referral_graph import ReferralGraph
from rujuk.graph.reward_book import month_of
from rujuk.graph.rules import RewardChange, created, purchase_rewards, record_purchase
from rujuk.graph.writes import GraphWrites
from rujuk.group_commit import GroupCommit
from rujuk.records import Program, Purchase, Reward
from rujuk.services.webhook_events import Outbox, purchase_events


@dataclass(frozen=True, slots=True)
class PendingPurchase:
    """A validated purchase waiting for its program's ledger."""

    customer_external_id: str
    order_id: str
    amount: Decimal
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class PurchaseResult:
    """A purchase and the rewards it created (or, replayed, its rewards as they stand)."""

    purchase: Purchase
    rewards: list[Reward]


# Tries of the one-statement path before taking the lock for the whole transaction; more
# than one only helps when other workers write to the same program.
UNLOCKED_ATTEMPTS = 5


class _Unlocked(Enum):
    """Why the one-statement path wrote nothing."""

    STALE = "another writer came first: catch up and price again"
    NEEDS_LOCK = "a replay or an unknown customer: the locked path looks them up"


class PurchaseWriter:
    """Records purchases exactly once per (program, orderId), in group commits."""

    def __init__(self, pool: Pool, writes: GraphWrites, outbox: Outbox) -> None:
        self._pool = pool
        self._writes = writes
        self._graphs = writes.store
        self._outbox = outbox
        self.batches: GroupCommit[int, PendingPurchase, PurchaseResult] = GroupCommit(
            self._commit, fails_all=(ServiceUnavailable,)
        )

    async def record(self, program: Program, purchase: PendingPurchase) -> PurchaseResult:
        """Record the purchase and pay its rewards; raises DomainError for this purchase."""
        return await self.batches.submit(program.id, purchase)

    async def _commit(
        self, program_id: int, pending: Sequence[PendingPurchase]
    ) -> list[PurchaseResult | Exception]:
        # Cached now; the attempts below read the rules afresh: a change of rules is a
        # graph event, and catching up may bring one.
        assert await self._graphs.program(program_id) is not None  # record() was given it
        now = datetime.now(UTC)
        for attempt in range(UNLOCKED_ATTEMPTS):
            if attempt:
                # Another worker wrote since: apply its events and price again.
                await self._graphs.catch_up(program_id)
            outcomes = await self._commit_unlocked(program_id, pending, now)
            if outcomes is _Unlocked.NEEDS_LOCK:
                break
            if outcomes is not _Unlocked.STALE:
                return outcomes
        return await self._commit_locked(program_id, pending, now)

    async def _commit_unlocked(
        self, program_id: int, pending: Sequence[PendingPurchase], now: datetime
    ) -> list[PurchaseResult | Exception] | _Unlocked:
        """The common case in one round trip: price against the graph and the rules as this
        process has them, store in one statement that writes only if nobody wrote since
        (neither the graph nor the rules moved). Nothing is written when somebody did
        (STALE), or when an order may be recorded already or a customer is unknown here
        (NEEDS_LOCK: the locked path looks them up).
        """
        # The graph, its version and the rules read together, with no await between them:
        # the rules are those in force at that graph version.
        graph = self._graphs.graph(program_id)
        program = self._graphs.programs[program_id]
        # Taken with the prices: the statement must check the version they were priced at,
        # not one the graph reached while this write awaited (another worker's purchase of
        # the same customer would be missed: a second welcome reward).
        priced_at = graph.version
        if _months_missing(graph, program, pending):
            return _Unlocked.NEEDS_LOCK
        batch = _Batch(graph, program, {})
        batch.price(pending)
        if not batch.new or any(isinstance(fate, DomainError) for fate in batch.fates):
            return _Unlocked.NEEDS_LOCK
        # Only a program with endpoints pays a transaction around the statement (its events).
        webhooks = await self._outbox.subscribed(program.id)
        async with self._writes.unlocked(program.id, priced_at) as write:
            first_version = write.reserve(len(batch.new))
            try:
                async with self._pool.acquire() as conn, _transaction(conn, bool(webhooks)):
                    stored = await purchase_queries.insert_purchases(
                        conn,
                        program.id,
                        batch.new,
                        created_at=now,
                        first_version=first_version,
                        rules_version=program.rules_version,
                    )
                    if stored is not None:
                        await self._outbox.write(
                            conn, program.id, purchase_events(stored), webhooks
                        )
            except UNIQUE_VIOLATION:
                return _Unlocked.NEEDS_LOCK
            if stored is None:
                return _Unlocked.STALE
            write.appended(_events(batch, stored))
        return batch.outcomes(stored, [])

    async def _commit_locked(
        self, program_id: int, pending: Sequence[PendingPurchase], now: datetime
    ) -> list[PurchaseResult | Exception]:
        """Under the program's lock: catch up with every commit, look the orders up, price
        under the rules in force (the program row read under the lock), store, commit."""
        async with (
            self._pool.acquire() as conn,
            self._writes.begin(conn, program_id) as write,
        ):
            program = write.program
            self._graphs.remember(program)
            graph = write.graph
            zone = program.time_zone
            for month in _months_missing(graph, program, pending):
                # Once per month of the program (and per change of its time zone): the
                # monthly cap's usage read from the ledger as it stands at the locked
                # version, then kept by the graph events (graph/reward_book.py).
                usage = await purchase_queries.monthly_usage(conn, program.id, zone, month)
                graph.book.keep_month(zone, month, usage)
            # After the lock: every purchase committed before it is seen.
            recorded = await purchase_queries.find_purchases(
                conn, program.id, [p.order_id for p in pending]
            )
            batch = _Batch(graph, program, recorded)
            batch.price(pending)
            stored: list[tuple[Purchase, list[Reward]]] = []
            if batch.new:
                inserted = await purchase_queries.insert_purchases(
                    conn,
                    program.id,
                    batch.new,
                    created_at=now,
                    first_version=write.reserve(len(batch.new)),
                    rules_version=program.rules_version,
                )
                assert inserted is not None  # the lock is ours: nobody wrote since
                stored = inserted
                write.appended(_events(batch, stored))
                await self._outbox.write(conn, program.id, purchase_events(stored))
            replayed = [p.id for p in recorded.values()]
            rewards = []
            if replayed:
                rewards = await purchase_queries.purchase_rewards(conn, replayed)
        return batch.outcomes(stored, rewards)


def _months_missing(
    graph: ReferralGraph, program: Program, pending: Sequence[PendingPurchase]
) -> set[int]:
    """The months of the purchases whose usage the program's monthly cap reads and the
    graph's book does not keep yet (none without a cap)."""
    if program.monthly_cap_per_referrer is None:
        return set()
    zone, book = program.time_zone, graph.book
    months = {month_of(p.occurred_at, zone) for p in pending}
    return {m for m in months if not book.keeps_month(zone, m)}


def _transaction(conn: Connection, wanted: bool) -> AbstractAsyncContextManager[object]:
    return conn.transaction() if wanted else contextlib.nullcontext()


def _events(batch: _Batch, stored: list[tuple[Purchase, list[Reward]]]) -> list[PurchaseRecorded]:
    """The purchase_recorded events of a batch's new purchases, in order."""
    return [
        PurchaseRecorded(purchase.customer_id, purchase.id, purchase.amount, eligible, changes)
        for (purchase, _), (eligible, changes) in zip(stored, batch.books, strict=True)
    ]


class _Batch:
    """Decides, purchase by purchase in arrival order, what each one of a batch becomes."""

    def __init__(
        self, graph: ReferralGraph, program: Program, recorded: dict[str, Purchase]
    ) -> None:
        self.graph = graph
        self.program = program
        self.recorded = recorded
        self.new: list[NewPurchase] = []
        # Per new purchase: its eligibility and what its rewards change in the book.
        self.books: list[tuple[bool, tuple[RewardChange, ...]]] = []
        # Per pending purchase: an index into new, a recorded Purchase, or its error.
        self.fates: list[int | Purchase | DomainError] = []

    def price(self, pending: Sequence[PendingPurchase]) -> None:
        """Price every new purchase against the graph as the earlier ones in the batch
        leave it, then put the graph back: it changes only once the batch commits."""
        graph = self.graph
        priced: dict[str, int] = {}
        applied: list[tuple[NewPurchase, bool, list[RewardChange]]] = []
        try:
            for p in pending:
                customer_id = graph.by_external_id.get(p.customer_external_id)
                earlier: Purchase | NewPurchase | None = self.recorded.get(p.order_id)
                if earlier is None and p.order_id in priced:
                    earlier = self.new[priced[p.order_id]]
                if earlier is not None:
                    if earlier.customer_id != customer_id or earlier.amount != p.amount:
                        self.fates.append(_order_conflict())
                    elif isinstance(earlier, Purchase):
                        self.fates.append(earlier)
                    else:
                        self.fates.append(priced[p.order_id])
                    continue
                if customer_id is None:
                    self.fates.append(
                        DomainError(
                            "UNKNOWN_CUSTOMER",
                            "no customer with this externalId in the program",
                            "customer_external_id",
                        )
                    )
                    continue
                eligible, drafts = purchase_rewards(
                    graph, self.program, customer_id, p.amount, p.occurred_at
                )
                changes = created(drafts, p.occurred_at)
                new = NewPurchase(
                    customer_id=customer_id,
                    order_id=p.order_id,
                    amount=p.amount,
                    occurred_at=p.occurred_at,
                    available_at=p.occurred_at + timedelta(days=self.program.hold_days),
                    eligible=eligible,
                    rewards=[
                        (
                            d.beneficiary_id,
                            d.kind,
                            d.level,
                            d.rate,
                            d.tier,
                            d.amount,
                            d.path,
                            d.milestone,
                        )
                        for d in drafts
                    ],
                    book=json.dumps(book_json(eligible, changes)),
                )
                record_purchase(graph, customer_id, p.amount, eligible, changes)
                applied.append((new, eligible, changes))
                priced[p.order_id] = len(self.new)
                self.fates.append(len(self.new))
                self.new.append(new)
                self.books.append((eligible, tuple(changes)))
        finally:
            for new, eligible, changes in reversed(applied):
                record_purchase(graph, new.customer_id, new.amount, eligible, changes, -1)

    def outcomes(
        self, stored: list[tuple[Purchase, list[Reward]]], replayed_rewards: list[Reward]
    ) -> list[PurchaseResult | Exception]:
        """Each pending purchase's result (or error), once the batch has committed."""
        by_purchase: dict[int, list[Reward]] = {}
        for reward in replayed_rewards:
            by_purchase.setdefault(reward.purchase_id, []).append(reward)
        results: list[PurchaseResult | Exception] = []
        for fate in self.fates:
            if isinstance(fate, DomainError):
                results.append(fate)
            elif isinstance(fate, Purchase):
                results.append(PurchaseResult(fate, by_purchase.get(fate.id, [])))
            else:
                purchase, rewards = stored[fate]
                results.append(PurchaseResult(purchase, rewards))
        return results


def _order_conflict() -> DomainError:
    return DomainError(
        "ORDER_CONFLICT",
        "this orderId was recorded with another customer or amount",
        "order_id",
    )
