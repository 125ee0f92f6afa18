"""What the reward rules read and write: the purchase being priced, a refund being applied,
the rewards a purchase is about to create and the recorded rewards a refund recomputes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from rujuk.graph.referral_graph import ReferralGraph
from rujuk.graph.reward_book import RewardBook
from rujuk.records import Program


@dataclass(frozen=True, slots=True)
class Sale:
    """A purchase being priced, against the graph and its book as they stand before the
    purchase counts, under the rules in force."""

    graph: ReferralGraph
    book: RewardBook
    program: Program
    customer_id: int
    amount: Decimal
    # t: occurredAt when given, else the time it is recorded.
    occurred_at: datetime
    # rewards.md, "Rule versions": an active program and amount >= minPurchaseAmount.
    eligible: bool


@dataclass(frozen=True, slots=True)
class Refund:
    """A purchase's new net amount after a refund, and the rules of the version it was
    priced under."""

    program: Program
    net: Decimal


@dataclass(frozen=True, slots=True)
class RewardDraft:
    """A reward a purchase (or an approval) is about to create."""

    beneficiary_id: int
    kind: str
    level: int
    rate: Decimal | None
    tier: str | None
    amount: Decimal
    # Referees whose links lie between the purchaser and the beneficiary.
    path: tuple[int, ...]
    # The threshold a MILESTONE_BONUS is paid for; None for other kinds.
    milestone: int | None = None


@dataclass(frozen=True, slots=True)
class FrozenReward:
    """A recorded reward as a refund recomputes it: its frozen level, rate and tier, its
    first amount and the amount it has now."""

    kind: str
    level: int
    rate: Decimal | None
    tier: str | None
    first_amount: Decimal
    amount: Decimal
    reversed: bool
