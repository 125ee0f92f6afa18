"""The reward rules alone: hand-computed figures, no database, no HTTP (rewards.md,
"Rule versions", "Recording a purchase", "Milestones" and "Refunds")."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from rujuk.graph.referral_graph import Member, ReferralGraph, epoch_micros
from rujuk.graph.reward_book import RewardBook, RewardChange, month_of
from rujuk.graph.rules import (
    MILESTONE_BONUS,
    REFEREE_WELCOME,
    REFERRER_COMMISSION,
    FrozenReward,
    UnknownRewardKind,
    cap_from_deepest,
    created,
    on_approval,
    purchase_rewards,
    record_purchase,
    refunded_amounts,
)
from rujuk.graph.rules.walk import ladder
from rujuk.records import MilestoneRule, Program, TierRule

D = Decimal
C, W, M = REFERRER_COMMISSION, REFEREE_WELCOME, MILESTONE_BONUS
T0 = datetime(2026, 3, 1, tzinfo=UTC)
BRONZE = TierRule("Bronze", 0, D(0), (D("0.10"), D("0.05"), D("0.02")))


def program(**changes: object) -> Program:
    fields: dict[str, object] = {
        "id": 1,
        "name": "Unit",
        "currency": "IDR",
        "tiers": (BRONZE,),
        "max_payout_rate": D("0.30"),
        "referee_reward": D(5000),
        "hold_days": 14,
        "compression": True,
        "created_at": T0,
    }
    fields.update(changes)
    return Program(**fields)  # type: ignore[arg-type]


class Shop:
    """A program's graph and book, and the purchases recorded on them, in memory."""

    def __init__(self, rules: Program, *, joined: datetime = T0) -> None:
        self.rules = rules
        self.graph = ReferralGraph(1)
        self.joined = joined

    @property
    def book(self) -> RewardBook:
        return self.graph.book

    def join(self, cid: int, referrer: int | None, status: str = "ACTIVE") -> None:
        self.graph.add_member(
            Member(
                cid,
                f"c{cid}",
                epoch_micros(self.joined),
                referrer=referrer,
                link_status=status if referrer is not None else None,
            )
        )

    def chain(self, length: int) -> Shop:
        """Customers 1 <- 2 <- ... <- length (1 the root)."""
        for i in range(1, length + 1):
            self.join(i, i - 1 if i > 1 else None)
        return self

    def buy(self, cid: int, amount: str, at: datetime = T0) -> list[tuple[object, ...]]:
        """Record a purchase; its rewards as (beneficiary, kind, level, amount)."""
        zone, month = self.rules.time_zone, month_of(at, self.rules.time_zone)
        if self.rules.monthly_cap_per_referrer is not None and not self.book.keeps_month(
            zone, month
        ):
            # As the purchase writer does: the month read from the ledger (empty here, no
            # purchase of that month before it: this book has seen them all).
            self.book.keep_month(zone, month, [])
        eligible, drafts = purchase_rewards(self.graph, self.rules, cid, D(amount), at)
        record_purchase(self.graph, cid, D(amount), eligible, created(drafts, at))
        return [(d.beneficiary_id, d.kind, d.level, d.amount) for d in drafts]


# --- The per-purchase cap and the walk --------------------------------------------------


def test_cap_cuts_from_the_deepest_level() -> None:
    assert cap_from_deepest([D(10), D(5), D(2)], D(20)) == [D(10), D(5), D(2)]
    assert cap_from_deepest([D(10), D(5), D(2)], D(12)) == [D(10), D(2), D(0)]
    assert cap_from_deepest([D(10), D(5), D(2)], D(0)) == [D(0), D(0), D(0)]


def test_commissions_level_by_level_and_the_welcome() -> None:
    # 100,001 IDR: 10% = 10000.1 rounds down to 10000, 5% to 5000, 2% to 2000.
    assert Shop(program()).chain(5).buy(5, "100001") == [
        (4, C, 1, D(10000)),
        (3, C, 2, D(5000)),
        (2, C, 3, D(2000)),
        (5, W, 0, D(5000)),
    ]


def test_per_purchase_cap_reached_mid_purchase() -> None:
    # cap = 12% of 1000 = 120: levels 100, 50, 20 become 100, 20, 0 (not recorded).
    assert Shop(program(max_payout_rate=D("0.12"))).chain(4).buy(4, "1000") == [
        (3, C, 1, D(100)),
        (2, C, 2, D(20)),
        (4, W, 0, D(1000)),
    ]


