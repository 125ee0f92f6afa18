"""The pure reward rules against the brute-force model, with no database and no HTTP.

The same scenarios as tests/test_engine_model.py (programs with every rule of contract v2,
and rule updates between purchases), applied to a ReferralGraph and its RewardBook in
memory and to `Model` side by side: each new purchase's rewards as the rules price them,
each refund's amounts as the rules recompute them under the purchase's own version, and
each approval's milestone bonuses must equal the model's. The model's rewards stand for the
ledger (what the database would hold) between steps; the changes each step makes to them
reach the book the way graph events carry them, and the book must equal the ledger at the
end.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import event, given, note, settings

from rujuk.graph.referral_graph import Member, ReferralGraph, epoch_micros
from rujuk.graph.reward_book import RewardChange, month_of
from rujuk.graph.rules import (
    FrozenReward,
    RewardDraft,
    created,
    on_approval,
    purchase_rewards,
    record_purchase,
    refunded_amounts,
)
from rujuk.graph.tiers import tier_of
from rujuk.records import MilestoneRule, Program, TierRule
from tests.reward_model import (
    BASE,
    COMMISSION,
    STEP,
    MCustomer,
    Model,
    MReward,
    model_of,
    rules_of,
    scenarios,
)

D = Decimal


def program_of(fields: dict[str, Any], version: int) -> Program:
    """The program record createProgram (and updateProgram) would store for these fields."""
    window = fields.get("commissionWindowDays")
    limit = fields.get("commissionPurchaseLimit")
    monthly = fields.get("monthlyCapPerReferrer")
    return Program(
        id=1,
        name="Pure",
        currency=fields["currency"],
        tiers=tuple(
            TierRule(
                t["name"],
                t.get("minQualifiedReferrals", 0),
                D(t.get("minNetworkRevenue", "0")),
                tuple(D(r) for r in t["levelRates"]),
                tuple(D(a) for a in t.get("levelAmounts", [])),
            )
            for t in fields["tiers"]
        ),
        max_payout_rate=D(fields["maxPayoutRate"]),
        referee_reward=D(fields["refereeReward"]),
        hold_days=fields["holdDays"],
        compression=fields["compression"],
        created_at=BASE,
        rules_version=version,
        active=fields.get("active", True),
        time_zone=fields.get("timeZone", "Asia/Jakarta"),
        min_purchase_amount=D(fields.get("minPurchaseAmount", "0")),
        commission_window_days=window,
        commission_purchase_limit=limit,
        monthly_cap_per_referrer=None if monthly is None else D(monthly),
        milestones=tuple(
            MilestoneRule(m["qualifiedReferrals"], D(m["reward"]))
            for m in fields.get("milestones", [])
        ),
    )


Snapshot = dict[int, tuple[MReward, str, Decimal, Decimal]]


class PureRunner:
    """Applies a scenario to the graph, its book and the rules, and to the model."""

    def __init__(self, fields: dict[str, Any], model: Model) -> None:
        self.fields = dict(fields)
        self.program = program_of(fields, 1)
        self.model = model
        self.graph = ReferralGraph(1)
        self.ids: dict[str, int] = {}
        self.exts: dict[int, str] = {}
        self.priced_under: dict[str, Program] = {}

    # The ledger's changes, as the services put them in graph events.

    def snapshot(self) -> Snapshot:
        return {id(r): (r, r.order, r.amount, r.first) for r in self.model.rewards()}

    def changes_since(self, before: Snapshot) -> list[RewardChange]:
        changes = []
        for r in self.model.rewards():
            old = before[id(r)][2] if id(r) in before else D(0)
            if r.amount != old or id(r) not in before:
                at = self.model.purchases[r.order].at
                changes.append(
                    RewardChange(
                        self.ids[r.beneficiary], r.kind, at, r.amount - old, r.amount, r.milestone
                    )
                )
        return changes

    def keep_months(self, at: datetime) -> None:
        """What the purchase writer does under the lock when the book lacks the month of a
        purchase that its monthly cap reads: read that month's usage from the ledger."""
        zone = self.program.time_zone
        month = month_of(at, zone)
        if self.program.monthly_cap_per_referrer is None or self.graph.book.keeps_month(
            zone, month
        ):
            return
        usage: dict[int, Decimal] = {}
        for p in self.model.purchases.values():
            if month_of(p.at, zone) != month:
                continue
            for r in p.rewards:
                if r.kind == COMMISSION:
                    beneficiary = self.ids[r.beneficiary]
                    usage[beneficiary] = usage.get(beneficiary, D(0)) + r.amount
        self.graph.book.keep_month(zone, month, usage.items())

    def draft_row(self, d: RewardDraft) -> tuple[Any, ...]:
        row = (self.exts[d.beneficiary_id], d.kind, d.level, d.rate, d.tier, d.amount)
        return (*row, d.milestone, d.path)

    def reward_row(self, r: MReward) -> tuple[Any, ...]:
        row = (r.beneficiary, r.kind, r.level, r.rate, r.tier, r.amount)
        return (*row, r.milestone, tuple(self.ids[c] for c in r.path))

    # The operations.

    def register(self, i: int, referrer_index: int | None, flagged: bool, at: datetime) -> None:
        ext = f"c{i}"
        referrer = None if referrer_index is None else f"c{referrer_index}"
        if referrer is not None and referrer not in self.model.customers:
            referrer = None  # that sign-up was refused: become a root
        if referrer is not None and self.model.customers[referrer].erased:
            return  # an erased owner's code is INVALID_CODE: nobody signs up
        status = None if referrer is None else ("FLAGGED" if flagged else "ACTIVE")
        self.model.customers[ext] = MCustomer(ext, referrer, status, joined=at)
        cid = len(self.ids) + 1
        self.ids[ext], self.exts[cid] = cid, ext
        up = None if referrer is None else self.ids[referrer]
        self.graph.add_member(Member(cid, ext, epoch_micros(at), referrer=up, link_status=status))

    def update(self, change: dict[str, Any]) -> None:
        self.fields.update(change)
        old_zone = self.program.time_zone
        self.program = program_of(self.fields, self.program.rules_version + 1)
        self.model.update(rules_of(change, self.model.rules))
        if self.program.time_zone != old_zone:
            self.graph.book.follow_zone(self.program.time_zone)

    def purchase(self, ext: str, order: str, amount: Decimal, at: datetime) -> None:
        new = order not in self.model.purchases and ext in self.model.customers
        self.keep_months(at)  # from the ledger before this purchase
        error, expected = self.model.record(ext, order, amount, at)
        if not new or error is not None:
            return
        cid = self.ids[ext]
        eligible, drafts = purchase_rewards(self.graph, self.program, cid, amount, at)
        assert eligible == self.model.purchases[order].eligible
        assert sorted(map(self.draft_row, drafts)) == sorted(map(self.reward_row, expected)), order
        record_purchase(self.graph, cid, amount, eligible, created(drafts, at))
        self.priced_under[order] = self.program

    def refund(self, order: str, amount: Decimal | None) -> None:
        purchase = self.model.purchases.get(order)
        if purchase is None:
            return
        frozen = [
            FrozenReward(r.kind, r.level, r.rate, r.tier, r.first, r.amount, r.status == "REVERSED")
            for r in purchase.rewards
        ]
        before, refunded = self.snapshot(), purchase.refunded
        if self.model.refund(order, amount) is not None:
            return
        net = purchase.amount - purchase.refunded
        version = self.priced_under[order]
        assert refunded_amounts(version, frozen, net) == [r.amount for r in purchase.rewards], order
        cid = self.ids[purchase.customer]
        self.graph.record_spend(cid, refunded - purchase.refunded, purchases=0)
        self.graph.book.change(self.changes_since(before))

    def review(self, ext: str, decision: str, at: datetime) -> None:
        if self.model.customers[ext].referrer is None:
            return
        cid = self.ids[ext]
        drafts = on_approval(self.graph, self.graph.book, self.program, cid)
        before = self.snapshot()
        if not self.model.review(ext, decision, at):
            return
        changes = self.changes_since(before)
        if decision == "APPROVE":
            # The service gives the bonuses to the referee's earliest eligible purchase with
            # a net amount above 0, when it has one.
            owner = next(
                (
                    p
                    for p in self.model.purchases.values()
                    if p.customer == ext and p.eligible and p.amount > p.refunded
                ),
                None,
            )
            paid = drafts if owner is not None else []
            assert sorted(
                (self.exts[d.beneficiary_id], d.amount, d.milestone, d.path) for d in paid
            ) == sorted(
                (self.exts[c.beneficiary_id], c.amount, c.milestone, (cid,)) for c in changes
            ), ext
            if paid:
                assert owner is not None
                event("milestone bonus on approval")
                changes = created(paid, owner.at)
        self.graph.set_link_status(cid, self.model.customers[ext].status or "")
        self.graph.book.change(changes)

    def erase(self, ext: str) -> None:
        before = self.snapshot()
        self.model.erase(ext)
        self.graph.erase(self.ids[ext])
        self.graph.book.change(self.changes_since(before))

    def compare(self) -> None:
        """The graph's tiers and the book's figures equal the model's."""
        book = self.graph.book
        for ext, cid in self.ids.items():
            assert tier_of(self.program, self.graph.members[cid]).name == self.model.tier(ext).name
            eligible = sum(
                1 for p in self.model.purchases.values() if p.customer == ext and p.eligible
            )
            assert book.eligible_purchases(cid) == eligible, ext
            for threshold in range(1, 4):
                assert book.holds(cid, threshold) == self.model.holds(ext, threshold), ext
        if book.zone is not None:
            zone = book.zone
            expected: dict[int, dict[int, Decimal]] = {month: {} for month in book.monthly}
            for p in self.model.purchases.values():
                for r in p.rewards:
                    month = month_of(p.at, zone)
                    if r.kind == COMMISSION and r.amount and month in expected:
                        used = expected[month]
                        beneficiary = self.ids[r.beneficiary]
                        used[beneficiary] = used.get(beneficiary, D(0)) + r.amount
            assert book.monthly == expected


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios())
def test_rules_equal_the_brute_force_model(
    scenario: tuple[dict[str, Any], list[tuple[Any, ...]]],
) -> None:
    fields, ops = scenario
    note(repr(scenario))
    model = model_of(fields)
    runner = PureRunner(fields, model)
    for step, op in enumerate(ops):
        at = BASE + step * STEP
        kind = op[0]
        if kind == "register":
            runner.register(op[1], op[2], op[3], at)
        elif kind == "update":
            runner.update(op[1])
        elif kind == "settle":
            model.settle(BASE + timedelta(hours=op[1]))
        elif kind == "refund":
            runner.refund(f"o{op[1]}", None if op[2] is None else D(op[2]))
        elif kind == "purchase":
            runner.purchase(f"c{op[1]}", op[2], D(op[3]), at)
        elif f"c{op[1]}" not in model.customers:
            continue  # a refused sign-up: nothing to review or erase
        elif kind == "review":
            runner.review(f"c{op[1]}", op[2], at)
        elif kind == "erase":
            runner.erase(f"c{op[1]}")
    runner.compare()
    rewards = model.rewards()
    event(f"milestone bonuses: {min(2, sum(1 for r in rewards if r.milestone))}")
    event(f"rule versions: {min(3, runner.program.rules_version)}")
