"""What a purchase pays, level by level up the effective tree.

rewards.md, "Recording a purchase" and "Refunds".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rujuk.graph.referral_graph import ReferralGraph
from rujuk.graph.tiers import tier_of
from rujuk.money import round_down
from rujuk.records import Program
from rujuk.vocabulary import RewardKind

REFERRER_COMMISSION = RewardKind.REFERRER_COMMISSION.value
REFEREE_WELCOME = RewardKind.REFEREE_WELCOME.value


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


def cap_from_deepest(raws: Sequence[Decimal], cap: Decimal) -> list[Decimal]:
    """Cut raw rewards (shallowest first) to sum to at most cap, taking from the deepest first."""
    if sum(raws, Decimal(0)) <= cap:
        return list(raws)
    capped: list[Decimal] = []
    paid = Decimal(0)
    for raw in raws:
        amount = max(Decimal(0), min(raw, cap - paid))
        capped.append(amount)
        paid += amount
    return capped


def purchase_rewards(
    graph: ReferralGraph, program: Program, customer_id: int, amount: Decimal
) -> list[RewardDraft]:
    """The rewards of a purchase, from the graph as it stands before the purchase counts."""
    members = graph.members
    purchaser = members[customer_id]
    max_levels = program.max_levels
    currency = program.currency
    commissions: list[RewardDraft] = []
    path = [customer_id]
    level = 1
    for ancestor, _ in graph.effective_ancestors(customer_id):
        if level > max_levels:
            break
        if ancestor.erased:
            if not program.compression:
                level += 1
        else:
            tier = tier_of(program, ancestor)
            if level <= len(tier.level_rates):
                rate = tier.level_rates[level - 1]
                commissions.append(
                    RewardDraft(
                        beneficiary_id=ancestor.id,
                        kind=REFERRER_COMMISSION,
                        level=level,
                        rate=rate,
                        tier=tier.name,
                        amount=round_down(amount * rate, currency),
                        path=tuple(path),
                    )
                )
            level += 1
        path.append(ancestor.id)
    cap = round_down(amount * program.max_payout_rate, currency)
    capped = cap_from_deepest([c.amount for c in commissions], cap)
    drafts = [
        RewardDraft(c.beneficiary_id, c.kind, c.level, c.rate, c.tier, paid, c.path)
        for c, paid in zip(commissions, capped, strict=True)
        if paid > 0
    ]
    welcome = min(program.referee_reward, amount)
    if (
        purchaser.has_effective_referrer
        and purchaser.purchases == 0
        and not purchaser.erased
        and welcome > 0
    ):
        drafts.append(
            RewardDraft(customer_id, REFEREE_WELCOME, 0, None, None, welcome, (customer_id,))
        )
    return drafts


def refunded_amounts(
    program: Program, rewards: Sequence[FrozenReward], net: Decimal
) -> list[Decimal]:
    """Each reward's amount on the purchase's new net amount, in the order given.

    Commissions are recomputed with their frozen rates and capped on the net amount, deepest
    first, over the same rewards; the welcome reward becomes min(its first amount, net).
    A reward already REVERSED stays at 0.
    """
    currency = program.currency
    commissions = sorted(
        (i for i, r in enumerate(rewards) if r.kind == REFERRER_COMMISSION),
        key=lambda i: rewards[i].level,
    )
    raws = [round_down(net * (rewards[i].rate or Decimal(0)), currency) for i in commissions]
    capped = cap_from_deepest(raws, round_down(net * program.max_payout_rate, currency))
    amounts = [Decimal(0)] * len(rewards)
    for i, paid in zip(commissions, capped, strict=True):
        amounts[i] = paid
    for i, reward in enumerate(rewards):
        if reward.kind == REFEREE_WELCOME:
            amounts[i] = min(reward.first_amount, net)
        if reward.reversed:
            amounts[i] = Decimal(0)
    return amounts
