"""The pool: one connection per task, bounded waits, unavailability as SERVICE_UNAVAILABLE."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from rujuk.app import create_app
from rujuk.config import Settings
from rujuk.db.pool import Pool, PooledConnection, SharedConnection, create_pool
from rujuk.errors import ServiceUnavailable
from tests.graphql_client import ADMIN_TOKEN

PROGRAMS = "{ programs { id name } }"


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(
        database_url, min_size=1, max_size=1, pool_timeout=0.3, statement_timeout=0.5
    )
    yield pool
    await pool.close()


async def test_a_task_holding_a_connection_is_refused_a_second(one_connection: Pool) -> None:
    async with one_connection.acquire() as conn:
        with pytest.raises(RuntimeError, match="already holds a pooled connection"):
            await one_connection.fetchval("SELECT 1")
        assert await conn.fetchval("SELECT 2") == 2
    # Another task may hold one of its own at the same time (up to the pool's size).
    assert await asyncio.create_task(one_connection.fetchval("SELECT 3")) == 3


async def test_an_exhausted_pool_fails_within_its_timeout(one_connection: Pool) -> None:
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with one_connection.acquire():
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    started = time.perf_counter()
    with pytest.raises(ServiceUnavailable, match=r"no database connection within 0\.3 s") as error:
        await one_connection.fetchval("SELECT 1")
    assert 0.25 < time.perf_counter() - started < 2
    assert error.value.extensions == {"code": "SERVICE_UNAVAILABLE", "retryAfter": 2}
    release.set()
    await holder
    assert await one_connection.fetchval("SELECT 1") == 1


async def test_a_statement_past_its_timeout_is_unavailability(one_connection: Pool) -> None:
    started = time.perf_counter()
    with pytest.raises(ServiceUnavailable, match="statement timeout"):
        await one_connection.execute("SELECT pg_sleep(5)")
    assert time.perf_counter() - started < 2
    assert await one_connection.fetchval("SELECT 1") == 1


async def test_a_requests_concurrent_reads_share_one_acquire(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=5)
    acquires = 0
    acquire = pool.acquire

    def counted() -> Any:
        nonlocal acquires
        acquires += 1
        return acquire()

    pool.acquire = counted  # type: ignore[method-assign]
    shared = SharedConnection(pool)
    order: list[int] = []

    def read(value: int) -> Callable[[PooledConnection], Awaitable[int]]:
        async def run(conn: PooledConnection) -> int:
            order.append(value)
            found: int = await conn.fetchval("SELECT $1::int", value)
            return found

        return run

    try:
        # Each read in a task of its own, as a request's fields and loaders are.
        tasks = [asyncio.create_task(shared.run(read(k))) for k in range(5)]
        assert await asyncio.gather(*tasks) == [0, 1, 2, 3, 4]
        assert (acquires, order) == (1, [0, 1, 2, 3, 4])
        # The connection went back after the burst: a later read takes one again.
        assert await shared.run(read(7)) == 7
        assert acquires == 2
        # Given back by the burst's task just after the last read's answer.
        for _ in range(100):
            if pool.get_idle_size() == pool.get_size():
                break
            await asyncio.sleep(0.01)
        assert pool.get_idle_size() == pool.get_size()
    finally:
        await pool.close()


async def test_a_failing_shared_read_fails_alone(one_connection: Pool) -> None:
    shared = SharedConnection(one_connection)

    async def bad(conn: PooledConnection) -> int:
        found: int = await conn.fetchval("SELECT 1 / 0")
        return found

    async def good(conn: PooledConnection) -> int:
        found: int = await conn.fetchval("SELECT 2")
        return found

    results = await asyncio.gather(
        asyncio.create_task(shared.run(good)),
        asyncio.create_task(shared.run(bad)),
        asyncio.create_task(shared.run(good)),
        return_exceptions=True,
    )
    assert results[0] == results[2] == 2
    assert isinstance(results[1], asyncpg.DivisionByZeroError)


async def test_shared_reads_queued_behind_an_unavailable_database_fail_as_such(
    one_connection: Pool,
) -> None:
    shared = SharedConnection(one_connection)

    async def slow(conn: PooledConnection) -> None:
        await conn.execute("SELECT pg_sleep(5)")  # past the pool's 0.5 s statement timeout

    async def quick(conn: PooledConnection) -> int:
        found: int = await conn.fetchval("SELECT 1")
        return found

    results = await asyncio.gather(
        asyncio.create_task(shared.run(slow)),
        asyncio.create_task(shared.run(quick)),
        return_exceptions=True,
    )
    assert [type(r) for r in results] == [ServiceUnavailable, ServiceUnavailable]
    assert await shared.run(quick) == 1


async def test_a_cancelled_shared_read_leaves_the_others_their_answers(
    one_connection: Pool,
) -> None:
    shared = SharedConnection(one_connection)

    def read(value: int) -> Callable[[PooledConnection], Awaitable[int]]:
        async def run(conn: PooledConnection) -> int:
            found: int = await conn.fetchval("SELECT $1::int FROM pg_sleep(0.05)", value)
            return found

        return run

    tasks = [asyncio.create_task(shared.run(read(k))) for k in range(3)]
    await asyncio.sleep(0.01)  # the first read runs, the others wait behind it
    tasks[1].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0] == 0
    assert isinstance(results[1], asyncio.CancelledError)
    assert results[2] == 2
    assert await shared.run(read(3)) == 3


async def test_a_task_holding_a_connection_is_refused_a_shared_read(one_connection: Pool) -> None:
    shared = SharedConnection(one_connection)

    async def read(conn: PooledConnection) -> int:
        found: int = await conn.fetchval("SELECT 1")
        return found

    async with one_connection.acquire():
        with pytest.raises(RuntimeError, match="already holds a pooled connection"):
            await shared.run(read)


async def test_an_exhausted_pool_answers_http_503_with_retry_after(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        admin_token=ADMIN_TOKEN,
        log_level="INFO",
        db_pool_size=1,
        db_pool_timeout=0.3,
    )
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rujuk.test") as http:
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            async with app.state.runtime.pool.acquire():
                # A task of its own, as a request is: this one holds the only connection.
                busy = await asyncio.create_task(
                    http.post("/graphql", json={"query": PROGRAMS}, headers=headers)
                )
                health = await asyncio.create_task(http.get("/healthz"))
            assert busy.status_code == 503
            assert busy.headers["Retry-After"] == "2"
            errors = busy.json()["errors"]
            assert [e["extensions"]["code"] for e in errors] == ["SERVICE_UNAVAILABLE"]
            assert errors[0]["extensions"]["retryAfter"] == 2
            assert health.status_code == 503
            assert "no database connection" in health.json()["database"]
            served = await http.post("/graphql", json={"query": PROGRAMS}, headers=headers)
            assert served.status_code == 200
            assert "errors" not in served.json()
            assert (await http.get("/healthz")).status_code == 200
