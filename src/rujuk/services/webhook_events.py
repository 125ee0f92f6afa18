"""The webhook events: their one vocabulary, their payloads, and the outbox that writes them
inside the transaction of the change they report.

Payloads carry the GraphQL API's global IDs and nothing a program's PARTNER could not read:
no name, e-mail, phone or device.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from rujuk import ids
from rujuk.db import purchases as purchase_queries
from rujuk.db import webhooks as webhook_queries
from rujuk.db.pool import Connection, Pool
from rujuk.records import Purchase, Referral, Reward
from rujuk.vocabulary import RewardStatus

REFERRAL_CREATED = "referral.created"
REFERRAL_REVIEWED = "referral.reviewed"
PURCHASE_RECORDED = "purchase.recorded"
PURCHASE_REFUNDED = "purchase.refunded"
REWARD_EARNED = "reward.earned"
REWARD_APPROVED = "reward.approved"
REWARD_REVERSED = "reward.reversed"
CUSTOMER_ERASED = "customer.erased"
EVENT_TYPES = (
    REFERRAL_CREATED,
    REFERRAL_REVIEWED,
    PURCHASE_RECORDED,
    PURCHASE_REFUNDED,
    REWARD_EARNED,
    REWARD_APPROVED,
    REWARD_REVERSED,
    CUSTOMER_ERASED,
)
# Sent by sendTestWebhookEvent to one endpoint, whatever it subscribes to.
TEST = "webhook.test"

# A delivery is retried for this long after its event (or its redelivery).
RETRY_FOR = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class Event:
    """An event about to be written: its type and its `data`."""

    type: str
    data: dict[str, Any]


def body(event_type: str, data: dict[str, Any], at: datetime) -> str:
    """The JSON sent to endpoints, as the Standard Webhooks specification shapes it."""
    return json.dumps(
        {"type": event_type, "timestamp": _time(at), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _gid(type_name: str, local: int) -> str:
    return ids.to_global_id(type_name, local)


def referral_event(event_type: str, referral: Referral) -> Event:
    """referral.created or referral.reviewed."""
    return Event(
        event_type,
        {
            "id": _gid("Referral", referral.id),
            "programId": _gid("Program", referral.program_id),
            "refereeId": _gid("Customer", referral.referee_id),
            "referrerId": _gid("Customer", referral.referrer_id),
            "code": referral.code,
            "channel": referral.channel,
            "status": referral.status,
            "fraudSignals": list(referral.fraud_signals),
        },
    )


def purchase_event(event_type: str, purchase: Purchase, refunded: Decimal | None = None) -> Event:
    """purchase.recorded, or purchase.refunded with the amount just refunded."""
    data: dict[str, Any] = {
        "id": _gid("Purchase", purchase.id),
        "programId": _gid("Program", purchase.program_id),
        "customerId": _gid("Customer", purchase.customer_id),
        "orderId": purchase.order_id,
        "amount": str(purchase.amount),
        "refundedAmount": str(purchase.refunded_amount),
        "occurredAt": _time(purchase.occurred_at),
    }
    if refunded is not None:
        data["refund"] = str(refunded)
    return Event(event_type, data)


def reward_event(event_type: str, reward: Reward) -> Event:
    """reward.earned, reward.approved or reward.reversed: the reward as it now stands."""
    return Event(
        event_type,
        {
            "id": _gid("Reward", reward.id),
            "programId": _gid("Program", reward.program_id),
            "purchaseId": _gid("Purchase", reward.purchase_id),
            "beneficiaryId": _gid("Customer", reward.beneficiary_id),
            "kind": reward.kind,
            "level": reward.level,
            "amount": str(reward.amount),
            "status": reward.status,
            "availableAt": _time(reward.available_at),
        },
    )


def customer_erased(program_id: int, customer_id: int) -> Event:
    """customer.erased: only the ID, so that the partner erases its own copy."""
    return Event(
        CUSTOMER_ERASED,
        {"id": _gid("Customer", customer_id), "programId": _gid("Program", program_id)},
    )


def test_event(endpoint_id: int) -> Event:
    """What sendTestWebhookEvent sends."""
    return Event(TEST, {"endpointId": _gid("WebhookEndpoint", endpoint_id)})


def purchase_events(stored: Iterable[tuple[Purchase, list[Reward]]]) -> Iterator[Event]:
    """purchase.recorded and a reward.earned per reward of each recorded purchase, made
    as they are read: Outbox.write reads none for a program without endpoints (making them
    all was 3 % of a purchase's CPU)."""
    for purchase, rewards in stored:
        yield purchase_event(PURCHASE_RECORDED, purchase)
        for reward in rewards:
            yield reward_event(REWARD_EARNED, reward)


class Outbox:
    """Writes events in the caller's transaction, only when some enabled endpoint of the
    program subscribes to them: a program without endpoints costs nothing more per write.

    Which types each program's endpoints subscribe to is cached per worker; every change to
    an endpoint notifies every worker (db.webhooks.WEBHOOK_CHANNEL), which drops the
    program's entry (see WebhookDispatcher's listener).
    """

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._subscribed: dict[int, frozenset[str]] = {}

    async def subscribed(self, program_id: int, conn: Connection | None = None) -> frozenset[str]:
        """The event types the program's enabled endpoints subscribe to (cached)."""
        found = self._subscribed.get(program_id)
        if found is None:
            found = await webhook_queries.subscribed_types(conn or self._pool, program_id)
            self._subscribed[program_id] = found
        return found

    def forget(self, program_id: int | None = None) -> None:
        """Drop one program's cached subscriptions, or every program's (None)."""
        if program_id is None:
            self._subscribed.clear()
        else:
            self._subscribed.pop(program_id, None)

    async def write(
        self,
        conn: Connection,
        program_id: int,
        events: Iterable[Event],
        subscribed: frozenset[str] | None = None,
    ) -> None:
        """Add the subscribed ones of these events to the outbox, in conn's transaction."""
        if subscribed is None:
            subscribed = await self.subscribed(program_id, conn)
        if not subscribed:
            return
        now = datetime.now(UTC)
        wanted = [e for e in events if e.type in subscribed]
        if wanted:
            await webhook_queries.insert_events(
                conn,
                program_id,
                [e.type for e in wanted],
                [body(e.type, e.data, now) for e in wanted],
                RETRY_FOR,
            )


async def rewards_changed(
    outbox: Outbox, conn: Connection, program_id: int, event_type: str, reward_ids: Sequence[int]
) -> None:
    """reward.approved or reward.reversed for each of these rewards, read as they now stand
    (only when an endpoint subscribes to the type)."""
    if not reward_ids or event_type not in await outbox.subscribed(program_id, conn):
        return
    rewards = await purchase_queries.get_rewards(conn, list(reward_ids))
    await outbox.write(
        conn, program_id, [reward_event(event_type, r) for r in sorted(rewards, key=_id)]
    )


def _id(reward: Reward) -> int:
    return reward.id


def refund_events(
    purchase: Purchase, refunded: Decimal, before: Sequence[Reward], after: Sequence[Reward]
) -> list[Event]:
    """purchase.refunded, and reward.reversed for each reward the refund took to zero."""
    was_reversed = {r.id for r in before if r.status == RewardStatus.REVERSED}
    return [purchase_event(PURCHASE_REFUNDED, purchase, refunded)] + [
        reward_event(REWARD_REVERSED, r)
        for r in after
        if r.status == RewardStatus.REVERSED and r.id not in was_reversed
    ]