def test_welcome_only_on_the_first_purchase_of_a_referred_live_customer() -> None:
    shop = Shop(program()).chain(2)
    assert shop.buy(1, "1000") == []  # a root: no referrer, no welcome
    assert shop.buy(2, "300") == [(1, C, 1, D(30)), (2, W, 0, D(300))]
    assert shop.buy(2, "300") == [(1, C, 1, D(30))]
    erased = Shop(program()).chain(2)
    erased.graph.erase(2)
    assert erased.buy(2, "300") == [(1, C, 1, D(30))]


def test_an_erased_ancestor_keeps_or_loses_its_level() -> None:
    graph = Shop(program()).chain(4).graph
    graph.erase(3)
    assert [(r.ancestor.id, r.level, r.path) for r in ladder(graph, program(), 4)] == [
        (2, 1, (4, 3)),
        (1, 2, (4, 3, 2)),
    ]
    off = program(compression=False)
    assert [(r.ancestor.id, r.level) for r in ladder(graph, off, 4)] == [(2, 2), (1, 3)]


def test_a_rejected_link_ends_the_walk() -> None:
    graph = Shop(program()).chain(4).graph
    graph.set_link_status(3, "REJECTED")
    assert [r.ancestor.id for r in ladder(graph, program(), 4)] == [3]


def test_the_walk_stops_past_the_longest_tier() -> None:
    graph = Shop(program()).chain(6).graph
    rules = program(tiers=(TierRule("Only", 0, D(0), (D("0.1"),)),))
    assert [r.ancestor.id for r in ladder(graph, rules, 6)] == [5]


def test_a_zero_rate_records_nothing() -> None:
    rules = program(tiers=(TierRule("T", 0, D(0), (D(0), D("0.05"))),), referee_reward=D(0))
    assert Shop(rules).chain(3).buy(3, "1000") == [(1, C, 2, D(50))]


# --- Eligibility ------------------------------------------------------------------------


def test_an_ineligible_purchase_earns_nothing_and_still_counts_for_spend() -> None:
    shop = Shop(program(min_purchase_amount=D(1000))).chain(3)
    assert shop.buy(3, "999") == []
    assert shop.graph.members[3].spend == D(999)
    assert shop.graph.members[2].qualified_referrals == 1
    assert shop.book.eligible_purchases(3) == 0
    # The welcome goes with the first ELIGIBLE purchase.
    assert shop.buy(3, "1000") == [(2, C, 1, D(100)), (1, C, 2, D(50)), (3, W, 0, D(1000))]
    assert shop.book.eligible_purchases(3) == 1


def test_a_paused_program_creates_no_reward_of_any_kind() -> None:
    rules = program(active=False, milestones=(MilestoneRule(1, D(700)),))
    shop = Shop(rules).chain(2)
    assert shop.buy(2, "100000") == []
    assert shop.book.eligible_purchases(2) == 0


# --- Flat level amounts ------------------------------------------------------------------


def test_flat_amounts_add_to_the_rate_and_a_flat_only_level_records_rate_0() -> None:
    tier = TierRule("Flat", 0, D(0), (D("0.10"),), (D(250), D(100)))
    rules = program(tiers=(tier,), referee_reward=D(0))
    shop = Shop(rules).chain(4)
    # Level 1: round_down(1999 * 0.10) + 250 = 199 + 250; level 2: 0 + 100; no level 3.
    eligible, drafts = purchase_rewards(shop.graph, rules, 4, D(1999), T0)
    assert eligible
    assert [(d.beneficiary_id, d.level, d.rate, d.tier, d.amount) for d in drafts] == [
        (3, 1, D("0.10"), "Flat", D(449)),
        (2, 2, D(0), "Flat", D(100)),
    ]


def test_the_per_purchase_cap_covers_the_flat_amounts() -> None:
    tier = TierRule("Flat", 0, D(0), (D("0.10"),), (D(250), D(100)))
    rules = program(tiers=(tier,), referee_reward=D(0), max_payout_rate=D("0.25"))
    # cap = 250 of 1000: level 1 raw 100 + 250 = 350 becomes 250; level 2 gets 0.
    assert Shop(rules).chain(3).buy(3, "1000") == [(2, C, 1, D(250))]


# --- Commission window and purchase limit -------------------------------------------------


