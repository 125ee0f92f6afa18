"""The caps on commissions: per purchase, a share of its amount; per beneficiary, an
allowance per calendar month (rewards.md, "Recording a purchase" steps 4 and 5, and
"Refunds")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from rujuk.graph.reward_book import month_of
from rujuk.graph.rules.drafts import RewardDraft, Sale

ZERO = Decimal(0)


def cap_from_deepest(raws: Sequence[Decimal], cap: Decimal) -> list[Decimal]:
    """Cut raw rewards (shallowest first) to sum to at most cap, taking from the deepest
    first: each becomes min(raw, cap - sum of the shallower ones), floored at 0."""
    if sum(raws, ZERO) <= cap:
        return list(raws)
    capped: list[Decimal] = []
    paid = ZERO
    for raw in raws:
        amount = max(ZERO, min(raw, cap - paid))
        capped.append(amount)
        paid += amount
    return capped


def monthly_capped(sale: Sale, commissions: list[RewardDraft]) -> list[RewardDraft]:
    """Each beneficiary's commission cut to what its monthly allowance has left in the
    calendar month of the purchase (in the program's time zone), floored at 0."""
    allowance = sale.program.monthly_cap_per_referrer
    if allowance is None or not commissions:
        return commissions
    book = sale.book
    month = month_of(sale.occurred_at, sale.program.time_zone)
    capped = []
    for c in commissions:
        left = max(ZERO, allowance - book.used(c.beneficiary_id, month))
        capped.append(c if c.amount <= left else replace(c, amount=left))
    return capped
