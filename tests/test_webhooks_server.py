"""Webhooks from real `rujuk serve` processes: one delivery per event with --workers 2, and
no event lost when the server is killed between the commit and the delivery."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.fixtures import chain, create_program
from tests.graphql_client import ADMIN_TOKEN, GraphQLClient
from tests.ledger import paid
from tests.servers import free_port, rujuk_command, server_environment, wait_healthy
from tests.test_webhooks import create_endpoint, send_test
from tests.webhook_receiver import Receiver, eventually, running_receiver

pytestmark = pytest.mark.slow


@contextlib.asynccontextmanager
async def serve(
    database_url: str, folder: Path, workers: int = 1
) -> AsyncIterator[tuple[GraphQLClient, asyncio.subprocess.Process]]:
    """`rujuk serve` allowing webhooks to loopback; an ADMIN client and the process."""
    port = free_port()
    environ = server_environment(database_url, ADMIN_TOKEN, folder / "data")
    environ["RUJUK_WEBHOOKS_ALLOW_PRIVATE"] = "1"
    log_path = folder / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *rujuk_command("serve", "--port", str(port), "--workers", str(workers)),
            env=environ,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_healthy(base, process, log_path, workers)
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                yield GraphQLClient(client), process
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), timeout=15)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def test_with_two_workers_each_event_is_delivered_once(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        running_receiver(Receiver(delay=0.05)) as receiver,
        serve(database_url, tmp_path, workers=2) as (gql, _),
    ):
        program = await create_program(gql)
        pid = program["id"]
        endpoint, secret = await create_endpoint(gql, pid, receiver.url)
        await chain(gql, pid, 3)
        results = await asyncio.gather(
            *(paid(gql, pid, f"c{i % 3}", f"o{i}", "1000") for i in range(40)),
            *(send_test(gql, endpoint["id"]) for _ in range(20)),
        )
        conn = await asyncpg.connect(database_url)
        try:
            events = await conn.fetchval("SELECT count(*) FROM webhook_event")
            # Two sign-ups with a code, 40 purchases with their rewards, 20 tests.
            rewards = sum(len(r) for r in results[:40] if isinstance(r, list))
            assert events == 2 + 40 + rewards + 20
            await eventually(lambda: len(receiver.answered) >= events, within=30)
            await asyncio.sleep(0.5)  # nothing more comes
            ids = Counter(r.headers["webhook-id"] for r in receiver.received)
            assert len(ids) == events
            assert set(ids.values()) == {1}  # each claimed by one worker, attempted once
            attempts = await conn.fetchval("SELECT max(attempts) FROM webhook_delivery")
            assert attempts == 1
        finally:
            await conn.close()
        assert all(r.verified(secret) for r in receiver.answered)


async def test_killing_the_server_between_commit_and_delivery_loses_no_event(
    database_url: str, tmp_path: Path
) -> None:
    # The receiver hangs on the first requests: they are in flight when the server dies.
    async with running_receiver(Receiver(delay=60)) as receiver:
        async with serve(database_url, tmp_path) as (gql, process):
            program = await create_program(gql)
            endpoint, secret = await create_endpoint(gql, program["id"], receiver.url)
            sent = [await send_test(gql, endpoint["id"]) for _ in range(12)]
            # Eight at a time per endpoint: eight in flight, four claimed and waiting.
            await eventually(lambda: len(receiver.received) == 8)
            process.send_signal(signal.SIGKILL)
            await process.wait()
        receiver.delay = 0
        async with serve(database_url, tmp_path):
            # All twelve were claimed by the killed server: they go once their leases pass.
            await eventually(lambda: len(receiver.answered) >= 12, within=45)
        delivered = {r.headers["webhook-id"] for r in receiver.answered}
        assert delivered == {e["id"] for e in sent}
        assert all(r.verified(secret)["type"] == "webhook.test" for r in receiver.answered)
