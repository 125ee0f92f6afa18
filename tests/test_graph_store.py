"""GraphStore: workers follow each other's commits, even after losing the LISTEN connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import networkx as nx
import pytest

from rujuk.access import Principal, Role
from rujuk.db import events, graph_load
from rujuk.db.pool import connect
from rujuk.graph import replicator
from rujuk.graph.referral_graph import Member, MemberTable, ReferralGraph, epoch_micros
from rujuk.records import Program, TierRule
from rujuk.services import programs, registration
from rujuk.services.runtime import Runtime
from tests.conftest import app_settings

ADMIN = Principal(Role.ADMIN)


@pytest.fixture
async def two_workers(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Runtime, Runtime]]:
    first = await Runtime.start(app_settings(tmp_path), database_url)
    second = await Runtime.start(app_settings(tmp_path), database_url)
    yield first, second
    await first.close()
    await second.close()


async def sign_up(runtime: Runtime, program_id: int, external_id: str) -> None:
    await registration.register_customer(
        runtime,
        ADMIN,
        registration.SignUp(
            program_id=program_id,
            external_id=external_id,
            display_name=external_id,
            email=None,
            phone=None,
            referral_code=None,
            channel="DIRECT",
            device_id=None,
            joined_at=None,
        ),
    )


async def create_test_program(runtime: Runtime) -> Program:
    return await programs.create_program(
        runtime,
        ADMIN,
        programs.ProgramDraft(
            name="P",
            currency="IDR",
            tiers=(TierRule("Basic", 0, Decimal(0), (Decimal("0.1"),)),),
            max_payout_rate=Decimal("0.3"),
            referee_reward=Decimal(0),
            hold_days=14,
            compression=False,
        ),
    )


async def reaches(runtime: Runtime, program_id: int, version: int) -> bool:
    """Whether the runtime's graph reaches the version within five seconds."""
    for _ in range(100):
        if runtime.graphs.graph(program_id).version >= version:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_worker_follows_commits_and_survives_a_lost_listener(
    two_workers: tuple[Runtime, Runtime],
) -> None:
    writer, follower = two_workers
    program = await create_test_program(writer)
    await sign_up(writer, program.id, "a")
    assert await reaches(follower, program.id, 1)
    listener = follower.graphs.replicator._listener
    assert listener is not None
    await writer.pool.execute("SELECT pg_terminate_backend($1)", listener.get_server_pid())
    # Written while the follower may be cut off: replayed from the log once it reconnects.
    await sign_up(writer, program.id, "b")
    await sign_up(writer, program.id, "c")
    assert await reaches(follower, program.id, 3)
    assert set(follower.graphs.graph(program.id).by_external_id) == {"a", "b", "c"}
    # The catch-up may come from the periodic check before the new LISTEN connection is up.
    for _ in range(200):
        if follower.graphs.replicator._listener is not listener and follower.graphs.listening:
            break
        await asyncio.sleep(0.05)
    assert follower.graphs.replicator._listener is not listener
    await sign_up(writer, program.id, "d")
    assert await reaches(follower, program.id, 4)


