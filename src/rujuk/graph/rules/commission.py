"""REFERRER_COMMISSION: what each ancestor up the effective tree earns on a purchase, at its
tier's rate and flat amount for its level, capped per purchase from the deepest level up and
per beneficiary per month (rewards.md, "Recording a purchase" steps 3 to 6, and "Refunds")."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rujuk.graph.referral_graph import epoch_micros
from rujuk.graph.rules.cap import cap_from_deepest, monthly_capped
from rujuk.graph.rules.drafts import FrozenReward, Refund, RewardDraft, Sale
from rujuk.graph.rules.walk import ladder
from rujuk.money import round_down
from rujuk.records import Program
from rujuk.vocabulary import RewardKind

REFERRER_COMMISSION = RewardKind.REFERRER_COMMISSION.value
ZERO = Decimal(0)
# commissionWindowDays counts periods of 24 hours.
DAY_MICROS = 86_400_000_000


def _at(values: tuple[Decimal, ...], level: int) -> Decimal:
    """A tier's figure at a level (a missing entry counts 0)."""
    return values[level - 1] if level <= len(values) else ZERO


def in_window(sale: Sale) -> bool:
    """Whether the purchase is one the program pays commissions on: inside the buyer's
    commission window and under its purchase limit (earlier eligible purchases, refunded
    ones included)."""
    program = sale.program
    days = program.commission_window_days
    if days is not None:
        joined = sale.graph.members[sale.customer_id].joined_micros
        if epoch_micros(sale.occurred_at) >= joined + days * DAY_MICROS:
            return False
    limit = program.commission_purchase_limit
    return limit is None or sale.book.eligible_purchases(sale.customer_id) < limit


class ReferrerCommission:
    """The rule of the referrer commission."""

    kind = REFERRER_COMMISSION

    def earned(self, sale: Sale) -> list[RewardDraft]:
        """Each rung's raw reward round_down(A * rate) + amount, capped per purchase deepest
        first, then per beneficiary per month; a level whose reward is 0 records nothing."""
        if not sale.eligible or not in_window(sale):
            return []
        amount, program = sale.amount, sale.program
        currency = program.currency
        raws: list[RewardDraft] = []
        for rung in ladder(sale.graph, program, sale.customer_id):
            tier, level = rung.tier, rung.level
            if level <= tier.levels:
                rate = _at(tier.level_rates, level)
                raws.append(
                    RewardDraft(
                        beneficiary_id=rung.ancestor.id,
                        kind=REFERRER_COMMISSION,
                        level=level,
                        rate=rate,
                        tier=tier.name,
                        amount=round_down(amount * rate, currency) + _at(tier.level_amounts, level),
                        path=rung.path,
                    )
                )
        cap = round_down(amount * program.max_payout_rate, currency)
        capped = [
            RewardDraft(r.beneficiary_id, r.kind, r.level, r.rate, r.tier, paid, r.path)
            for r, paid in zip(raws, cap_from_deepest([r.amount for r in raws], cap), strict=True)
        ]
        return [c for c in monthly_capped(sale, capped) if c.amount > 0]

    def refunded(self, refund: Refund, rewards: Sequence[FrozenReward]) -> list[Decimal]:
        """The purchase's commissions on the net amount N with their frozen level, rate and
        tier (the flat amount of the version's tier while N > 0, none at 0), capped on N
        deepest first over all of them, whatever their status (in the order given)."""
        program, net = refund.program, refund.net
        currency = program.currency
        by_level = sorted(range(len(rewards)), key=lambda i: rewards[i].level)
        raws = [
            round_down(net * (rewards[i].rate or ZERO), currency)
            + (_flat(program, rewards[i]) if net > 0 else ZERO)
            for i in by_level
        ]
        cap = round_down(net * program.max_payout_rate, currency)
        amounts = [ZERO] * len(rewards)
        for i, paid in zip(by_level, cap_from_deepest(raws, cap), strict=True):
            amounts[i] = paid
        return amounts


def _flat(program: Program, reward: FrozenReward) -> Decimal:
    """The flat amount of the reward's frozen tier at its level, in the version's rules."""
    for tier in program.tiers:
        if tier.name == reward.tier:
            return _at(tier.level_amounts, reward.level)
    return ZERO


COMMISSION = ReferrerCommission()
