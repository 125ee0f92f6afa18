"""Reviewing flagged referrals, and erasing a customer's personal data on request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rujuk.access import Principal
from rujuk.db import customers as customer_queries
from rujuk.db import purchases as purchase_queries
from rujuk.db import referrals as referral_queries
from rujuk.db.pool import Connection
from rujuk.errors import DomainError
from rujuk.graph.events import CustomerErased, ReferralReviewed
from rujuk.graph.rules import RewardChange, RewardDraft, changed, created, on_approval
from rujuk.records import Customer, Program, Referral
from rujuk.services import customers, webhook_events
from rujuk.services.runtime import Runtime
from rujuk.services.webhook_events import (
    REFERRAL_REVIEWED,
    REWARD_EARNED,
    REWARD_REVERSED,
    customer_erased,
    referral_event,
)
from rujuk.vocabulary import LedgerEntryKind, ReferralStatus, ReviewDecision

MAX_NOTE = 2000


async def review_referral(
    runtime: Runtime, principal: Principal, referral_id: int | None, decision: str, note: str | None
) -> Referral:
    """APPROVE makes a link ACTIVE; REJECT makes it REJECTED for good, reversing what is pending."""
    principal.require_authenticated()
    unknown = DomainError("NOT_FOUND", "no such referral", "referral_id")
    if referral_id is None:
        raise unknown
    if note is not None and len(note) > MAX_NOTE:
        raise DomainError("INVALID_INPUT", f"note is at most {MAX_NOTE} characters", "note")
    status = (
        ReferralStatus.ACTIVE if decision == ReviewDecision.APPROVE else ReferralStatus.REJECTED
    )
    async with runtime.pool.acquire() as conn:
        referral = await referral_queries.get_referral(conn, referral_id)
        if referral is None:
            raise unknown
        principal.require_manager(referral.program_id)
        async with runtime.graph_writes.begin(conn, referral.program_id) as uow:
            # Read again under the lock: a concurrent review may have rejected it.
            current = await referral_queries.get_referral(conn, referral.id)
            assert current is not None
            if current.status == ReferralStatus.REJECTED:
                raise DomainError(
                    "INVALID_INPUT",
                    "a rejected referral is final and cannot be reviewed again",
                    "decision",
                )
            # Read before the link changes: the bonuses of the rise an approval makes.
            bonuses = on_approval(uow.graph, uow.graph.book, uow.program, referral.referee_id)
            updated = await referral_queries.set_status(conn, referral.id, status, note)
            changes: list[RewardChange] = []
            if status == ReferralStatus.ACTIVE and bonuses:
                changes = await _pay_bonuses(runtime, conn, uow.program, referral, bonuses)
            if status == ReferralStatus.REJECTED:
                reversed_ids = await purchase_queries.pending_through(conn, referral.referee_id)
                reversing = await purchase_queries.rewards_at(conn, reversed_ids)
                changes = changed(reversing, [Decimal(0)] * len(reversing))
                await purchase_queries.update_reward_amounts(
                    conn,
                    [(i, Decimal(0)) for i in reversed_ids],
                    LedgerEntryKind.REVERSED,
                    "referral rejected",
                )
                await webhook_events.rewards_changed(
                    runtime.outbox, conn, referral.program_id, REWARD_REVERSED, reversed_ids
                )
            await runtime.outbox.write(
                conn, referral.program_id, [referral_event(REFERRAL_REVIEWED, updated)]
            )
            await uow.append(ReferralReviewed(referral.referee_id, updated.status, tuple(changes)))
    return updated


async def _pay_bonuses(
    runtime: Runtime,
    conn: Connection,
    program: Program,
    referral: Referral,
    bonuses: list[RewardDraft],
) -> list[RewardChange]:
    """Record the milestone bonuses of an approval's rise, when it earns: they belong to the
    referee's earliest recorded eligible purchase whose net amount is above 0, and wait
    holdDays from the review (rewards.md, "Milestones"); what they change in the book."""
    owner = await purchase_queries.first_paying_purchase(conn, referral.referee_id)
    if owner is None:
        return []
    now = datetime.now(UTC)
    paid = await purchase_queries.insert_bonuses(
        conn,
        program.id,
        owner.id,
        [
            (b.beneficiary_id, b.kind, b.level, b.rate, b.tier, b.amount, b.path, b.milestone)
            for b in bonuses
        ],
        created_at=now,
        available_at=now + timedelta(days=program.hold_days),
    )
    await runtime.outbox.write(
        conn, program.id, [webhook_events.reward_event(REWARD_EARNED, r) for r in paid]
    )
    return created(bonuses, owner.occurred_at)


async def erase_customer(
    runtime: Runtime, principal: Principal, customer_id: int | None
) -> Customer:
    """Wipe a customer's personal data; it keeps its place in the tree and its ledger."""
    customer = await customers.managed_customer(runtime, principal, customer_id, live=False)
    if customer.erased:
        return customer
    async with (
        runtime.pool.acquire() as conn,
        runtime.graph_writes.begin(conn, customer.program_id) as uow,
    ):
        erased = await customer_queries.erase(conn, customer.id, datetime.now(UTC))
        pending = await purchase_queries.pending_of(conn, customer.id)
        reversing = await purchase_queries.rewards_at(conn, pending)
        changes = changed(reversing, [Decimal(0)] * len(reversing))
        await purchase_queries.update_reward_amounts(
            conn, [(i, Decimal(0)) for i in pending], LedgerEntryKind.REVERSED, "customer erased"
        )
        await runtime.outbox.write(
            conn, customer.program_id, [customer_erased(customer.program_id, customer.id)]
        )
        await webhook_events.rewards_changed(
            runtime.outbox, conn, customer.program_id, REWARD_REVERSED, pending
        )
        await uow.append(CustomerErased(customer.id, tuple(changes)))
    # The customer's tokens stop working now, not when their cached caller expires.
    runtime.callers.clear()
    return erased
