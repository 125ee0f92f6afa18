"""What the reward rules read and write: the purchase being priced, a refund being applied,
the rewards a purchase is about to create and the recorded rewards a refund recomputes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rujuk.graph.referral_graph import ReferralGraph
from rujuk.records import Program


@dataclass(frozen=True, slots=True)
class Sale:
    """A purchase being priced, against the graph as it stands before the purchase counts."""

    graph: ReferralGraph
    program: Program
    customer_id: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Refund:
    """A purchase's new net amount after a refund, and the rules it was priced under."""

    program: Program
    net: Decimal


@dataclass(frozen=True, slots=True)
class RewardDraft:
    """A reward a purchase is about to create."""

    beneficiary_id: int
    kind: str
    level: int
    rate: Decimal | None
    tier: str | None
    amount: Decimal
    # Referees whose links lie between the purchaser and the beneficiary.
    path: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FrozenReward:
    """A recorded reward as a refund recomputes it: its frozen level and rate."""

    kind: str
    level: int
    rate: Decimal | None
    first_amount: Decimal
    reversed: bool