@pytest.fixture
def frequent_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers check their LISTEN connection and graph versions every 0.2 s, not 5."""
    monkeypatch.setattr(replicator, "LISTENER_CHECK_INTERVAL", 0.2)


async def test_a_missed_notification_is_made_up_by_the_periodic_check(
    frequent_checks: None, two_workers: tuple[Runtime, Runtime]
) -> None:
    writer, follower = two_workers
    program = await create_test_program(writer)
    await sign_up(writer, program.id, "a")
    assert await reaches(follower, program.id, 1)
    # As when the catch-up of a notification failed: the follower hears nothing more.
    listener = follower.graphs.replicator._listener
    assert listener is not None
    await listener.remove_listener(events.GRAPH_CHANNEL, follower.graphs.replicator._notified)
    await sign_up(writer, program.id, "b")
    assert await reaches(follower, program.id, 2)
    assert set(follower.graphs.graph(program.id).by_external_id) == {"a", "b"}


async def test_workers_load_one_after_another(database_url: str, tmp_path: Path) -> None:
    # Another worker is loading (holds the load lock): this one waits for it to finish.
    holder = await connect(database_url)
    try:
        await graph_load.lock_load(holder)
        starting = asyncio.create_task(Runtime.start(app_settings(tmp_path), database_url))
        await asyncio.sleep(0.5)
        assert not starting.done()
        await graph_load.unlock_load(holder)
        runtime = await asyncio.wait_for(starting, 30)
        await runtime.close()
    finally:
        await holder.close()


async def test_join_times_are_the_same_loaded_or_followed(
    database_url: str, tmp_path: Path
) -> None:
    writer = await Runtime.start(app_settings(tmp_path), database_url)
    try:
        program = await create_test_program(writer)
        for external_id in ("a", "b", "c"):
            await sign_up(writer, program.id, external_id)
        # The writer's graph took them from its events, a new worker's from the table.
        followed = writer.graphs.graph(program.id).members.values()
        restarted = await Runtime.start(app_settings(tmp_path), database_url)
        loaded = restarted.graphs.graph(program.id).members.values()
        await restarted.close()
        stored = await writer.pool.fetch(
            "SELECT external_id, joined_at FROM customer WHERE program_id = $1", program.id
        )
    finally:
        await writer.close()
    expected = {row["external_id"]: epoch_micros(row["joined_at"]) for row in stored}
    assert {m.external_id: m.joined_micros for m in followed} == expected
    assert {m.external_id: m.joined_micros for m in loaded} == expected


async def test_the_stored_join_times_are_exact(database_url: str) -> None:
    moments = [
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1900, 2, 28, 12, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 11, 24, 15, 30, 1, 999_999, tzinfo=UTC),
        datetime(2999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ]
    conn = await connect(database_url)
    # Rolled back: customers cannot be deleted.
    writes = conn.transaction()
    await writes.start()
    try:
        program_id = await conn.fetchval(
            """INSERT INTO program (name, currency, tiers, max_payout_rate, referee_reward,
                                    hold_days, compression)
               VALUES ('P', 'IDR', '[]', 0.3, 0, 14, false) RETURNING id"""
        )
        rows = await conn.fetch(
            """INSERT INTO customer (program_id, external_id, display_name, channel, joined_at)
               SELECT $1, 'c' || i, 'C', 'DIRECT', t
               FROM unnest($2::timestamptz[]) WITH ORDINALITY AS m(t, i)
               RETURNING joined_at, joined_micros""",
            program_id,
            moments,
        )
    finally:
        await writes.rollback()
        await conn.close()
    assert [r["joined_micros"] for r in rows] == [epoch_micros(m) for m in moments]
    assert [epoch_micros(r["joined_at"]) for r in rows] == [epoch_micros(m) for m in moments]


def test_epoch_micros_is_exact() -> None:
    assert epoch_micros(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    moment = datetime(2026, 11, 24, 15, 30, 1, 999_999, tzinfo=UTC)
    assert epoch_micros(moment) == 1_795_534_201_999_999
    assert epoch_micros(datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == -1


@pytest.mark.parametrize("built", ["loaded", "followed"])
def test_the_tree_is_a_networkx_graph_both_ways_that_grows_under_its_leaves(built: str) -> None:
    joined = epoch_micros(datetime(2026, 11, 1, tzinfo=UTC))
    members = [
        Member(1, "root", joined),
        Member(2, "a", joined, referrer=1, link_status="ACTIVE"),
        Member(3, "b", joined, referrer=1, link_status="REJECTED"),
        Member(4, "a1", joined, referrer=2, link_status="ACTIVE"),
    ]
    if built == "loaded":
        graph = ReferralGraph.from_table(7, MemberTable.of(members))
    else:
        graph = ReferralGraph(7)
        for member in members:
            graph.add_member(member)
    tree = graph.tree
    # The structural tree: every link, REJECTED included; predecessors read from referrers.
    assert sorted(tree.edges) == [(1, 2), (1, 3), (2, 4)]
    assert nx.descendants(tree, 1) == {2, 3, 4}
    assert nx.ancestors(tree, 4) == {1, 2}
    assert [list(tree.predecessors(c)) for c in (1, 2, 3, 4)] == [[], [1], [1], [2]]
    assert dict(tree.in_degree) == {1: 0, 2: 1, 3: 1, 4: 1}
    assert dict(tree.out_degree) == {1: 2, 2: 1, 3: 0, 4: 0}
    assert sorted(tree.reverse(copy=False).edges) == [(2, 1), (3, 1), (4, 2)]
    assert nx.is_arborescence(tree)
    assert next(iter(nx.topological_sort(tree))) == 1
    assert tree.has_edge(2, 4)
    assert not tree.has_edge(4, 2)
    # Referees join a leaf (3), a referrer with referees (1) and a customer who joined
    # after the load (5): each keeps its referees in id order.
    graph.add_member(Member(5, "b1", joined, referrer=3, link_status="ACTIVE"))
    graph.add_member(Member(6, "c", joined, referrer=1, link_status="ACTIVE"))
    graph.add_member(Member(7, "b11", joined, referrer=5, link_status="ACTIVE"))
    graph.add_member(Member(8, "b12", joined, referrer=5, link_status="ACTIVE"))
    assert [list(tree.successors(c)) for c in range(1, 9)] == [
        [2, 3, 6],
        [4],
        [5],
        [],
        [7, 8],
        [],
        [],
        [],
    ]
    assert list(tree.predecessors(5)) == [3]
    assert tree.number_of_nodes() == 8
    assert tree.number_of_edges() == 7
    assert dict(tree.adj[1]) == {2: {}, 3: {}, 6: {}}
    assert nx.descendants(tree, 3) == {5, 7, 8}
    with pytest.raises(nx.NetworkXError, match="not in the digraph"):
        tree.successors(99)
    assert graph.members[1].network_size == 3  # 3's subtree hangs under a REJECTED link
    # Writes go through ReferralGraph: one through networkx fails before writing anything.
    with pytest.raises(nx.NetworkXError, match="Frozen"):
        tree.add_edge(4, 9)
    with pytest.raises(nx.NetworkXError, match="Frozen"):
        tree.remove_node(4)
    assert 9 not in tree
    assert tree.number_of_edges() == 7
    copy = tree.copy()
    copy.add_edge(4, 9)
    assert sorted(copy.edges) == [(1, 2), (1, 3), (1, 6), (2, 4), (3, 5), (4, 9), (5, 7), (5, 8)]


def test_a_member_table_is_in_id_order_and_spends_are_its_customers() -> None:
    joined = epoch_micros(datetime(2026, 11, 1, tzinfo=UTC))
    table = MemberTable.of([Member(2, "b", joined), Member(1, "a", joined)])
    with pytest.raises(ValueError, match="id order"):
        ReferralGraph.from_table(1, table)
    for ids in ([1, 3], []):
        table = MemberTable.of([Member(i, f"c{i}", joined) for i in ids])
        table.spends[2] = (Decimal(5), 1)
        with pytest.raises(ValueError, match="spends"):
            ReferralGraph.from_table(1, table)


async def test_only_a_snapshot_id_is_shared(database_url: str) -> None:
    conn = await connect(database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            with pytest.raises(ValueError, match="snapshot id"):
                await graph_load.share_snapshot(conn, "1'; DROP TABLE customer; --")
    finally:
        await conn.close()
