"""The reward engine against an independent brute-force model of rewards.md.

Hypothesis draws a program, a tree and a sequence of operations; the test applies them
through GraphQL over HTTP and, in parallel, to `Model` (tests/reward_model.py), which keeps
only the raw facts (links, purchases, rewards) and recomputes every figure from scratch by
plain traversal. After each example every reward, every customer's stats and balance must
match.

Async: pytest-asyncio (auto mode) recognises a `@given` test whose inner test is a
coroutine function and runs each example with the session's event loop runner, so the
function-scoped fixtures (one database, one app, one HTTP client) serve every example of
the run. Examples stay independent by creating a fresh program each (programs share
nothing); hence the suppressed function_scoped_fixture health check.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, given, settings

from tests.fixtures import create_program, register
from tests.graphql_client import GraphQLClient
from tests.ledger import ERASE, REVIEW, SETTLE, record, refund
from tests.reward_model import (
    BASE,
    STEP,
    MCustomer,
    Model,
    MReward,
    model_of,
    rules_of,
    scenarios,
)

UPDATE = """
mutation($input: UpdateProgramInput!) {
  updateProgram(input: $input) { program { rulesVersion } userErrors { field code message } }
}"""

# --- The test -------------------------------------------------------------------------


STATE = """
query($p: ID!) {
  %s
}"""
CUSTOMER_STATE = """
  c%d: customer(programId: $p, externalId: "%s") {
    stats { directReferrals qualifiedReferrals networkSize networkRevenue influence tier depth }
    balance { pending approved reversed }
    rewards(first: 100) { edges { node {
      kind level rate tier amount status availableAt milestone purchase { orderId } } } }
  }"""

# Every example gets its own program; this numbers them across examples.
_program_numbers = itertools.count()


def reward_row(beneficiary: str, r: dict[str, Any]) -> tuple[Any, ...]:
    return (
        beneficiary,
        r["purchase"]["orderId"],
        r["kind"],
        r["level"],
        None if r["rate"] is None else Decimal(r["rate"]),
        r["tier"],
        Decimal(r["amount"]),
        r["status"],
        datetime.fromisoformat(r["availableAt"]),
        r["milestone"],
    )


def model_row(r: MReward) -> tuple[Any, ...]:
    return (
        r.beneficiary,
        r.order,
        r.kind,
        r.level,
        r.rate,
        r.tier,
        r.amount,
        r.status,
        None if r.by_review else r.available_at,
        r.milestone,
    )


def created_row(r: dict[str, Any]) -> tuple[Any, ...]:
    beneficiary = r["beneficiary"]["externalId"]
    return (beneficiary, r["kind"], r["level"], Decimal(r["amount"]), r["tier"], r["milestone"])


class Runner:
    """Applies a scenario through GraphQL and to the model side by side."""

    def __init__(self, gql: GraphQLClient, program: dict[str, Any], model: Model) -> None:
        self.gql = gql
        self.program = program
        self.pid: str = program["id"]
        self.model = model
        self.ids: dict[str, str] = {}  # externalId -> customer id
        self.referral_ids: dict[str, str] = {}  # referee externalId -> referral id
        self.codes: dict[str, str] = {}
        self.devices: dict[str, str | None] = {}
        # (beneficiary, order, milestone) of approvals' bonuses -> bounds of availableAt.
        self.reviewed: dict[tuple[str, str, int | None], tuple[datetime, datetime]] = {}

    async def decoy(self) -> str:
        """A new clean root that never refers anyone; its device is for sharing."""
        ext = f"decoy{sum(1 for c in self.model.customers if c.startswith('decoy'))}"
        payload = await self.sign_up(ext, None, f"dev-{ext}", BASE)
        assert payload["userErrors"] == [], payload["userErrors"]
        self.model.customers[ext] = MCustomer(ext, None, None)
        return f"dev-{ext}"

    async def sign_up(
        self, ext: str, referrer: str | None, device: str, at: datetime
    ) -> dict[str, Any]:
        code = None if referrer is None else self.codes[referrer]
        payload = await register(
            self.gql, self.pid, ext, code, deviceId=device, joinedAt=at.isoformat()
        )
        if payload["customer"] is not None:
            self.ids[ext] = payload["customer"]["id"]
            self.codes[ext] = payload["customer"]["referralCodes"][0]["code"]
            self.devices[ext] = device
        if payload["referral"] is not None:
            self.referral_ids[ext] = payload["referral"]["id"]
        return payload

    def upline(self, ext: str) -> set[str]:
        found: set[str] = set()
        node: str | None = ext
        while node is not None:
            found.add(node)
            node = self.model.customers[node].referrer
        return found

    async def register(
        self, i: int, referrer_index: int | None, flagged: bool, at: datetime
    ) -> None:
        ext = f"c{i}"
        referrer = None if referrer_index is None else f"c{referrer_index}"
        if referrer is not None and referrer not in self.model.customers:
            referrer = None  # that sign-up was refused: become a root
        device = f"dev-{ext}"
        if flagged and referrer is not None:
            # Share the device of a clean customer outside the referrer's upline: that is
            # SHARED_DEVICE, not SELF_REFERRAL. The decoy is always such a customer.
            taken = {self.devices[c] for c in self.upline(referrer)}
            device = (
                next(
                    (
                        f"dev-{c}"
                        for c, m in self.model.customers.items()
                        if not m.erased
                        and self.devices[c] == f"dev-{c}"
                        and f"dev-{c}" not in taken
                    ),
                    None,
                )
                or await self.decoy()
            )
        payload = await self.sign_up(ext, referrer, device, at)
        if referrer is not None and self.model.customers[referrer].erased:
            assert [e["code"] for e in payload["userErrors"]] == ["INVALID_CODE"]
            return
        assert payload["userErrors"] == [], payload["userErrors"]
        status = None
        if referrer is not None:
            status = "FLAGGED" if device != f"dev-{ext}" else "ACTIVE"
            assert payload["referral"]["status"] == status
            if status == "FLAGGED":
                assert payload["referral"]["fraudSignals"] == ["SHARED_DEVICE"]
        self.model.customers[ext] = MCustomer(ext, referrer, status, joined=at)

    async def purchase(self, ext: str, order: str, amount: str, at: datetime) -> None:
        expected_error, expected = self.model.record(ext, order, Decimal(amount), at)
        payload = await record(self.gql, self.pid, ext, order, amount, occurredAt=at.isoformat())
        assert [e["code"] for e in payload["userErrors"]] == (
            [] if expected_error is None else [expected_error]
        ), (order, payload["userErrors"])
        if expected_error is None:
            assert sorted(map(created_row, payload["rewards"])) == sorted(
                (r.beneficiary, r.kind, r.level, r.amount, r.tier, r.milestone) for r in expected
            ), order

    async def refund(self, order: str, amount: str | None) -> None:
        expected_error = self.model.refund(order, None if amount is None else Decimal(amount))
        payload = await refund(self.gql, self.pid, order, amount)
        assert [e["code"] for e in payload["userErrors"]] == (
            [] if expected_error is None else [expected_error]
        ), (order, amount, payload["userErrors"])
        if expected_error is None:
            purchase = self.model.purchases[order]
            assert Decimal(payload["purchase"]["refundedAmount"]) == purchase.refunded

    async def review(self, ext: str, decision: str, at: datetime) -> None:
        referral_id = self.referral_ids.get(ext)
        if referral_id is None:
            return  # a root: no link to review
        before = {id(r) for r in self.model.rewards()}
        accepted = self.model.review(ext, decision, at)
        started = datetime.now(UTC)
        data = await self.gql.data(
            REVIEW, {"input": {"referralId": referral_id, "decision": decision}}
        )
        hold = timedelta(days=self.model.rules.hold_days)
        for r in self.model.rewards():
            if id(r) not in before:  # an approval's milestone bonus: held from the review
                key = (r.beneficiary, r.order, r.milestone)
                self.reviewed[key] = (started + hold, datetime.now(UTC) + hold)
        payload = data["reviewReferral"]
        if accepted:
            assert payload["userErrors"] == [], payload["userErrors"]
            assert payload["referral"]["status"] == self.model.customers[ext].status
        else:
            assert payload["userErrors"], payload

    async def update(self, change: dict[str, Any]) -> None:
        self.model.update(rules_of(change, self.model.rules))
        data = await self.gql.data(UPDATE, {"input": {"programId": self.pid, **change}})
        assert data["updateProgram"]["userErrors"] == [], data["updateProgram"]["userErrors"]

    async def erase(self, ext: str) -> None:
        self.model.erase(ext)
        data = await self.gql.data(ERASE, {"input": {"customerId": self.ids[ext]}})
        assert data["eraseCustomer"]["userErrors"] == []

    async def settle(self, as_of: datetime) -> None:
        count, amount = self.model.settle(as_of)
        data = await self.gql.data(
            SETTLE, {"input": {"programId": self.pid, "asOf": as_of.isoformat()}}
        )
        payload = data["settleRewards"]
        assert (payload["approvedCount"], Decimal(payload["approvedAmount"])) == (count, amount)

    async def compare(self) -> None:
        exts = list(self.model.customers)
        query = STATE % "".join(CUSTOMER_STATE % (i, ext) for i, ext in enumerate(exts))
        data = await self.gql.data(query, {"p": self.pid})
        actual_rewards: list[tuple[Any, ...]] = []
        for i, ext in enumerate(exts):
            found = data[f"c{i}"]
            stats = dict(found["stats"])
            expected = self.model.stats(ext)
            assert math.isclose(stats.pop("influence"), expected.pop("influence"), abs_tol=1e-9)
            stats["networkRevenue"] = Decimal(stats["networkRevenue"])
            assert stats == expected, ext
            balance = {k: Decimal(v) for k, v in found["balance"].items()}
            assert balance == self.model.balance(ext), ext
            for edge in found["rewards"]["edges"]:
                row = reward_row(ext, edge["node"])
                bounds = self.reviewed.get((ext, row[1], row[-1]))
                if bounds is not None and row[2] == "MILESTONE_BONUS":
                    assert bounds[0] <= row[-2] <= bounds[1], row
                    row = (*row[:-2], None, row[-1])
                actual_rewards.append(row)
        assert sorted(actual_rewards, key=repr) == sorted(
            map(model_row, self.model.rewards()), key=repr
        )


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
async def test_engine_equals_the_brute_force_model(
    gql: GraphQLClient, scenario: tuple[dict[str, Any], list[tuple[Any, ...]]]
) -> None:
    rules, ops = scenario
    program = await create_program(gql, name=f"Model {next(_program_numbers)}", **rules)
    model = model_of(rules)
    runner = Runner(gql, program, model)
    for step, op in enumerate(ops):
        at = BASE + step * STEP
        kind = op[0]
        if kind == "register":
            await runner.register(op[1], op[2], op[3], at)
            continue
        if kind == "update":
            await runner.update(op[1])
            continue
        if kind == "settle":
            await runner.settle(BASE + timedelta(hours=op[1]))
            continue
        if kind == "refund":
            await runner.refund(f"o{op[1]}", op[2])
            continue
        ext = f"c{op[1]}"
        if kind == "purchase":
            await runner.purchase(ext, op[2], op[3], at)
        elif kind == "replay":
            order = f"o{op[2]}"
            first = model.purchases.get(order)
            # Half the replays repeat the first call exactly; the rest conflict (or not).
            if first is not None and op[1] % 2 == 0:
                await runner.purchase(first.customer, order, str(first.amount), at)
            else:
                await runner.purchase(ext, order, op[3], at)
        elif ext not in model.customers:
            continue  # a refused sign-up: nothing to review or erase
        elif kind == "review":
            await runner.review(ext, op[2], at)
        elif kind == "erase":
            await runner.erase(ext)
    await runner.compare()
    # What the examples reached, for --hypothesis-show-statistics.
    event("deepest reward level", max((r.level for r in model.rewards()), default=-1))
