"""The per-purchase cap: a purchase's commissions never exceed a share of its amount.

rewards.md, "Recording a purchase" step 4, and "Refunds".
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

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
