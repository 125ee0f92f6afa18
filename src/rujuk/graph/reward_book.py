"""What the reward rules read of a program's ledger, kept in memory beside its graph.

Three figures of rewards.md v2 would otherwise cost a database read per purchase:

- each customer's count of **eligible purchases** (the welcome reward goes with the first,
  `commissionPurchaseLimit` counts them; a refund never takes one back);
- the **milestones held**: for each customer, the thresholds of its MILESTONE_BONUS rewards
  that are not REVERSED (one is earned again only once its bonus is reversed);
- the **monthly usage** for `monthlyCapPerReferrer`: per (beneficiary, calendar month in the
  program's time zone), the current amounts of its REFERRER_COMMISSION rewards whose
  purchase's time falls in that month (a REVERSED reward's amount is 0, so it counts 0).

The first two are loaded with the graph at start-up (db/graph_load.py). The monthly usage is
kept only for a program whose rules have a monthly cap, in the time zone of those rules, and
only for the months its purchases fall in: a month is read from the ledger, under the
program's lock, by the first purchase of that month that needs it (and again after the time
zone changes). A program without a cap pays nothing for it, and one with a cap reads one
month (the current one, as a rule) however long its ledger has grown.

Every graph event that changes a reward's amount carries the change (graph/events.py), and
applying the event applies it here: new rewards (purchase_recorded, and the milestone
bonuses of an approval), refunds (purchase_refunded), reversals by a rejection
(referral_reviewed) or an erasure (customer_erased). The book therefore always equals the
ledger at the graph's version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from rujuk.vocabulary import RewardKind

ZERO = Decimal(0)
REFERRER_COMMISSION = RewardKind.REFERRER_COMMISSION.value
MILESTONE_BONUS = RewardKind.MILESTONE_BONUS.value


@dataclass(frozen=True, slots=True)
class RewardChange:
    """A reward created (amount from 0 to `amount`) or changed (by `delta` to `amount`)."""

    beneficiary_id: int
    kind: str
    # The time of the reward's purchase (t): its month is the one the monthly cap counts in.
    occurred_at: datetime
    delta: Decimal
    # The reward's amount after the change: 0 means it is REVERSED now.
    amount: Decimal
    # The threshold of a MILESTONE_BONUS; None for other kinds.
    milestone: int | None = None


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def month_of(moment: datetime, zone: str) -> int:
    """The calendar month of a moment in a time zone, as year * 12 + month - 1."""
    local = moment.astimezone(_zone(zone))
    return local.year * 12 + local.month - 1


@dataclass(slots=True)
class RewardBook:
    """The ledger's figures the rules read, for one program (see the module's text)."""

    eligible: dict[int, int] = field(default_factory=dict)
    held: dict[int, set[int]] = field(default_factory=dict)
    # month -> beneficiary -> used, for the months read from the ledger in `zone` (a month
    # kept with no usage yet is an empty dict). Ints and Decimals only: such dicts are never
    # tracked by the garbage collector, whereas one keyed by (beneficiary, month) tuples was
    # tracked again by every change, and each young collection walked it whole (139,277
    # entries at 1M customers: young collections took 0.36-0.46 ms, 0.18-0.29 ms since).
    monthly: dict[int, dict[int, Decimal]] = field(default_factory=dict)
    zone: str | None = None

    # What the rules read -----------------------------------------------------------------

    def eligible_purchases(self, customer_id: int) -> int:
        """How many eligible purchases the customer has recorded (refunded ones included)."""
        return self.eligible.get(customer_id, 0)

    def holds(self, customer_id: int, threshold: int) -> bool:
        """Whether the customer holds a bonus of this milestone that is not REVERSED."""
        held = self.held.get(customer_id)
        return held is not None and threshold in held

    def keeps_month(self, zone: str, month: int) -> bool:
        """Whether the month's usage is here, counted in months of this time zone."""
        return self.zone == zone and month in self.monthly

    def used(self, beneficiary_id: int, month: int) -> Decimal:
        """The beneficiary's commissions of purchases in that month, as they stand."""
        kept = self.monthly.get(month)
        assert kept is not None, "the month's usage is read before it is used"
        return kept.get(beneficiary_id, ZERO)

    # What changes it ---------------------------------------------------------------------

    def keep_month(self, zone: str, month: int, usage: Iterable[tuple[int, Decimal]]) -> None:
        """Start keeping one month's usage in this time zone, from the ledger's (beneficiary,
        used) of that month as it stands at the graph's version (months kept in another
        zone are forgotten)."""
        if self.zone != zone:
            self.forget_months()
            self.zone = zone
        self.monthly[month] = {beneficiary_id: used for beneficiary_id, used in usage if used}

    def follow_zone(self, zone: str) -> None:
        """The program's rules now count months in this time zone: months kept in another
        are forgotten (read again by the next capped purchase of each)."""
        if self.zone is not None and self.zone != zone:
            self.forget_months()

    def forget_months(self) -> None:
        """Stop keeping any month's usage."""
        self.monthly.clear()
        self.zone = None

    def purchase(self, customer_id: int, eligible: bool, sign: int = 1) -> None:
        """A purchase of the customer was recorded (sign -1: taken back, as a batch prices
        its purchases one after another and then puts the book back)."""
        if eligible:
            self.eligible[customer_id] = self.eligible.get(customer_id, 0) + sign

    def change(self, changes: Sequence[RewardChange], sign: int = 1) -> None:
        """Rewards were created or changed (sign -1: undo those changes)."""
        for c in changes:
            if c.kind == REFERRER_COMMISSION:
                zone = self.zone
                if zone is None:
                    continue
                month = month_of(c.occurred_at, zone)
                # A month not read yet is read whole from the ledger, this change included.
                kept = self.monthly.get(month)
                if kept is not None:
                    used = kept.get(c.beneficiary_id, ZERO) + sign * c.delta
                    if used:
                        kept[c.beneficiary_id] = used
                    else:
                        kept.pop(c.beneficiary_id, None)
            elif c.kind == MILESTONE_BONUS and c.milestone is not None:
                # Earned: it is held; reversed: it is not. Undone: the other way round.
                holds = (c.amount > 0) if sign > 0 else (c.amount == 0)
                if holds:
                    self.held.setdefault(c.beneficiary_id, set()).add(c.milestone)
                else:
                    held = self.held.get(c.beneficiary_id)
                    if held is not None:
                        held.discard(c.milestone)
                        if not held:
                            del self.held[c.beneficiary_id]
