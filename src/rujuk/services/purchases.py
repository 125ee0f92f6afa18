"""Recording and refunding purchases: the ledger side of the reward engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from rujuk.access import Principal
from rujuk.db import programs as program_queries
from rujuk.db import purchases as purchase_queries
from rujuk.errors import DomainError
from rujuk.graph.events import PurchaseRefunded
from rujuk.graph.rules import FrozenReward, changed, refunded_amounts
from rujuk.money import amount_problem
from rujuk.records import Program
from rujuk.services import webhook_events
from rujuk.services.purchase_writer import PendingPurchase, PurchaseResult
from rujuk.services.registration import MAX_CLOCK_SKEW
from rujuk.services.runtime import Runtime
from rujuk.text import is_clean_text
from rujuk.vocabulary import LedgerEntryKind, RewardStatus

MAX_KEY = 200


@dataclass(frozen=True, slots=True)
class PurchaseRequest:
    """What a partner sends when a customer buys."""

    program_id: int | None
    customer_external_id: str
    order_id: str
    amount: Decimal
    occurred_at: datetime | None


async def _program(runtime: Runtime, principal: Principal, program_id: int | None) -> Program:
    principal.require_authenticated()
    program = None if program_id is None else await runtime.graphs.program(program_id)
    if program is None:
        raise DomainError("UNKNOWN_PROGRAM", "no such program", "program_id")
    principal.require_manager(program.id)
    return program


def _check_key(key: str, field: str, label: str) -> None:
    """An idempotency key (orderId, refundId) as the partner's systems store it (label: its
    name in the message)."""
    if not is_clean_text(key, MAX_KEY) or key != key.strip():
        raise DomainError(
            "INVALID_INPUT",
            f"{label} must be 1 to {MAX_KEY} characters, no surrounding spaces or control"
            " characters",
            field,
        )


def _check_amount(amount: Decimal, program: Program) -> None:
    problem = amount_problem(amount, program.currency)
    if problem is not None:
        raise DomainError("INVALID_AMOUNT", f"amount {problem}", "amount")


async def record_purchase(
    runtime: Runtime, principal: Principal, request: PurchaseRequest
) -> PurchaseResult:
    """Record a purchase and pay its rewards, exactly once per orderId."""
    program = await _program(runtime, principal, request.program_id)
    _check_key(request.order_id, "order_id", "orderId")
    if request.occurred_at is not None and request.occurred_at > datetime.now(UTC) + MAX_CLOCK_SKEW:
        raise DomainError(
            "INVALID_INPUT",
            "occurredAt must not be more than 5 minutes in the future",
            "occurred_at",
        )
    _check_amount(request.amount, program)
    pending = PendingPurchase(
        customer_external_id=request.customer_external_id,
        order_id=request.order_id,
        amount=request.amount,
        occurred_at=request.occurred_at or datetime.now(UTC),
    )
    return await runtime.purchase_writer.record(program, pending)


async def refund_purchase(
    runtime: Runtime,
    principal: Principal,
    program_id: int | None,
    order_id: str,
    refund_id: str,
    amount: Decimal | None,
) -> PurchaseResult:
    """Refund part or all of a purchase, exactly once per refundId; its rewards are
    recomputed on the new net amount."""
    program = await _program(runtime, principal, program_id)
    _check_key(order_id, "order_id", "orderId")
    _check_key(refund_id, "refund_id", "refundId")
    if amount is not None:
        _check_amount(amount, program)
    async with (
        runtime.pool.acquire() as conn,
        runtime.graph_writes.begin(conn, program.id) as uow,
    ):
        # After the lock: every refund and purchase committed before it is seen.
        purchase = (await purchase_queries.find_purchases(conn, program.id, [order_id])).get(
            order_id
        )
        earlier = await purchase_queries.find_refund(conn, program.id, refund_id)
        if earlier is not None:
            if earlier.order_id != order_id or amount not in (None, earlier.amount):
                raise DomainError(
                    "REFUND_CONFLICT",
                    "this refundId was used for another order or amount",
                    "refund_id",
                )
            assert purchase is not None  # the refund's own purchase
            current = await purchase_queries.purchase_rewards(conn, [purchase.id])
            return PurchaseResult(purchase, current)
        if purchase is None:
            raise DomainError("NOT_FOUND", "no purchase with this orderId", "order_id")
        left = purchase.net_amount
        refund = left if amount is None else amount
        if refund <= 0:
            raise DomainError("INVALID_AMOUNT", "nothing is left to refund", "amount")
        if refund > left:
            raise DomainError(
                "REFUND_EXCEEDS_PURCHASE",
                f"only {left} of this purchase is left to refund",
                "amount",
            )
        # Frozen rates and tiers, under the rules the purchase was priced by: a refund reads
        # nothing from the graph, it only moves it.
        version = uow.program
        if purchase.rules_version != version.rules_version:
            priced_by = await program_queries.rules_of_version(
                conn, program.id, purchase.rules_version
            )
            assert priced_by is not None, "every version's rules are kept"
            version = priced_by
        await purchase_queries.refund(conn, program.id, refund_id, purchase.id, refund)
        rewards = await purchase_queries.purchase_rewards(conn, [purchase.id])
        new_amounts = refunded_amounts(
            version,
            [
                FrozenReward(
                    r.kind,
                    r.level,
                    r.rate,
                    r.tier,
                    r.first_amount,
                    r.amount,
                    r.status == RewardStatus.REVERSED,
                )
                for r in rewards
            ],
            left - refund,
        )
        await purchase_queries.update_reward_amounts(
            conn,
            [(r.id, a) for r, a in zip(rewards, new_amounts, strict=True) if a != r.amount],
            LedgerEntryKind.REFUND,
            f"refund of {refund}",
        )
        changes = changed([(r, purchase.occurred_at) for r in rewards], new_amounts)
        await uow.append(PurchaseRefunded(purchase.customer_id, refund, tuple(changes)))
        refreshed = await purchase_queries.get_purchases(conn, [purchase.id])
        current = await purchase_queries.purchase_rewards(conn, [purchase.id])
        await runtime.outbox.write(
            conn,
            program.id,
            webhook_events.refund_events(refreshed[0], refund, rewards, current),
        )
    return PurchaseResult(refreshed[0], current)


async def settle_rewards(
    runtime: Runtime, principal: Principal, program_id: int | None, as_of: datetime | None
) -> tuple[int, Decimal]:
    """Approve every PENDING reward available by as_of (default now) that is not held."""
    program = await _program(runtime, principal, program_id)
    now = datetime.now(UTC)
    if as_of is not None and as_of > now:
        # The hold is the refund window: settling ahead of time would pay what may be refunded.
        raise DomainError("INVALID_INPUT", "asOf must not be later than now", "as_of")
    async with runtime.pool.acquire() as conn, conn.transaction():
        count, amount, approved = await purchase_queries.settle(conn, program.id, as_of or now)
        await webhook_events.rewards_changed(
            runtime.outbox, conn, program.id, webhook_events.REWARD_APPROVED, approved
        )
    return count, amount
