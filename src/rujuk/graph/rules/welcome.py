"""REFEREE_WELCOME: what a referred customer gets on its first eligible purchase, outside
both caps (rewards.md, "Recording a purchase" step 7, and "Refunds")."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rujuk.graph.rules.drafts import FrozenReward, Refund, RewardDraft, Sale
from rujuk.vocabulary import RewardKind

REFEREE_WELCOME = RewardKind.REFEREE_WELCOME.value


class RefereeWelcome:
    """The rule of the referee's welcome reward."""

    kind = REFEREE_WELCOME

    def earned(self, sale: Sale) -> list[RewardDraft]:
        """min(refereeReward, A) on the first eligible purchase of a customer with an
        effective referrer that is not erased, when above 0."""
        if not sale.eligible:
            return []
        purchaser = sale.graph.members[sale.customer_id]
        welcome = min(sale.program.referee_reward, sale.amount)
        if (
            welcome > 0
            and purchaser.has_effective_referrer
            and not purchaser.erased
            and sale.book.eligible_purchases(sale.customer_id) == 0
        ):
            return [
                RewardDraft(
                    sale.customer_id, REFEREE_WELCOME, 0, None, None, welcome, (sale.customer_id,)
                )
            ]
        return []

    def refunded(self, refund: Refund, rewards: Sequence[FrozenReward]) -> list[Decimal]:
        """min(its first amount, N)."""
        return [min(r.first_amount, refund.net) for r in rewards]


WELCOME = RefereeWelcome()
