"""Group commit of purchases through GraphQL: a burst shares transactions, and each call
gets what it would have got alone, in arrival order."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from rujuk.app import create_app
from rujuk.ids import local_id
from tests.conftest import app_settings
from tests.fixtures import chain, create_program
from tests.graphql_client import GraphQLClient
from tests.ledger import customer, record


def error_codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


async def test_a_burst_is_grouped_and_each_call_gets_its_own_answer(
    app: Any, gql: GraphQLClient
) -> None:
    program = await create_program(gql, refereeReward="500")
    pid = program["id"]
    await chain(gql, pid, 3)
    writer = app.state.runtime.purchase_writer.batches
    commits_before, items_before = writer.commits, writer.items
    calls = [
        ("c2", "same", "1000"),
        ("c2", "same", "1000"),  # a retry: the same purchase
        ("c2", "same", "2000"),  # another amount under the same orderId
        ("nobody", "ghost", "1000"),  # unknown customer: nothing written
        ("c1", "ghost", "1000"),  # so this order is still free for c1
        *[("c2", f"more-{n}", "1000") for n in range(20)],
    ]
    payloads = await asyncio.gather(
        *(record(gql, pid, who, order, amount) for who, order, amount in calls)
    )
    by_call = dict(zip(range(len(calls)), payloads, strict=True))

    same = [by_call[0], by_call[1], by_call[2]]
    recorded = [p for p in same if not p["userErrors"]]
    assert {p["purchase"]["id"] for p in recorded} == {recorded[0]["purchase"]["id"]}
    conflicts = [p for p in same if p["userErrors"]]
    assert [error_codes(p) for p in conflicts] == [["ORDER_CONFLICT"]]
    assert all(p["purchase"]["amount"] == recorded[0]["purchase"]["amount"] for p in recorded)

    assert error_codes(by_call[4]) == []
    # Alone first it is unknown; after c1's purchase of the same order, a conflict.
    assert error_codes(by_call[3]) in (["UNKNOWN_CUSTOMER"], ["ORDER_CONFLICT"])
    assert all(error_codes(by_call[k]) == [] for k in range(5, len(calls)))

    # 22 purchases in all; the welcome reward went to c2 once, with its first purchase.
    c2 = await customer(gql, pid, "c2")
    welcomes = [e for e in c2["rewards"]["edges"] if e["node"]["kind"] == "REFEREE_WELCOME"]
    assert len(welcomes) == 1
    # Fewer commits than calls: the calls that came while a commit ran waited for the next.
    commits = writer.commits - commits_before
    assert writer.items - items_before == len(calls)
    assert commits < len(calls) // 2, commits


async def test_a_replay_in_a_burst_fails_only_itself(gql: GraphQLClient) -> None:
    # The replay makes its batch's one statement fail on the unique key: the batch goes the
    # locked way, where the replay gets the first purchase and the others are recorded.
    program = await create_program(gql, refereeReward="500")
    pid = program["id"]
    await chain(gql, pid, 3)
    first = await record(gql, pid, "c2", "dup", "1000")
    calls = [("c2", "dup", "1000")] + [("c1", f"c1-{n}", "700") for n in range(12)]
    payloads = await asyncio.gather(*(record(gql, pid, *call) for call in calls))
    assert payloads[0]["purchase"]["id"] == first["purchase"]["id"]
    assert all(error_codes(p) == [] for p in payloads)
    # c1 bought 12 times: one welcome reward, with its first purchase; c2's stays single.
    for who in ("c1", "c2"):
        found = await customer(gql, pid, who)
        welcomes = [e for e in found["rewards"]["edges"] if e["node"]["kind"] == "REFEREE_WELCOME"]
        assert len(welcomes) == 1, who
    c0 = await customer(gql, pid, "c0")
    # c0 earns level 1 on each of c1's 12 purchases and level 2 on c2's one.
    assert c0["rewards"]["totalCount"] == 13


async def test_a_purchase_priced_before_another_worker_commits_is_priced_again(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-statement path awaits between pricing and storing. If another worker's
    purchase of the same buyer lands meanwhile (and this worker applies it), the statement
    must still check the version the prices were taken at: else both purchases pay the
    welcome reward (CI caught it once in two runs of --workers 2)."""
    app_a = create_app(app_settings(tmp_path / "a"), database_url)
    app_b = create_app(app_settings(tmp_path / "b"), database_url)
    async with (
        app_a.router.lifespan_context(app_a),
        app_b.router.lifespan_context(app_b),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app_a), base_url="http://a.test"
        ) as http_a,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app_b), base_url="http://b.test"
        ) as http_b,
    ):
        a, b = GraphQLClient(http_a), GraphQLClient(http_b)
        program = await create_program(a, refereeReward="750")
        pid = program["id"]
        await chain(a, pid, 2)
        runtime_a = app_a.state.runtime
        graphs_a = runtime_a.graphs
        program_id = local_id(pid, "Program")
        subscribed = runtime_a.outbox.subscribed

        async def another_worker_buys_meanwhile(program: int, conn: Any = None) -> Any:
            monkeypatch.setattr(runtime_a.outbox, "subscribed", subscribed)
            before = graphs_a.graph(program_id).version
            assert (await record(b, pid, "c1", "on-b", "10000"))["userErrors"] == []
            for _ in range(1000):  # worker a hears of it (LISTEN)
                if graphs_a.graph(program_id).version > before:
                    break
                await asyncio.sleep(0.01)
            assert graphs_a.graph(program_id).version > before
            return await subscribed(program, conn)

        monkeypatch.setattr(runtime_a.outbox, "subscribed", another_worker_buys_meanwhile)
        on_a = await record(a, pid, "c1", "on-a", "20000")
        on_b = await record(b, pid, "c1", "on-b", "10000")  # a retry: as recorded

    welcomes = [
        (payload["purchase"]["orderId"], r["amount"])
        for payload in (on_a, on_b)
        for r in payload["rewards"]
        if r["kind"] == "REFEREE_WELCOME"
    ]
    assert welcomes == [("on-b", "750")]
