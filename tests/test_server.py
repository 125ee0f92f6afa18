"""`rujuk serve` as a real uvicorn process: health, GraphiQL, and operations over real HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures import CREATE_PROGRAM, DEFAULT_TIERS, REGISTER

RUJUK = Path(sys.executable).parent / "rujuk"
ADMIN = "server-test-admin-token-0123456789"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The base URL of `rujuk serve` running on this test's database."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RUJUK_", "DATABASE_"))}
    environ.update(
        DATABASE_URL=database_url,
        RUJUK_ADMIN_TOKEN=ADMIN,
        RUJUK_DATA_DIR=str(tmp_path / "data"),
        RUJUK_LOG_LEVEL="WARNING",
    )
    log = (tmp_path / "serve.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        str(RUJUK), "serve", "--port", str(port), env=environ, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base, process, tmp_path / "serve.log")
        yield base
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


def read_log(path: Path) -> str:
    return path.read_text(errors="replace")


async def wait_healthy(base: str, process: asyncio.subprocess.Process, log: Path) -> None:
    """Poll /healthz until it answers 200 (the server migrates and loads first)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    async with httpx.AsyncClient(timeout=2) as client:
        while loop.time() < deadline:
            if process.returncode is not None:
                raise AssertionError(f"rujuk serve exited: {read_log(log)}")
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"rujuk serve did not become healthy: {read_log(log)}")


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
