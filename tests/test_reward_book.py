"""The RewardBook's own bookkeeping (what it holds is checked against the ledger in
test_program_rewards.py and against the model in test_rules_model.py)."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from decimal import Decimal

from rujuk.graph.reward_book import REFERRER_COMMISSION, RewardBook, RewardChange, month_of

ZONE = "Asia/Jakarta"
AT = datetime(2026, 12, 3, 10, tzinfo=UTC)


def commission(beneficiary_id: int, delta: str) -> RewardChange:
    return RewardChange(beneficiary_id, REFERRER_COMMISSION, AT, Decimal(delta), Decimal(delta))


def test_a_months_usage_is_out_of_the_collectors_sight() -> None:
    # Changed by every capped purchase and as large as a month's beneficiaries (139,277 at
    # 1M customers): were the collector to track it, each young collection would walk it.
    book = RewardBook()
    month = month_of(AT, ZONE)
    book.keep_month(ZONE, month, [(1, Decimal(5)), (2, Decimal(7)), (3, Decimal(0))])
    book.change([commission(4, "9"), commission(1, "1")])
    book.change([commission(2, "-7")])
    assert book.used(1, month) == 6
    assert book.used(2, month) == 0
    assert book.used(4, month) == 9
    walked = [len(book.monthly)] if gc.is_tracked(book.monthly) else []
    walked += [len(used) for used in book.monthly.values() if gc.is_tracked(used)]
    # At most the months themselves: one entry each, whatever the beneficiaries.
    assert sum(walked) <= 1
