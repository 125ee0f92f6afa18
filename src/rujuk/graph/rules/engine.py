"""The reward rules together: what a purchase creates, what a refund leaves.

Each kind of reward is one rule (its own module) that answers both questions for its own
rewards. A reward of a kind no rule knows is an error: a refund never guesses its amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from rujuk.graph.referral_graph import ReferralGraph
from rujuk.graph.reward_book import RewardChange
from rujuk.graph.rules.commission import COMMISSION
from rujuk.graph.rules.drafts import FrozenReward, Refund, RewardDraft, Sale
from rujuk.graph.rules.milestone import MILESTONE
from rujuk.graph.rules.welcome import WELCOME
from rujuk.records import Program, Reward

ZERO = Decimal(0)


class RewardRule(Protocol):
    """One kind of reward: what a purchase earns of it, and what a refund leaves of it."""

    @property
    def kind(self) -> str:
        """The reward kind it pays (reward.kind)."""
        ...

    def earned(self, sale: Sale) -> list[RewardDraft]:
        """The rewards of this kind the purchase creates."""
        ...

    def refunded(self, refund: Refund, rewards: Sequence[FrozenReward]) -> list[Decimal]:
        """The new figure of each of the purchase's rewards of this kind, in the given order,
        before the engine limits it to the reward's current amount."""
        ...


class UnknownRewardKind(ValueError):
    """A recorded reward of a kind that no rule answers for."""


# In the order their rewards are created.
RULES: tuple[RewardRule, ...] = (COMMISSION, WELCOME, MILESTONE)
BY_KIND: dict[str, RewardRule] = {rule.kind: rule for rule in RULES}


def is_eligible(program: Program, amount: Decimal) -> bool:
    """rewards.md, "Rule versions": the program is active and amount >= minPurchaseAmount."""
    return program.active and amount >= program.min_purchase_amount


def purchase_rewards(
    graph: ReferralGraph,
    program: Program,
    customer_id: int,
    amount: Decimal,
    occurred_at: datetime,
) -> tuple[bool, list[RewardDraft]]:
    """Whether the purchase is eligible, and the rewards it creates, from the graph and its
    book as they stand before the purchase counts."""
    eligible = is_eligible(program, amount)
    if not eligible:
        return False, []
    sale = Sale(graph, graph.book, program, customer_id, amount, occurred_at, eligible)
    return True, [draft for rule in RULES for draft in rule.earned(sale)]


def created(drafts: Sequence[RewardDraft], occurred_at: datetime) -> list[RewardChange]:
    """What new rewards change in the book (those of a purchase at occurred_at)."""
    return [
        RewardChange(d.beneficiary_id, d.kind, occurred_at, d.amount, d.amount, d.milestone)
        for d in drafts
    ]


def changed(
    rewards: Sequence[tuple[Reward, datetime]], amounts: Sequence[Decimal]
) -> list[RewardChange]:
    """What setting recorded rewards (each with its purchase's time) to new amounts changes
    in the book: one change per reward whose amount moves."""
    return [
        RewardChange(r.beneficiary_id, r.kind, at, amount - r.amount, amount, r.milestone)
        for (r, at), amount in zip(rewards, amounts, strict=True)
        if amount != r.amount
    ]


def record_purchase(
    graph: ReferralGraph,
    customer_id: int,
    amount: Decimal,
    eligible: bool,
    changes: Sequence[RewardChange],
    sign: int = 1,
) -> None:
    """A purchase counts: its buyer's spend and purchases, and its rewards in the book
    (sign -1 takes back a purchase counted only to price the next one of a batch)."""
    graph.record_spend(customer_id, sign * amount, purchases=sign)
    graph.book.purchase(customer_id, eligible, sign)
    graph.book.change(changes, sign)


def refunded_amounts(
    program: Program, rewards: Sequence[FrozenReward], net: Decimal
) -> list[Decimal]:
    """Each of a purchase's rewards' amount on its new net amount, in the order given, under
    the rules of the version it was priced by: each rule recomputes its own kind, and a
    refund never raises a reward (a REVERSED one stays at 0)."""
    by_kind: dict[str, list[int]] = {}
    for i, reward in enumerate(rewards):
        if reward.kind not in BY_KIND:
            raise UnknownRewardKind(f"no reward rule answers for kind {reward.kind!r}")
        by_kind.setdefault(reward.kind, []).append(i)
    refund = Refund(program, net)
    amounts = [ZERO] * len(rewards)
    for kind, positions in by_kind.items():
        mine = [rewards[i] for i in positions]
        for i, amount in zip(positions, BY_KIND[kind].refunded(refund, mine), strict=True):
            reward = rewards[i]
            amounts[i] = ZERO if reward.reversed else min(amount, reward.amount)
    return amounts
