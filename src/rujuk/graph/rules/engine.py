"""The reward rules together: what a purchase creates, what a refund leaves.

Each kind of reward is one rule (its own module) that answers both questions for its own
rewards. A reward of a kind no rule knows is an error: a refund never guesses its amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from rujuk.graph.referral_graph import ReferralGraph
from rujuk.graph.rules.commission import COMMISSION
from rujuk.graph.rules.drafts import FrozenReward, Refund, RewardDraft, Sale
from rujuk.graph.rules.welcome import WELCOME
from rujuk.records import Program

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
        """The new amount of each of the purchase's rewards of this kind, in the given order,
        before the engine keeps a reversed reward at 0."""
        ...


class UnknownRewardKind(ValueError):
    """A recorded reward of a kind that no rule answers for."""


# In the order their rewards are created.
RULES: tuple[RewardRule, ...] = (COMMISSION, WELCOME)
BY_KIND: dict[str, RewardRule] = {rule.kind: rule for rule in RULES}


def purchase_rewards(
    graph: ReferralGraph, program: Program, customer_id: int, amount: Decimal
) -> list[RewardDraft]:
    """The rewards of a purchase, from the graph as it stands before the purchase counts."""
    sale = Sale(graph, program, customer_id, amount)
    return [draft for rule in RULES for draft in rule.earned(sale)]


def refunded_amounts(
    program: Program, rewards: Sequence[FrozenReward], net: Decimal
) -> list[Decimal]:
    """Each of a purchase's rewards' amount on its new net amount, in the order given: each
    rule recomputes its own kind; a reward already REVERSED stays at 0."""
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
            amounts[i] = ZERO if rewards[i].reversed else amount
    return amounts
