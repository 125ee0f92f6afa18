"""The changes to a referral graph, as logged in graph_event and applied by every worker.

Each kind of event is a frozen dataclass; `to_json` and `from_json` are the one way an
event becomes the payload stored in graph_event and back. The one-statement purchase
insert (db/purchases.py) builds the purchase_recorded payload in SQL from `book_json`'s part;
a test holds that payload equal to `to_json` of the same event.

Every event that changes a reward's amount carries the change (`rewards`, RewardChange
records): applying it keeps each worker's RewardBook (graph/reward_book.py) equal to the
ledger. An event logged before they carried it reads as changing no reward, and a purchase
logged before it carried its eligibility reads as eligible (version 1 had no rule that
made one ineligible).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from rujuk.graph.reward_book import RewardChange
from rujuk.records import Program, program_of_rules, rules_to_json
from rujuk.vocabulary import GraphEventKind


@dataclass(frozen=True, slots=True)
class CustomerRegistered:
    """A customer joined the program, under a referrer (and its link's status) or alone."""

    kind: ClassVar[GraphEventKind] = GraphEventKind.CUSTOMER_REGISTERED
    id: int
    external_id: str
    joined_at: datetime
    referrer_id: int | None
    status: str | None


@dataclass(frozen=True, slots=True)
class PurchaseRecorded:
    """A customer bought for `delta`: eligible or not, with the rewards it created."""

    kind: ClassVar[GraphEventKind] = GraphEventKind.PURCHASE_RECORDED
    customer_id: int
    purchase_id: int
    delta: Decimal
    eligible: bool = True
    rewards: tuple[RewardChange, ...] = ()


@dataclass(frozen=True, slots=True)
class PurchaseRefunded:
    """`delta` of a customer's purchase was refunded; `rewards`: what it took from them."""

    kind: ClassVar[GraphEventKind] = GraphEventKind.PURCHASE_REFUNDED
    customer_id: int
    delta: Decimal
    rewards: tuple[RewardChange, ...] = ()


@dataclass(frozen=True, slots=True)
class ReferralReviewed:
    """A referee's link was approved (ACTIVE) or rejected (REJECTED); `rewards`: the
    milestone bonuses an approval created, or the rewards a rejection reversed."""

    kind: ClassVar[GraphEventKind] = GraphEventKind.REFERRAL_REVIEWED
    referee_id: int
    status: str
    rewards: tuple[RewardChange, ...] = ()


@dataclass(frozen=True, slots=True)
class CustomerErased:
    """A customer's personal data was erased; it keeps its place in the tree. `rewards`:
    the pending rewards the erasure reversed."""

    kind: ClassVar[GraphEventKind] = GraphEventKind.CUSTOMER_ERASED
    id: int
    rewards: tuple[RewardChange, ...] = ()


@dataclass(frozen=True, slots=True)
class ProgramUpdated:
    """The program's rules changed: the whole of the new version, so that every worker
    prices from the event alone, at its place in the log (docs/programs.md)."""

    kind: ClassVar[GraphEventKind] = GraphEventKind.PROGRAM_UPDATED
    program: Program


GraphEvent = (
    CustomerRegistered
    | PurchaseRecorded
    | PurchaseRefunded
    | ReferralReviewed
    | CustomerErased
    | ProgramUpdated
)


def to_json(event: GraphEvent) -> dict[str, Any]:
    """The event's payload as graph_event stores it (decimals and times as strings: exact)."""
    if isinstance(event, PurchaseRecorded):
        return {
            "customer_id": event.customer_id,
            "purchase_id": event.purchase_id,
            "delta": str(event.delta),
            **book_json(event.eligible, event.rewards),
        }
    if isinstance(event, CustomerRegistered):
        return {
            "id": event.id,
            "external_id": event.external_id,
            "joined_at": event.joined_at.isoformat(),
            "referrer_id": event.referrer_id,
            "status": event.status,
        }
    if isinstance(event, PurchaseRefunded):
        refunded = {"customer_id": event.customer_id, "delta": str(event.delta)}
        return _with_changes(refunded, event.rewards)
    if isinstance(event, ReferralReviewed):
        reviewed = {"referee_id": event.referee_id, "status": event.status}
        return _with_changes(reviewed, event.rewards)
    if isinstance(event, ProgramUpdated):
        program = event.program
        return {
            "program_id": program.id,
            "created_at": program.created_at.isoformat(),
            "rules_version": program.rules_version,
            "rules": rules_to_json(program),
        }
    return _with_changes({"id": event.id}, event.rewards)


def book_json(eligible: bool, rewards: Sequence[RewardChange]) -> dict[str, Any]:
    """The part of a purchase_recorded payload that the purchase statement is given whole
    (the rest it builds from the rows it inserts)."""
    return _with_changes({"eligible": eligible}, rewards)


def _with_changes(payload: dict[str, Any], changes: Sequence[RewardChange]) -> dict[str, Any]:
    """The payload with the reward changes, when there are any (most events have none)."""
    if changes:
        payload["rewards"] = _changes_json(changes)
    return payload


def _changes_json(changes: Sequence[RewardChange]) -> list[list[Any]]:
    return [
        [
            c.beneficiary_id,
            c.kind,
            c.occurred_at.isoformat(),
            str(c.delta),
            str(c.amount),
            c.milestone,
        ]
        for c in changes
    ]


def _changes(payload: dict[str, Any]) -> tuple[RewardChange, ...]:
    return tuple(
        RewardChange(
            beneficiary, kind, datetime.fromisoformat(at), Decimal(delta), Decimal(amount), m
        )
        for beneficiary, kind, at, delta, amount, m in payload.get("rewards", ())
    )


def from_json(kind: str, payload: dict[str, Any]) -> GraphEvent:
    """The event a graph_event row holds; ValueError for a kind this version does not know."""
    if kind == PurchaseRecorded.kind:
        return PurchaseRecorded(
            payload["customer_id"],
            payload["purchase_id"],
            Decimal(payload["delta"]),
            payload.get("eligible", True),
            _changes(payload),
        )
    if kind == CustomerRegistered.kind:
        return CustomerRegistered(
            id=payload["id"],
            external_id=payload["external_id"],
            joined_at=datetime.fromisoformat(payload["joined_at"]),
            referrer_id=payload["referrer_id"],
            status=payload["status"],
        )
    if kind == PurchaseRefunded.kind:
        return PurchaseRefunded(
            payload["customer_id"], Decimal(payload["delta"]), _changes(payload)
        )
    if kind == ReferralReviewed.kind:
        return ReferralReviewed(payload["referee_id"], payload["status"], _changes(payload))
    if kind == CustomerErased.kind:
        return CustomerErased(payload["id"], _changes(payload))
    if kind == ProgramUpdated.kind:
        return ProgramUpdated(
            program_of_rules(
                payload["program_id"],
                datetime.fromisoformat(payload["created_at"]),
                payload["rules_version"],
                payload["rules"],
            )
        )
    raise ValueError(f"unknown graph event {kind!r}")
