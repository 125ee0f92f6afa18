"""MILESTONE_BONUS: a one-off bonus when a customer's qualified referrals rise to a
milestone's threshold, outside both caps (rewards.md, "Milestones" and "Refunds").

qualifiedReferrals(x) rises when a direct referee r of x becomes qualified: on r's purchase
(r's link ACTIVE, r's spend 0 before it) or on the approval of r's link (r's spend above 0).
A rise to q earns, when the program is active, x is not erased and the rise has an eligible
purchase of r to belong to, every milestone with threshold <= q that x does not hold: so a
milestone passed by a rise that earned nothing, or added later, is caught up at x's next
rise that earns, and one whose bonus was reversed is earned again.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rujuk.graph.referral_graph import ACTIVE, REJECTED, Member, ReferralGraph
from rujuk.graph.reward_book import MILESTONE_BONUS, RewardBook
from rujuk.graph.rules.drafts import FrozenReward, Refund, RewardDraft, Sale
from rujuk.records import Program

ZERO = Decimal(0)


def bonuses(
    graph: ReferralGraph, book: RewardBook, program: Program, referee: Member
) -> list[RewardDraft]:
    """The bonuses of a rise that earns, made by `referee` becoming qualified: one for every
    milestone up to its referrer's new qualified referrals that the referrer does not hold."""
    if not program.milestones or referee.referrer is None or not program.active:
        return []
    referrer = graph.members[referee.referrer]
    if referrer.erased:
        return []
    risen = referrer.qualified_referrals + 1
    return [
        RewardDraft(
            beneficiary_id=referrer.id,
            kind=MILESTONE_BONUS,
            level=0,
            rate=None,
            tier=None,
            amount=m.reward,
            path=(referee.id,),
            milestone=m.qualified_referrals,
        )
        for m in program.milestones
        if m.qualified_referrals <= risen and not book.holds(referrer.id, m.qualified_referrals)
    ]


def on_approval(
    graph: ReferralGraph, book: RewardBook, program: Program, referee_id: int
) -> list[RewardDraft]:
    """The bonuses an approval of the referee's link would earn, read before it applies:
    none unless the link becomes ACTIVE from FLAGGED with the referee's spend above 0. The
    caller checks the last condition, that the referee has an eligible purchase whose net
    amount is above 0 (the bonuses belong to the earliest recorded)."""
    referee = graph.members[referee_id]
    if referee.link_status in (ACTIVE, REJECTED, None) or referee.spend <= 0:
        return []
    return bonuses(graph, book, program, referee)


class MilestoneBonus:
    """The rule of the milestone bonus."""

    kind = MILESTONE_BONUS

    def earned(self, sale: Sale) -> list[RewardDraft]:
        """The bonuses of the rise this purchase makes, when it is eligible: its buyer's link
        ACTIVE and nothing spent before it."""
        if not sale.eligible or not sale.program.milestones:
            return []
        buyer = sale.graph.members[sale.customer_id]
        if buyer.link_status != ACTIVE or buyer.spend > 0:
            return []
        return bonuses(sale.graph, sale.book, sale.program, buyer)

    def refunded(self, refund: Refund, rewards: Sequence[FrozenReward]) -> list[Decimal]:
        """Its first amount while N > 0, 0 at N = 0."""
        return [r.first_amount if refund.net > 0 else ZERO for r in rewards]


MILESTONE = MilestoneBonus()
