"""REFEREE_WELCOME: what a referred customer gets on its first purchase, outside the cap
(rewards.md, "Recording a purchase" step 7, and "Refunds")."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rujuk.graph.rules.drafts import FrozenReward, Refund, RewardDraft, Sale

REFEREE_WELCOME = "REFEREE_WELCOME"


class RefereeWelcome:
    """The rule of the referee's welcome reward."""

    kind = REFEREE_WELCOME

    def earned(self, sale: Sale) -> list[RewardDraft]:
        """min(refereeReward, A) on the first purchase of a customer with an effective
        referrer that is not erased, when above 0."""
        purchaser = sale.graph.members[sale.customer_id]
        welcome = min(sale.program.referee_reward, sale.amount)
        if (
            purchaser.has_effective_referrer
            and purchaser.purchases == 0
            and not purchaser.erased
            and welcome > 0
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
