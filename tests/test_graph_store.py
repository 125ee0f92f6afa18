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
from rujuk.db import graph_load
from rujuk.db.pool import connect
from rujuk.graph.referral_graph import Member, ReferralGraph
from rujuk.records import TierRule
from rujuk.runtime import Runtime
from rujuk.services import programs, registration
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
    program = await programs.create_program(
        writer,
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
    await sign_up(writer, program.id, "a")
    assert await reaches(follower, program.id, 1)
    listener = follower.graphs._listener
    assert listener is not None
    await writer.pool.execute("SELECT pg_terminate_backend($1)", listener.get_server_pid())
    # Written while the follower may be cut off: replayed from the log once it reconnects.
    await sign_up(writer, program.id, "b")
    await sign_up(writer, program.id, "c")
    assert await reaches(follower, program.id, 3)
    assert set(follower.graphs.graph(program.id).by_external_id) == {"a", "b", "c"}
    assert follower.graphs._listener is not listener


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


def test_a_loaded_tree_is_a_plain_networkx_graph_that_grows_under_its_leaves() -> None:
    joined = datetime(2026, 11, 1, tzinfo=UTC)
    members = [
        Member(1, "root", joined),
        Member(2, "a", joined, referrer=1, link_status="ACTIVE"),
        Member(3, "b", joined, referrer=1, link_status="ACTIVE"),
        Member(4, "a1", joined, referrer=2, link_status="ACTIVE"),
    ]
    graph = ReferralGraph.from_members(7, members)
    tree = graph.tree
    assert sorted(tree.edges) == [(1, 2), (1, 3), (2, 4)]
    assert nx.descendants(tree, 1) == {2, 3, 4}
    assert nx.ancestors(tree, 4) == {1, 2}
    # Leaves 3 and 4 share one read-only mapping of referees until they get one.
    graph.add_member(Member(5, "b1", joined, referrer=3, link_status="ACTIVE"))
    assert list(tree.successors(3)) == [5]
    assert list(tree.successors(4)) == []
    assert graph.members[1].network_size == 4
