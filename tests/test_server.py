"""`rujuk serve` as a real uvicorn process: health, GraphiQL, and operations over real HTTP."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures import CREATE_PROGRAM, DEFAULT_TIERS, REGISTER
from tests.servers import (
    free_port,
    rujuk_command,
    running_server,
    server_environment,
    wait_healthy,
)

ADMIN = "server-test-admin-token-0123456789"


@pytest.fixture
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The base URL of `rujuk serve` running on this test's database."""
    async with running_server(database_url, ADMIN, tmp_path) as base:
        yield base


async def test_serve_answers_graphql_over_real_http(served: str) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        health = await client.get("/healthz")
        assert health.json() == {"status": "ok"}
        created = await client.post(
            "/graphql",
            json={
                "query": CREATE_PROGRAM,
                "variables": {"input": {"name": "Live", "tiers": DEFAULT_TIERS}},
            },
            headers=headers,
        )
        assert created.status_code == 200
        program = created.json()["data"]["createProgram"]
        assert program["userErrors"] == []
        program_id = program["program"]["id"]
        root = await client.post(
            "/graphql",
            json={
                "query": REGISTER,
                "variables": {
                    "input": {"programId": program_id, "externalId": "andi", "displayName": "Andi"}
                },
            },
            headers=headers,
        )
        andi = root.json()["data"]["registerCustomer"]
        assert andi["userErrors"] == []
        code = andi["customer"]["referralCodes"][0]["code"]
        referred = await client.post(
            "/graphql",
            json={
                "query": REGISTER,
                "variables": {
                    "input": {
                        "programId": program_id,
                        "externalId": "budi",
                        "displayName": "Budi",
                        "referralCode": code.lower(),
                    }
                },
            },
            headers=headers,
        )
        budi = referred.json()["data"]["registerCustomer"]
        assert budi["userErrors"] == []
        assert budi["referral"]["status"] == "ACTIVE"
        tree = await client.post(
            "/graphql",
            json={
                "query": 'query($p: ID!) { customer(programId: $p, externalId: "andi") '
                "{ referrals { totalCount edges { node { externalId } } } } }",
                "variables": {"p": program_id},
            },
            headers=headers,
        )
        assert tree.json()["data"]["customer"]["referrals"] == {
            "totalCount": 1,
            "edges": [{"node": {"externalId": "budi"}}],
        }
        anonymous = await client.post("/graphql", json={"query": "{ programs { id } }"})
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]


async def test_embedded_postgres_stops_with_the_server(tmp_path: Path) -> None:
    """No DATABASE_URL: rujuk runs its own PostgreSQL and stops it on SIGTERM, even after an
    earlier server was killed without a chance to clean up.
    """
    data = tmp_path / "data"
    environ = server_environment("", ADMIN, data)
    del environ["DATABASE_URL"]
    pgdata = data / "pgdata"
    for attempt in ("killed", "terminated"):
        port = free_port()
        log_path = tmp_path / f"{attempt}.log"
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *rujuk_command("serve", "--port", str(port)), env=environ, stdout=log, stderr=log
            )
            await wait_healthy(f"http://127.0.0.1:{port}", process, log_path)
            if attempt == "killed":
                process.kill()
            else:
                process.terminate()
            await asyncio.wait_for(process.wait(), timeout=30)
    assert process.returncode == 128 + signal.SIGTERM
    assert not (pgdata / "postmaster.pid").exists(), "the embedded PostgreSQL still runs"