def test_commission_window_is_periods_of_24_hours_from_joining() -> None:
    rules = program(commission_window_days=2, referee_reward=D(0))
    shop = Shop(rules).chain(2)
    last = T0 + timedelta(days=2) - timedelta(microseconds=1)
    assert shop.buy(2, "1000", last) == [(1, C, 1, D(100))]
    assert shop.buy(2, "1000", T0 + timedelta(days=2)) == []
    # Imported history before joining is inside the window.
    assert shop.buy(2, "1000", T0 - timedelta(days=30)) == [(1, C, 1, D(100))]


def test_purchase_limit_counts_a_refunded_purchase_among_the_earlier_ones() -> None:
    rules = program(commission_purchase_limit=2, min_purchase_amount=D(100))
    shop = Shop(rules).chain(2)
    assert shop.buy(2, "50") == []  # not eligible: does not count toward the limit
    assert shop.buy(2, "1000") == [(1, C, 1, D(100)), (2, W, 0, D(1000))]
    assert shop.buy(2, "2000") == [(1, C, 1, D(200))]
    # The second eligible purchase is refunded in full: spend falls, the count stays.
    shop.graph.record_spend(2, D(-2000), purchases=0)
    assert shop.book.eligible_purchases(2) == 2
    assert shop.buy(2, "3000") == []


# --- Monthly cap -------------------------------------------------------------------------


def test_monthly_cap_month_boundary_in_jakarta_at_2359_and_0000_local() -> None:
    rules = program(monthly_cap_per_referrer=D(1000), referee_reward=D(0), time_zone="Asia/Jakarta")
    shop = Shop(rules).chain(2)
    jakarta = timedelta(hours=7)
    at_2359 = datetime(2026, 1, 31, 23, 59, tzinfo=UTC) - jakarta  # 16:59 UTC
    at_0000 = datetime(2026, 2, 1, 0, 0, tzinfo=UTC) - jakarta  # 17:00 UTC, January in UTC
    assert shop.buy(2, "8000", at_2359) == [(1, C, 1, D(800))]
    # 500 raw, 1000 - 800 = 200 left in January (local).
    assert shop.buy(2, "5000", at_2359 + timedelta(seconds=59)) == [(1, C, 1, D(200))]
    assert shop.buy(2, "5000", at_2359) == []  # nothing left: no reward recorded
    # One minute later it is February in Jakarta: a fresh allowance.
    assert shop.buy(2, "5000", at_0000) == [(1, C, 1, D(500))]
    assert shop.book.used(1, month_of(at_2359, "Asia/Jakarta")) == D(1000)
    assert shop.book.used(1, month_of(at_0000, "Asia/Jakarta")) == D(500)


def test_monthly_cap_reached_mid_purchase_per_beneficiary() -> None:
    rules = program(monthly_cap_per_referrer=D(120), referee_reward=D(0))
    shop = Shop(rules).chain(3)
    assert shop.buy(3, "1000") == [(2, C, 1, D(100)), (1, C, 2, D(50))]
    # 2 has 20 left of 120, 1 has 70: the per-purchase cap (30% = 300) cuts nothing.
    assert shop.buy(3, "1000") == [(2, C, 1, D(20)), (1, C, 2, D(50))]
    assert shop.buy(3, "1000") == [(1, C, 2, D(20))]


def test_monthly_cap_in_a_zone_with_daylight_saving() -> None:
    rules = program(monthly_cap_per_referrer=D(100), referee_reward=D(0), time_zone="Europe/Berlin")
    shop = Shop(rules).chain(2)
    # 2026-03-31 23:30 CEST (UTC+2) is March; 2026-10-31 23:30 CET (UTC+1) is October.
    march = datetime(2026, 3, 31, 21, 30, tzinfo=UTC)
    assert shop.buy(2, "1000", march) == [(1, C, 1, D(100))]
    assert shop.buy(2, "1000", march + timedelta(minutes=29)) == []
    assert shop.buy(2, "1000", march + timedelta(minutes=30)) == [(1, C, 1, D(100))]
    october = datetime(2026, 10, 31, 22, 59, tzinfo=UTC)
    assert shop.buy(2, "1000", october) == [(1, C, 1, D(100))]
    assert shop.buy(2, "1000", october + timedelta(minutes=1)) == [(1, C, 1, D(100))]


# --- Milestones --------------------------------------------------------------------------


