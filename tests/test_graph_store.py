"""GraphStore: workers follow each other's commits, even after losing the LISTEN connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from rujuk.access import Principal, Role
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
