"""The pure reward rules against the brute-force model, with no database and no HTTP.

The same scenarios as tests/test_engine_model.py, applied to a ReferralGraph in memory and
to `Model` side by side: each new purchase's rewards as the rules price them, and each
refund's amounts as the rules recompute them, must equal the model's. The model's rewards
stand for the ledger (what the database would hold) between steps.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings

from rujuk.graph.referral_graph import Member, ReferralGraph, epoch_micros
from rujuk.graph.rules import FrozenReward, purchase_rewards, refunded_amounts
from rujuk.graph.tiers import tier_of
from rujuk.records import Program, TierRule
from tests.reward_model import BASE, MCustomer, Model, model_of, scenarios


def program_of(rules: dict[str, Any]) -> Program:
    """The program record createProgram would store for the drawn rules."""
    return Program(
        id=1,
        name="Pure",
        currency=rules["currency"],
        tiers=tuple(
            TierRule(
                t["name"],
                t.get("minQualifiedReferrals", 0),
                Decimal(t.get("minNetworkRevenue", "0")),
                tuple(Decimal(r) for r in t["levelRates"]),
            )
            for t in rules["tiers"]
        ),
        max_payout_rate=Decimal(rules["maxPayoutRate"]),
        referee_reward=Decimal(rules["refereeReward"]),
        hold_days=rules["holdDays"],
        compression=rules["compression"],
        created_at=BASE,
    )


class PureRunner:
    """Applies a scenario to the graph and the rules, and to the model."""

    def __init__(self, program: Program, model: Model) -> None:
        self.program = program
        self.model = model
        self.graph = ReferralGraph(program.id)
        self.ids: dict[str, int] = {}
        self.exts: dict[int, str] = {}

    def register(self, i: int, referrer_index: int | None, flagged: bool, step: int) -> None:
        ext = f"c{i}"
        referrer = None if referrer_index is None else f"c{referrer_index}"
        if referrer is not None and referrer not in self.model.customers:
            referrer = None  # that sign-up was refused: become a root
        if referrer is not None and self.model.customers[referrer].erased:
            return  # an erased owner's code is INVALID_CODE: nobody signs up
        status = None if referrer is None else ("FLAGGED" if flagged else "ACTIVE")
        self.model.customers[ext] = MCustomer(ext, referrer, status)
        cid = len(self.ids) + 1
        self.ids[ext], self.exts[cid] = cid, ext
        joined = epoch_micros(BASE + timedelta(hours=step))
        up = None if referrer is None else self.ids[referrer]
        self.graph.add_member(Member(cid, ext, joined, referrer=up, link_status=status))

    def purchase(self, ext: str, order: str, amount: Decimal) -> None:
        new = order not in self.model.purchases and ext in self.model.customers
        error, expected = self.model.record(ext, order, amount, BASE)
        if not new or error is not None:
            return
        cid = self.ids[ext]
        drafts = purchase_rewards(self.graph, self.program, cid, amount)
        assert sorted(
            (self.exts[d.beneficiary_id], d.kind, d.level, d.rate, d.tier, d.amount, d.path)
            for d in drafts
        ) == sorted(
            (
                r.beneficiary,
                r.kind,
                r.level,
                r.rate,
                r.tier,
                r.amount,
                tuple(map(self.ids.get, r.path)),
            )
            for r in expected
        ), order
        self.graph.record_spend(cid, amount, purchases=1)

    def refund(self, order: str, amount: Decimal | None) -> None:
        purchase = self.model.purchases.get(order)
        if purchase is None:
            return
        frozen = [
            FrozenReward(r.kind, r.level, r.rate, r.first, r.status == "REVERSED")
            for r in purchase.rewards
        ]
        before = purchase.refunded
        if self.model.refund(order, amount) is not None:
            return
        net = purchase.amount - purchase.refunded
        assert refunded_amounts(self.program, frozen, net) == [
            r.amount for r in purchase.rewards
        ], order
        self.graph.record_spend(
            self.ids[purchase.customer], before - purchase.refunded, purchases=0
        )

    def review(self, ext: str, decision: str) -> None:
        if self.model.customers[ext].referrer is None:
            return
        if self.model.review(ext, decision):
            self.graph.set_link_status(self.ids[ext], self.model.customers[ext].status or "")

    def erase(self, ext: str) -> None:
        self.model.erase(ext)
        self.graph.erase(self.ids[ext])

    def compare_tiers(self) -> None:
        for ext, cid in self.ids.items():
            member = self.graph.members[cid]
            assert tier_of(self.program, member).name == self.model.tier(ext).name, ext


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios())
def test_rules_equal_the_brute_force_model(
    scenario: tuple[dict[str, Any], list[tuple[Any, ...]]],
) -> None:
    rules, ops = scenario
    model = model_of(rules)
    runner = PureRunner(program_of(rules), model)
    for step, op in enumerate(ops):
        kind = op[0]
        if kind == "register":
            runner.register(op[1], op[2], op[3], step)
        elif kind == "settle":
            model.settle(BASE + timedelta(hours=op[1]))
        elif kind == "refund":
            runner.refund(f"o{op[1]}", None if op[2] is None else Decimal(op[2]))
        elif kind == "purchase":
            runner.purchase(f"c{op[1]}", op[2], Decimal(op[3]))
        elif f"c{op[1]}" not in model.customers:
            continue  # a refused sign-up: nothing to review or erase
        elif kind == "review":
            runner.review(f"c{op[1]}", op[2])
        elif kind == "erase":
            runner.erase(f"c{op[1]}")
    runner.compare_tiers()
