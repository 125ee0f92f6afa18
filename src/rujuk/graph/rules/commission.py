"""REFERRER_COMMISSION: what each ancestor up the effective tree earns on a purchase, capped
per purchase from the deepest level up (rewards.md, "Recording a purchase" steps 3, 4 and 6,
and "Refunds")."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rujuk.graph.rules.cap import cap_from_deepest
from rujuk.graph.rules.drafts import FrozenReward, Refund, RewardDraft, Sale
from rujuk.graph.rules.walk import ladder
from rujuk.money import round_down

REFERRER_COMMISSION = "REFERRER_COMMISSION"


class ReferrerCommission:
    """The rule of the referrer commission."""

    kind = REFERRER_COMMISSION

    def earned(self, sale: Sale) -> list[RewardDraft]:
        """Each rung's raw reward at its tier's rate for its level, capped deepest first; a
        level whose reward is 0 records nothing."""
        amount, currency = sale.amount, sale.program.currency
        raws: list[RewardDraft] = []
        for rung in ladder(sale.graph, sale.program, sale.customer_id):
            rates = rung.tier.level_rates
            if rung.level <= len(rates):
                rate = rates[rung.level - 1]
                raws.append(
                    RewardDraft(
                        beneficiary_id=rung.ancestor.id,
                        kind=REFERRER_COMMISSION,
                        level=rung.level,
                        rate=rate,
                        tier=rung.tier.name,
                        amount=round_down(amount * rate, currency),
                        path=rung.path,
                    )
                )
        cap = round_down(amount * sale.program.max_payout_rate, currency)
        capped = cap_from_deepest([r.amount for r in raws], cap)
        return [
            RewardDraft(r.beneficiary_id, r.kind, r.level, r.rate, r.tier, paid, r.path)
            for r, paid in zip(raws, capped, strict=True)
            if paid > 0
        ]

    def refunded(self, refund: Refund, rewards: Sequence[FrozenReward]) -> list[Decimal]:
        """The purchase's commissions on the net amount with their frozen rates, capped on
        it deepest first over all of them (in the order given)."""
        currency = refund.program.currency
        by_level = sorted(range(len(rewards)), key=lambda i: rewards[i].level)
        raws = [round_down(refund.net * (rewards[i].rate or 0), currency) for i in by_level]
        cap = round_down(refund.net * refund.program.max_payout_rate, currency)
        amounts = [Decimal(0)] * len(rewards)
        for i, paid in zip(by_level, cap_from_deepest(raws, cap), strict=True):
            amounts[i] = paid
        return amounts


COMMISSION = ReferrerCommission()