def milestone_shop(*milestones: tuple[int, int], referees: int = 4) -> Shop:
    rules = program(
        referee_reward=D(0),
        milestones=tuple(MilestoneRule(q, D(reward)) for q, reward in milestones),
    )
    shop = Shop(rules)
    shop.join(1, None)
    for i in range(2, 2 + referees):
        shop.join(i, 1)
    return shop


def test_milestone_bonus_on_the_rise_of_qualified_referrals() -> None:
    shop = milestone_shop((2, 700))
    assert shop.buy(2, "1000") == [(1, C, 1, D(100))]
    # The second referee's first purchase makes 2 qualified referrals.
    assert shop.buy(3, "1000") == [(1, C, 1, D(100)), (1, M, 0, D(700))]
    # Held: the third does not earn it again.
    assert shop.buy(4, "1000") == [(1, C, 1, D(100))]
    # A second purchase of a qualified referee is no rise.
    assert shop.buy(2, "1000") == [(1, C, 1, D(100))]


def test_a_milestone_added_after_the_threshold_was_passed_is_caught_up_at_the_next_rise() -> None:
    shop = milestone_shop()
    shop.buy(2, "1000")
    shop.buy(3, "1000")
    assert shop.graph.members[1].qualified_referrals == 2
    shop.rules = replace(
        shop.rules, milestones=(MilestoneRule(1, D(100)), MilestoneRule(3, D(300)))
    )
    # Not a rise: 2 is qualified already.
    assert shop.buy(2, "1000") == [(1, C, 1, D(100))]
    assert shop.buy(4, "1000") == [(1, C, 1, D(100)), (1, M, 0, D(100)), (1, M, 0, D(300))]


def test_a_rise_that_earns_nothing_is_caught_up_later() -> None:
    shop = milestone_shop((1, 500))
    shop.rules = replace(shop.rules, min_purchase_amount=D(500))
    assert shop.buy(2, "100") == []  # a rise, but an ineligible purchase: no bonus
    assert shop.buy(3, "1000") == [(1, C, 1, D(100)), (1, M, 0, D(500))]


def test_a_reversed_bonus_is_earned_again() -> None:
    shop = milestone_shop((1, 500))
    shop.buy(2, "1000")
    assert shop.book.holds(1, 1)
    # Its purchase refunded in full: the bonus goes to 0, REVERSED.
    shop.graph.record_spend(2, D(-1000), purchases=0)
    shop.book.change([RewardChange(1, M, T0, D(-500), D(0), 1)])
    assert not shop.book.holds(1, 1)
    assert shop.buy(3, "1000") == [(1, C, 1, D(100)), (1, M, 0, D(500))]


def test_an_erased_referrer_earns_no_bonus() -> None:
    shop = milestone_shop((1, 500))
    shop.graph.erase(1)
    assert shop.buy(2, "1000") == []


def test_milestone_bonus_on_approval_of_a_flagged_referee_who_spent() -> None:
    shop = milestone_shop((1, 500), (2, 900), referees=0)
    shop.join(2, 1, "FLAGGED")
    shop.join(3, 1)
    assert on_approval(shop.graph, shop.book, shop.rules, 2) == []  # spent nothing yet
    shop.buy(2, "1000")  # FLAGGED: not qualified, no rise
    assert shop.graph.members[1].qualified_referrals == 0
    shop.buy(3, "1000")  # a rise to 1: earns milestone 1
    assert shop.book.holds(1, 1)
    drafts = on_approval(shop.graph, shop.book, shop.rules, 2)
    assert [(d.beneficiary_id, d.kind, d.amount, d.milestone, d.path) for d in drafts] == [
        (1, M, D(900), 2, (2,))
    ]
    shop.graph.set_link_status(2, "ACTIVE")
    assert on_approval(shop.graph, shop.book, shop.rules, 2) == []  # ACTIVE already


# --- Refunds -----------------------------------------------------------------------------


def frozen(
    kind: str, level: int, rate: str | None, first: int, now: int | None = None
) -> FrozenReward:
    amount = D(first if now is None else now)
    tier = "Bronze" if kind == C else None
    return FrozenReward(
        kind,
        level,
        None if rate is None else D(rate),
        tier,
        D(first),
        amount,
        amount == 0 and first > 0,
    )


