"""Recording purchases in group commits, the write path of the reward engine.

A program's ledger is serialised by its row lock. Taking that lock, committing and
releasing it once per purchase caps a program at a few hundred purchases a second, so the
purchases that arrive while a program's ledger is busy are recorded together: one lock,
one statement, one commit. Inside a batch each purchase is priced against the graph as the
purchases before it left it, exactly as if they had been recorded one after another.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum

import asyncpg

from rujuk.db import purchases as purchase_queries
from rujuk.db.pool import Connection, Pool
from rujuk.db.purchases import NewPurchase
from rujuk.errors import DomainError, ServiceUnavailable
from rujuk.graph.events import PurchaseRecorded
from rujuk.graph.referral_graph import ReferralGraph
from rujuk.graph.rewards import purchase_rewards
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
        program = await self._graphs.program(program_id)
        assert program is not None  # record() was given it
        now = datetime.now(UTC)
        for attempt in range(UNLOCKED_ATTEMPTS):
            if attempt:
                # Another worker wrote since: apply its events and price again.
                await self._graphs.catch_up(program_id)
            outcomes = await self._commit_unlocked(program, pending, now)
            if outcomes is _Unlocked.NEEDS_LOCK:
                break
            if outcomes is not _Unlocked.STALE:
                return outcomes
        return await self._commit_locked(program, pending, now)

    async def _commit_unlocked(
        self, program: Program, pending: Sequence[PendingPurchase], now: datetime
    ) -> list[PurchaseResult | Exception] | _Unlocked:
        """The common case in one round trip: price against the graph as this process has
        it, store in one statement that writes only if nobody wrote since. Nothing is
        written when somebody did (STALE), or when an order may be recorded already or a
        customer is unknown here (NEEDS_LOCK: the locked path looks them up).
        """
        graph = self._graphs.graph(program.id)
        batch = _Batch(graph, program, {})
        batch.price(pending)
        if not batch.new or any(isinstance(fate, DomainError) for fate in batch.fates):
            return _Unlocked.NEEDS_LOCK
        # Only a program with endpoints pays a transaction around the statement (its events).
        webhooks = await self._outbox.subscribed(program.id)
        async with self._writes.unlocked(program.id, graph.version) as write:
            first_version = write.reserve(len(batch.new))
            try:
                async with self._pool.acquire() as conn, _transaction(conn, bool(webhooks)):
                    stored = await purchase_queries.insert_purchases(
                        conn, program.id, batch.new, created_at=now, first_version=first_version
                    )
                    if stored is not None:
                        await self._outbox.write(
                            conn, program.id, purchase_events(stored), webhooks
                        )
            except asyncpg.UniqueViolationError:
                return _Unlocked.NEEDS_LOCK
            if stored is None:
                return _Unlocked.STALE
            write.appended([_event(purchase) for purchase, _ in stored])
        return batch.outcomes(stored, [])

    async def _commit_locked(
        self, program: Program, pending: Sequence[PendingPurchase], now: datetime
    ) -> list[PurchaseResult | Exception]:
        """Under the program's lock: catch up with every commit, look the orders up, price,
        store, commit."""
        async with (
            self._pool.acquire() as conn,
            self._writes.begin(conn, program.id) as write,
        ):
            # After the lock: every purchase committed before it is seen.
            recorded = await purchase_queries.find_purchases(
                conn, program.id, [p.order_id for p in pending]
            )
            batch = _Batch(write.graph, program, recorded)
            batch.price(pending)
            stored: list[tuple[Purchase, list[Reward]]] = []
            if batch.new:
                inserted = await purchase_queries.insert_purchases(
                    conn,
                    program.id,
                    batch.new,
                    created_at=now,
                    first_version=write.reserve(len(batch.new)),
                )
                assert inserted is not None  # the lock is ours: nobody wrote since
                stored = inserted
                write.appended([_event(purchase) for purchase, _ in stored])
                await self._outbox.write(conn, program.id, purchase_events(stored))
            replayed = [p.id for p in recorded.values()]
            rewards = []
            if replayed:
                rewards = await purchase_queries.purchase_rewards(conn, replayed)
        return batch.outcomes(stored, rewards)


def _transaction(conn: Connection, wanted: bool) -> AbstractAsyncContextManager[object]:
    return conn.transaction() if wanted else contextlib.nullcontext()


def _event(purchase: Purchase) -> PurchaseRecorded:
    return PurchaseRecorded(purchase.customer_id, purchase.id, purchase.amount)


class _Batch:
    """Decides, purchase by purchase in arrival order, what each one of a batch becomes."""

    def __init__(
        self, graph: ReferralGraph, program: Program, recorded: dict[str, Purchase]
    ) -> None:
        self.graph = graph
        self.program = program
        self.recorded = recorded
        self.new: list[NewPurchase] = []
        # Per pending purchase: an index into new, a recorded Purchase, or its error.
        self.fates: list[int | Purchase | DomainError] = []

    def price(self, pending: Sequence[PendingPurchase]) -> None:
        """Price every new purchase against the graph as the earlier ones in the batch
        leave it, then put the graph back: it changes only once the batch commits."""
        graph = self.graph
        priced: dict[str, int] = {}
        applied: list[NewPurchase] = []
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
                drafts = purchase_rewards(graph, self.program, customer_id, p.amount)
                new = NewPurchase(
                    customer_id=customer_id,
                    order_id=p.order_id,
                    amount=p.amount,
                    occurred_at=p.occurred_at,
                    available_at=p.occurred_at + timedelta(days=self.program.hold_days),
                    rewards=[
                        (d.beneficiary_id, d.kind, d.level, d.rate, d.tier, d.amount, d.path)
                        for d in drafts
                    ],
                )
                graph.record_spend(customer_id, p.amount, purchases=1)
                applied.append(new)
                priced[p.order_id] = len(self.new)
                self.fates.append(len(self.new))
                self.new.append(new)
        finally:
            for new in reversed(applied):
                graph.record_spend(new.customer_id, -new.amount, purchases=-1)

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
