"""`rujuk serve` as a real uvicorn process: health, GraphiQL, and operations over real HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
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
CONSOLE_CONFIG = re.compile(r'id="rujuk-console-config">(.*?)</script>', re.S)


@pytest.fixture
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The base URL of `rujuk serve` running on this test's database."""
    async with running_server(database_url, ADMIN, tmp_path) as base:
        yield base


async def test_serve_answers_graphql_over_real_http(served: str) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        health = await client.get("/healthz")
        assert health.json() == {
            "status": "ok",
            "database": "ok",
            "graphEvents": "ok",
            "worker": health.json()["worker"],
        }
        assert isinstance(health.json()["worker"], int)
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


@pytest.fixture
def embedded_data() -> Iterator[Path]:
    """A data directory for an embedded PostgreSQL, outside pytest's temporary folders: the
    server runs as another user, and every pytest that starts makes those private again."""
    with tempfile.TemporaryDirectory(prefix="rujuk-test-") as folder:
        yield Path(folder) / "data"


async def test_embedded_postgres_stops_with_the_server(tmp_path: Path, embedded_data: Path) -> None:
    """No DATABASE_URL: rujuk runs its own PostgreSQL and stops it on SIGTERM, even after an
    earlier server was killed without a chance to clean up.
    """
    data = embedded_data
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
    assert process.returncode == 0
    assert not (pgdata / "postmaster.pid").exists(), "the embedded PostgreSQL still runs"


@dataclass(frozen=True, slots=True)
class FreshStart:
    """`rujuk serve --host 0.0.0.0` on the embedded database, started on a fresh data dir."""

    url: str
    data: Path
    log: Path


@pytest.fixture(scope="module")
async def fresh_start() -> AsyncIterator[FreshStart]:
    with tempfile.TemporaryDirectory(prefix="rujuk-test-") as folder:
        data = Path(folder) / "data"
        # The default log level: what a new user sees.
        environ = server_environment("", "", data)
        del environ["DATABASE_URL"], environ["RUJUK_ADMIN_TOKEN"], environ["RUJUK_LOG_LEVEL"]
        port = free_port()
        log_path = Path(folder) / "serve.log"
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *rujuk_command("serve", "--host", "0.0.0.0", "--port", str(port)),
                env=environ,
                stdout=log,
                stderr=log,
            )
            try:
                # Only ever talked to over loopback.
                base = f"http://127.0.0.1:{port}"
                await wait_healthy(base, process, log_path)
                yield FreshStart(base, data, log_path)
            finally:
                process.terminate()
                await asyncio.wait_for(process.wait(), timeout=30)


def lines_before_the_url(log: Path) -> list[str]:
    lines = log.read_text(errors="replace").splitlines()
    at = next(i for i, line in enumerate(lines) if "GraphiQL at http://" in line)
    return lines[:at]


async def test_a_fresh_start_prints_little_before_the_url(fresh_start: FreshStart) -> None:
    before = lines_before_the_url(fresh_start.log)
    # One line for the database, one per migration: not initdb's or pg_ctl's output.
    assert len(before) <= 15, "\n".join(before)
    assert not any("embedded_postgres" in line for line in before), "\n".join(before)
    assert not any("initdb" in line or "pg_ctl" in line for line in before), "\n".join(before)


async def test_a_server_on_the_network_never_puts_the_token_in_the_console(
    fresh_start: FreshStart,
) -> None:
    token = (fresh_start.data / "admin-token").read_text().strip()
    assert token.startswith("rjk_")
    async with httpx.AsyncClient(base_url=fresh_start.url, timeout=10) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        # The token works: it is only kept out of the page.
        programs = await client.post(
            "/graphql",
            json={"query": "{ programs { id } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert page.status_code == 200
    assert token not in page.text
    config = CONSOLE_CONFIG.search(page.text)
    assert config is not None
    assert json.loads(config.group(1))["headers"] is None
    assert programs.json()["data"] == {"programs": []}
    # Start-up says where the token is, since the page will not carry it.
    output = fresh_start.log.read_text(errors="replace")
    assert str(fresh_start.data / "admin-token") in output


async def test_without_an_admin_token_start_up_says_how_to_make_one(
    database_url: str, tmp_path: Path
) -> None:
    async with running_server(database_url, "", tmp_path, log_level="INFO"):
        output = (tmp_path / "serve.log").read_text(errors="replace")
    assert "rujuk token create --role ADMIN" in output