def test_refund_recomputes_each_kind_on_the_net_amount() -> None:
    rewards = [frozen(W, 0, None, 5000), frozen(C, 2, "0.05", 5000), frozen(C, 1, "0.10", 10000)]
    # Net 30,001: 10% = 3000, 5% = 1500, cap 30% = 9000 (no cut); welcome min(5000, 30001).
    assert refunded_amounts(program(), rewards, D(30001)) == [D(5000), D(1500), D(3000)]
    # Net 3,001 with a 12% cap (360): 300 and min(150, 60) = 60; welcome 3001.
    capped = program(max_payout_rate=D("0.12"))
    assert refunded_amounts(capped, rewards, D(3001)) == [D(3001), D(60), D(300)]
    assert refunded_amounts(program(), rewards, D(0)) == [D(0), D(0), D(0)]


def test_refund_uses_the_versions_cap_and_flat_amounts() -> None:
    tier = TierRule("Bronze", 0, D(0), (D("0.10"),), (D(200),))
    version = program(tiers=(tier,), max_payout_rate=D("0.20"))
    rewards = [frozen(C, 1, "0.10", 300)]  # priced on 1000: 100 + 200
    # N = 900: 90 + 200 = 290, cap 20% = 180.
    assert refunded_amounts(version, rewards, D(900)) == [D(180)]
    # The same refund under rules whose cap is 30%: 270.
    assert refunded_amounts(replace(version, max_payout_rate=D("0.30")), rewards, D(900)) == [
        D(270)
    ]
    # The flat amount stays while N > 0 and goes at 0.
    loose = replace(version, max_payout_rate=D(1))
    assert refunded_amounts(loose, rewards, D(500)) == [D(250)]
    assert refunded_amounts(loose, rewards, D(0)) == [D(0)]


def test_a_milestone_bonus_keeps_its_amount_until_nothing_is_left() -> None:
    bonus = FrozenReward(M, 0, None, None, D(700), D(700), False)
    assert refunded_amounts(program(), [bonus], D(1)) == [D(700)]
    assert refunded_amounts(program(), [bonus], D(0)) == [D(0)]


def test_a_refund_never_raises_a_reward() -> None:
    # A commission cut by the monthly cap to 40 of its 100: a partial refund to 800 makes 80.
    assert refunded_amounts(program(), [frozen(C, 1, "0.10", 40)], D(800)) == [D(40)]
    # A welcome lowered by an earlier refund stays there.
    assert refunded_amounts(program(), [frozen(W, 0, None, 5000, 300)], D(4000)) == [D(300)]


def test_a_reversed_reward_stays_at_zero_but_still_takes_its_share_of_the_cap() -> None:
    rewards = [
        FrozenReward(C, 1, D("0.10"), "Bronze", D(100), D(0), True),
        FrozenReward(C, 2, D("0.10"), "Bronze", D(100), D(100), False),
    ]
    # Cap 15% of 1000 = 150: level 1 takes 100 of it even though it stays reversed.
    assert refunded_amounts(program(max_payout_rate=D("0.15")), rewards, D(1000)) == [
        D(0),
        D(50),
    ]


def test_a_reward_of_a_kind_no_rule_knows_is_an_error_not_a_zero() -> None:
    rewards = [
        frozen(C, 1, "0.10", 100),
        FrozenReward("LOYALTY_POINTS", 0, None, None, D(100), D(100), False),
    ]
    with pytest.raises(UnknownRewardKind, match="LOYALTY_POINTS"):
        refunded_amounts(program(), rewards, D(500))


# --- The book ----------------------------------------------------------------------------


def test_the_book_follows_changes_and_undoes_them() -> None:
    book = RewardBook()
    book.keep_month("Asia/Jakarta", month_of(T0, "Asia/Jakarta"), [(7, D(40))])
    new = [RewardChange(7, C, T0, D(60), D(60)), RewardChange(7, M, T0, D(500), D(500), 3)]
    book.purchase(9, True)
    book.change(new)
    assert book.used(7, month_of(T0, "Asia/Jakarta")) == D(100)
    assert book.holds(7, 3)
    book.change(new, -1)
    book.purchase(9, True, -1)
    assert book.used(7, month_of(T0, "Asia/Jakarta")) == D(40)
    assert not book.holds(7, 3)
    assert book.eligible_purchases(9) == 0
    book.follow_zone("Asia/Jakarta")
    assert book.keeps_month("Asia/Jakarta", month_of(T0, "Asia/Jakarta"))
    book.follow_zone("Europe/Berlin")
    assert not book.keeps_month("Asia/Jakarta", month_of(T0, "Asia/Jakarta"))
