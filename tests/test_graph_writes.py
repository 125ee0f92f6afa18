"""Typed graph events with one serializer, and the unit of work every graph write goes through."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from rujuk.graph.events import (
    CustomerErased,
    CustomerRegistered,
    GraphEvent,
    ProgramUpdated,
    PurchaseRecorded,
    PurchaseRefunded,
    ReferralReviewed,
    from_json,
    to_json,
)
from rujuk.graph.reward_book import RewardChange
from rujuk.graph.writes import UnknownProgram
from rujuk.ids import from_global_id
from rujuk.records import MilestoneRule, Program, TierRule
from rujuk.services.runtime import Runtime
from tests.fixtures import chain, create_program
from tests.graphql_client import GraphQLClient
from tests.ledger import record

EVENTS: list[GraphEvent] = [
    CustomerRegistered(7, "budi", datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), 3, "FLAGGED"),
    CustomerRegistered(8, "alone", datetime(2026, 1, 2, tzinfo=UTC), None, None),
    PurchaseRecorded(7, 41, Decimal("150000.50")),
    PurchaseRefunded(7, Decimal("0.01")),
    ReferralReviewed(7, "REJECTED"),
    CustomerErased(7),
    ProgramUpdated(
        Program(
            id=3,
            name="Toko",
            currency="USD",
            tiers=(
                TierRule("A", 0, Decimal("0"), (Decimal("0.10"),), (Decimal("0"), Decimal("1.50"))),
                TierRule("B", 2, Decimal("100.00"), (Decimal("0.2"),)),
            ),
            max_payout_rate=Decimal("0.30"),
            referee_reward=Decimal("2.50"),
            hold_days=7,
            compression=True,
            created_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
            rules_version=4,
            active=False,
            time_zone="America/New_York",
            min_purchase_amount=Decimal("10.00"),
            commission_window_days=30,
            commission_purchase_limit=None,
            monthly_cap_per_referrer=Decimal("500"),
            milestones=(MilestoneRule(3, Decimal("25.00")),),
            blocked_email_domains=("spam.example",),
            max_signups_per_ip_per_day=3,
        )
    ),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_an_event_survives_its_json(event: GraphEvent) -> None:
    stored = json.loads(json.dumps(to_json(event)))
    assert from_json(event.kind, stored) == event


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown graph event"):
        from_json("customer_teleported", {})


def number(global_id: str) -> int:
    parsed = from_global_id(global_id)
    assert parsed is not None
    return parsed[1]


async def graph_events(runtime: Runtime, program_id: int) -> list[tuple[int, str, Any]]:
    rows = await runtime.pool.fetch(
        "SELECT version, kind, payload FROM graph_event WHERE program_id = $1 ORDER BY version",
        program_id,
    )
    return [(r["version"], r["kind"], r["payload"]) for r in rows]


async def test_the_purchase_statement_stores_what_the_serializer_writes(
    app: Any, gql: GraphQLClient
) -> None:
    """db/purchases.py builds purchase_recorded payloads in SQL: they equal to_json's."""
    runtime: Runtime = app.state.runtime
    program = await create_program(gql, currency="USD")
    await chain(gql, program["id"], 2)
    for order, amount in [("o1", "1000"), ("o2", "2500.5"), ("o3", "0.75")]:
        payload = await record(gql, program["id"], "c1", order, amount)
        assert payload["userErrors"] == []
    pid = number(program["id"])
    purchases = await runtime.pool.fetch(
        "SELECT id, customer_id, amount, occurred_at FROM purchase WHERE program_id = $1"
        " ORDER BY id",
        pid,
    )
    rewards = await runtime.pool.fetch(
        "SELECT purchase_id, beneficiary_id, kind, amount FROM reward WHERE program_id = $1"
        " ORDER BY id",
        pid,
    )
    recorded = [e for e in await graph_events(runtime, pid) if e[1] == PurchaseRecorded.kind]
    expected = [
        PurchaseRecorded(
            p["customer_id"],
            p["id"],
            p["amount"],
            True,
            tuple(
                RewardChange(
                    r["beneficiary_id"], r["kind"], p["occurred_at"], r["amount"], r["amount"]
                )
                for r in rewards
                if r["purchase_id"] == p["id"]
            ),
        )
        for p in purchases
    ]
    assert all(e.rewards for e in expected)
    assert [payload for _, _, payload in recorded] == [to_json(e) for e in expected]
    assert [from_json(kind, payload) for _, kind, payload in recorded] == expected


async def test_a_failed_unit_of_work_writes_nothing_and_holds_up_no_one(
    app: Any, gql: GraphQLClient
) -> None:
    runtime: Runtime = app.state.runtime
    program = await create_program(gql)
    [first, _] = await chain(gql, program["id"], 2)
    pid, customer_id = number(program["id"]), number(first["id"])
    graph = runtime.graphs.graph(pid)
    version = graph.version
    logged = await graph_events(runtime, pid)

    async def change_and_fail() -> None:
        async with runtime.pool.acquire() as conn, runtime.graph_writes.begin(conn, pid) as uow:
            assert uow.version == version
            assert uow.graph is graph
            await uow.append(CustomerErased(customer_id))
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        await change_and_fail()

    assert graph.version == version
    assert not graph.members[customer_id].erased
    assert await graph_events(runtime, pid) == logged
    assert await runtime.pool.fetchval("SELECT graph_version FROM program WHERE id = $1", pid) == (
        version
    )
    # The version it announced is settled: the next write does not wait for it.
    started = time.monotonic()
    async with runtime.pool.acquire() as conn, runtime.graph_writes.begin(conn, pid) as uow:
        await uow.append(CustomerErased(customer_id))
    assert time.monotonic() - started < 0.4
    assert graph.version == version + 1
    assert graph.members[customer_id].erased
    assert (await graph_events(runtime, pid))[-1] == (
        version + 1,
        "customer_erased",
        {"id": customer_id},
    )


async def test_several_events_of_one_unit_become_consecutive_versions(
    app: Any, gql: GraphQLClient
) -> None:
    runtime: Runtime = app.state.runtime
    program = await create_program(gql)
    customers = await chain(gql, program["id"], 3)
    pid = number(program["id"])
    graph = runtime.graphs.graph(pid)
    version = graph.version
    async with runtime.pool.acquire() as conn, runtime.graph_writes.begin(conn, pid) as uow:
        for c in customers[1:]:
            await uow.append(ReferralReviewed(number(c["id"]), "REJECTED"))
        # Nothing is applied before the commit.
        assert graph.version == version
    assert graph.version == version + 2
    assert [graph.members[number(c["id"])].link_status for c in customers] == [
        None,
        "REJECTED",
        "REJECTED",
    ]


async def test_an_unknown_program_is_not_locked(app: Any) -> None:
    runtime: Runtime = app.state.runtime
    with pytest.raises(UnknownProgram):
        async with runtime.pool.acquire() as conn, runtime.graph_writes.begin(conn, 10**9):
            pass
