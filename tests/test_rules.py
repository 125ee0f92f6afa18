"""The reward rules alone: hand-computed figures, no database, no HTTP (rewards.md,
"Recording a purchase" and "Refunds")."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from rujuk.graph.referral_graph import Member, ReferralGraph
from rujuk.graph.rules import (
    REFEREE_WELCOME,
    REFERRER_COMMISSION,
    FrozenReward,
    UnknownRewardKind,
    cap_from_deepest,
    purchase_rewards,
    refunded_amounts,
)
from rujuk.graph.rules.walk import ladder
from rujuk.records import Program, TierRule

D = Decimal
C, W = REFERRER_COMMISSION, REFEREE_WELCOME


def program(**changes: object) -> Program:
    fields: dict[str, object] = {
        "id": 1,
        "name": "Unit",
        "currency": "IDR",
        "tiers": (TierRule("Bronze", 0, D(0), (D("0.10"), D("0.05"), D("0.02"))),),
        "max_payout_rate": D("0.30"),
        "referee_reward": D(5000),
        "hold_days": 14,
        "compression": True,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    fields.update(changes)
    return Program(**fields)  # type: ignore[arg-type]


def chain(length: int, *, status: str = "ACTIVE") -> ReferralGraph:
    """Customers 1 <- 2 <- ... <- length (1 the root)."""
    graph = ReferralGraph(1)
    for i in range(1, length + 1):
        referrer = i - 1 if i > 1 else None
        graph.add_member(
            Member(i, f"c{i}", i, referrer=referrer, link_status=status if referrer else None)
        )
    return graph


def paid(graph: ReferralGraph, rules: Program, buyer: int, amount: str) -> list[tuple[object, ...]]:
    return [
        (d.beneficiary_id, d.kind, d.level, d.amount)
        for d in purchase_rewards(graph, rules, buyer, D(amount))
    ]


def test_cap_cuts_from_the_deepest_level() -> None:
    assert cap_from_deepest([D(10), D(5), D(2)], D(20)) == [D(10), D(5), D(2)]
    assert cap_from_deepest([D(10), D(5), D(2)], D(12)) == [D(10), D(2), D(0)]
    assert cap_from_deepest([D(10), D(5), D(2)], D(0)) == [D(0), D(0), D(0)]


def test_commissions_level_by_level_and_the_welcome() -> None:
    graph = chain(5)
    # 100,001 IDR: 10% = 10000.1 rounds down to 10000, 5% to 5000, 2% to 2000.
    assert paid(graph, program(), 5, "100001") == [
        (4, C, 1, D(10000)),
        (3, C, 2, D(5000)),
        (2, C, 3, D(2000)),
        (5, W, 0, D(5000)),
    ]


def test_cap_reached_mid_purchase() -> None:
    graph = chain(4)
    # cap = 12% of 1000 = 120: levels 100, 50, 20 become 100, 20, 0.
    assert paid(graph, program(max_payout_rate=D("0.12")), 4, "1000") == [
        (3, C, 1, D(100)),
        (2, C, 2, D(20)),
        (4, W, 0, D(1000)),
    ]


def test_welcome_only_on_the_first_purchase_of_a_referred_live_customer() -> None:
    graph = chain(2)
    assert paid(graph, program(), 1, "1000") == []  # a root: no referrer, no welcome
    assert paid(graph, program(), 2, "300") == [(1, C, 1, D(30)), (2, W, 0, D(300))]
    graph.record_spend(2, D(300), purchases=1)
    assert paid(graph, program(), 2, "300") == [(1, C, 1, D(30))]
    graph.erase(2)
    graph.record_spend(2, D(-300), purchases=-1)
    assert paid(graph, program(), 2, "300") == [(1, C, 1, D(30))]


def test_an_erased_ancestor_keeps_or_loses_its_level() -> None:
    graph = chain(4)
    graph.erase(3)
    assert [(r.ancestor.id, r.level, r.path) for r in ladder(graph, program(), 4)] == [
        (2, 1, (4, 3)),
        (1, 2, (4, 3, 2)),
    ]
    off = program(compression=False)
    assert [(r.ancestor.id, r.level) for r in ladder(graph, off, 4)] == [(2, 2), (1, 3)]


def test_a_rejected_link_ends_the_walk() -> None:
    graph = chain(4)
    graph.set_link_status(3, "REJECTED")
    assert [r.ancestor.id for r in ladder(graph, program(), 4)] == [3]


def test_the_walk_stops_past_the_longest_tier() -> None:
    graph = chain(6)
    rules = program(tiers=(TierRule("Only", 0, D(0), (D("0.1"),)),))
    assert [r.ancestor.id for r in ladder(graph, rules, 6)] == [5]


def test_a_zero_rate_records_nothing() -> None:
    graph = chain(3)
    rules = program(tiers=(TierRule("T", 0, D(0), (D(0), D("0.05"))),), referee_reward=D(0))
    assert paid(graph, rules, 3, "1000") == [(1, C, 2, D(50))]


def test_refund_recomputes_each_kind_on_the_net_amount() -> None:
    rewards = [
        FrozenReward(W, 0, None, D(5000), False),
        FrozenReward(C, 2, D("0.05"), D(5000), False),
        FrozenReward(C, 1, D("0.10"), D(10000), False),
    ]
    # Net 30,001: 10% = 3000, 5% = 1500, cap 30% = 9000 (no cut); welcome min(5000, 30001).
    assert refunded_amounts(program(), rewards, D(30001)) == [D(5000), D(1500), D(3000)]
    # Net 3,001 with a 12% cap (360): 300 and min(150, 60) = 60; welcome 3001.
    capped = program(max_payout_rate=D("0.12"))
    assert refunded_amounts(capped, rewards, D(3001)) == [D(3001), D(60), D(300)]
    assert refunded_amounts(program(), rewards, D(0)) == [D(0), D(0), D(0)]


def test_a_reversed_reward_stays_at_zero_but_still_takes_its_share_of_the_cap() -> None:
    rewards = [
        FrozenReward(C, 1, D("0.10"), D(100), True),
        FrozenReward(C, 2, D("0.10"), D(100), False),
    ]
    # Cap 15% of 1000 = 150: level 1 takes 100 of it even though it stays reversed.
    assert refunded_amounts(program(max_payout_rate=D("0.15")), rewards, D(1000)) == [
        D(0),
        D(50),
    ]


def test_a_reward_of_a_kind_no_rule_knows_is_an_error_not_a_zero() -> None:
    rewards = [
        FrozenReward(C, 1, D("0.10"), D(100), False),
        FrozenReward("LOYALTY_POINTS", 0, None, D(100), False),
    ]
    with pytest.raises(UnknownRewardKind, match="LOYALTY_POINTS"):
        refunded_amounts(program(), rewards, D(500))
