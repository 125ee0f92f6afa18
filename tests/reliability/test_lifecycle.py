"""`rujuk serve`'s process lifecycle (issue 15): its workers die with their parent, a start
that fails leaves alone the PostgreSQL it did not start, and SIGTERM drains keep-alive
connections without resetting a request in flight."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest
import websockets

from tests.reliability.embedded import (
    ADMIN,
    Serve,
    embedded_environment,
    kill_all,
    postmaster_pid,
    seeded_data_dir,
    start_serve,
    stop_embedded,
    wait_gone,
)
from tests.reliability.figures import all_figures

pytestmark = pytest.mark.reliability


@contextlib.asynccontextmanager
async def cleaned_up(data_dir: Path) -> AsyncIterator[list[Serve]]:
    """Servers the test starts; whatever is left of them (and their PostgreSQL) is killed."""
    started: list[Serve] = []
    try:
        yield started
    finally:
        leftovers: list[psutil.Process] = []
        for serve in started:
            with contextlib.suppress(psutil.NoSuchProcess):
                leftovers += [psutil.Process(serve.pid), *serve.workers()]
            leftovers += [worker for worker in serve.seen if worker not in leftovers]
        kill_all(leftovers)
        await wait_gone(leftovers, 10)
        stop_embedded(data_dir)


async def figures_of(base: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        return await all_figures(client, ADMIN)


async def test_workers_die_with_their_killed_parent_and_a_new_server_takes_over(
    tmp_path: Path,
) -> None:
    data = await seeded_data_dir(tmp_path / "data")
    environ = embedded_environment(data)
    async with cleaned_up(data) as started:
        first = await start_serve(environ, tmp_path / "first.log", workers=2)
        started.append(first)
        await first.healthy()
        before = await figures_of(first.base)
        workers = first.workers()
        assert len(workers) >= 2  # and multiprocessing's resource tracker
        killed_at = time.monotonic()
        first.process.kill()
        await first.process.wait()
        alive = await wait_gone(workers, 10)
        assert alive == [], f"workers outlived their parent: {alive}"
        workers_gone = time.monotonic() - killed_at
        second = await start_serve(environ, tmp_path / "second.log", port=first.port)
        started.append(second)
        await second.healthy()
        restart = time.monotonic() - killed_at
        assert restart < 15, f"serving again took {restart:.1f} s"
        assert await figures_of(second.base) == before
        print(
            f"kill -9 of the parent: workers gone after {workers_gone:.1f} s,"
            f" serving again after {restart:.1f} s"
        )
        assert await second.stop() == 0


async def test_a_start_that_fails_leaves_running_the_postgresql_it_did_not_start(
    tmp_path: Path,
) -> None:
    """Orphaned workers (stopped here, so that they still hold the port) keep the embedded
    PostgreSQL in use: a new server that cannot bind must not stop it under them."""
    data = await seeded_data_dir(tmp_path / "data")
    environ = embedded_environment(data)
    async with cleaned_up(data) as started:
        first = await start_serve(environ, tmp_path / "first.log", workers=2)
        started.append(first)
        await first.healthy()
        before = await figures_of(first.base)
        postgres = postmaster_pid(data)
        assert postgres is not None
        workers = first.workers()
        for worker in workers:
            worker.suspend()
        first.process.kill()
        await first.process.wait()
        refused = await start_serve(environ, tmp_path / "refused.log", port=first.port)
        started.append(refused)
        code = await asyncio.wait_for(refused.process.wait(), timeout=60)
        assert code != 0, refused.tail()
        assert "the port is in use" in refused.tail()
        assert postmaster_pid(data) == postgres, "a failed start stopped PostgreSQL"
        for worker in workers:
            worker.resume()
        assert await wait_gone(workers, 10) == []
        third = await start_serve(environ, tmp_path / "third.log", port=first.port)
        started.append(third)
        await third.healthy()
        assert await figures_of(third.base) == before
        assert await third.stop() == 0


@dataclass
class Outcomes:
    """What the clients saw of their requests."""

    sent: int = 0
    completed: int = 0
    refused: int = 0
    reset: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)


# A read costing the server a few milliseconds, so that requests are in flight at the signal.
READ = (
    "query($p: ID!) { program(id: $p) { stats { customers revenue rewardCost "
    "byChannel { channel referrals revenue } } } }"
)


async def keep_alive_client(base: str, program_id: str, outcomes: Outcomes) -> None:
    """Requests back to back on one keep-alive connection until the server refuses to connect."""
    headers = {"Authorization": f"Bearer {ADMIN}"}
    body = {"query": READ, "variables": {"p": program_id}}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while True:
            outcomes.sent += 1
            try:
                response = await client.post("/graphql", json=body, headers=headers)
            except httpx.ConnectError:
                outcomes.refused += 1
                return
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as error:
                outcomes.reset.append(repr(error))
                return
            if response.status_code != 200 or "errors" in response.json():
                outcomes.other.append(response.text[:300])
                return
            outcomes.completed += 1


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_under_keep_alive_load_resets_no_request(
    tmp_path: Path, workers: int
) -> None:
    data = await seeded_data_dir(tmp_path / "data")
    environ = embedded_environment(data)
    async with cleaned_up(data) as started:
        serve = await start_serve(environ, tmp_path / "serve.log", workers=workers)
        started.append(serve)
        await serve.healthy()
        async with httpx.AsyncClient(base_url=serve.base, timeout=30) as client:
            program_id = next(iter(await all_figures(client, ADMIN)))
        outcomes = Outcomes()
        clients = [
            asyncio.create_task(keep_alive_client(serve.base, program_id, outcomes))
            for _ in range(12)
        ]
        # Every client busy (making a client costs ~0.1 s of CPU: its TLS context).
        for _ in range(300):
            if outcomes.completed >= 5 * len(clients):
                break
            await asyncio.sleep(0.1)
        completed_before = outcomes.completed
        serve.process.send_signal(signal.SIGTERM)
        done, _ = await asyncio.wait(clients, timeout=30)
        assert len(done) == len(clients), "clients still running 30 s after SIGTERM"
        code = await asyncio.wait_for(serve.process.wait(), timeout=30)
        print(
            f"{workers} worker(s), SIGTERM under load: sent {outcomes.sent}, completed"
            f" {outcomes.completed} ({outcomes.completed - completed_before} after the signal),"
            f" refused at connect {outcomes.refused}, reset {len(outcomes.reset)}"
        )
        assert outcomes.reset == []
        assert outcomes.other == []
        assert completed_before > 0
        assert outcomes.sent == outcomes.completed + outcomes.refused
        assert code == 0, serve.tail()


async def test_sigterm_closes_subscriptions_with_a_close_code_and_exits_0(tmp_path: Path) -> None:
    data = await seeded_data_dir(tmp_path / "data")
    environ = embedded_environment(data)
    async with cleaned_up(data) as started:
        serve = await start_serve(environ, tmp_path / "serve.log")
        started.append(serve)
        await serve.healthy()
        async with httpx.AsyncClient(base_url=serve.base, timeout=30) as client:
            program_id = next(iter(await all_figures(client, ADMIN)))
        url = serve.base.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN}"}}
                )
            )
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {
                            "query": "subscription($p: ID!) { rewardEarned(programId: $p) "
                            "{ amount } }",
                            "variables": {"p": program_id},
                        },
                    }
                )
            )
            await asyncio.sleep(0.3)
            serve.process.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), timeout=15)
        assert closed.value.rcvd is not None
        # 1012 (service restart): the client should reconnect, to this or another server.
        assert closed.value.rcvd.code == 1012
        assert await asyncio.wait_for(serve.process.wait(), timeout=30) == 0, serve.tail()


async def test_a_bad_shutdown_grace_stops_start_up(tmp_path: Path) -> None:
    environ = embedded_environment(tmp_path / "data", RUJUK_SHUTDOWN_GRACE_SECONDS="soon")
    serve = await start_serve(environ, tmp_path / "serve.log")
    try:
        assert await asyncio.wait_for(serve.process.wait(), timeout=30) == 2
    finally:
        if serve.process.returncode is None:
            serve.process.kill()
            await serve.process.wait()
    assert "RUJUK_SHUTDOWN_GRACE_SECONDS must be" in serve.tail()
