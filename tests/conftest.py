"""Fixtures: one PostgreSQL per session, a fresh database per test, the app over HTTP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rujuk.app import create_app
from rujuk.config import Settings
from rujuk.database import database_url_for, drop_database, migrated_database
from rujuk.db.embedded import embedded_url, start_embedded
from rujuk.db.pool import connect
from tests.browser import find_chromium
from tests.graphql_client import ADMIN_TOKEN, GraphQLClient
from tests.servers import rujuk_command, running_server, server_environment

TEMPLATE = "rujuk_test_template"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """The maintenance URL of the session's PostgreSQL server."""
    url = os.environ.get("RUJUK_TEST_DATABASE_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="rujuk-test-") as folder:
        server = start_embedded(Path(folder))
        # A throwaway server: durability only costs time (most of it creating databases).
        server.psql(
            "ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off;"
            " ALTER SYSTEM SET full_page_writes = off; SELECT pg_reload_conf();"
        )
        yield embedded_url(server, "postgres")
        server.cleanup()


@pytest.fixture(scope="session")
async def template_url(server_url: str) -> str:
    """A migrated database that every test's database is cloned from."""
    conn = await connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
    finally:
        await conn.close()
    return await migrated_database(server_url, TEMPLATE)


async def clone_database(server_url: str, template_url: str) -> str:
    """A fresh database copied from the migrated template."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}" STRATEGY FILE_COPY')
    finally:
        await conn.close()
    return database_url_for(server_url, name)


@pytest.fixture
async def database_url(server_url: str, template_url: str) -> AsyncIterator[str]:
    """A database of this test's own."""
    url = await clone_database(server_url, template_url)
    yield url
    await drop_database(server_url, url)


def app_settings(tmp_path: Path) -> Settings:
    """Settings as the tests run the app."""
    return Settings(
        database_url="postgresql://unused",
        data_dir=tmp_path,
        admin_token=ADMIN_TOKEN,
        log_level="INFO",
        max_query_cost=50_000,
        rate_limit_cost_per_minute=10_000_000,
        max_body_bytes=1024 * 1024,
    )


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    """The ASGI app with its lifespan running."""
    application = create_app(app_settings(tmp_path), database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rujuk.test") as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    """A GraphQL client with the ADMIN token."""
    return GraphQLClient(http)


@dataclass(frozen=True)
class LiveServer:
    """A real `rujuk serve` process on loopback, with a seeded demo program."""

    url: str
    admin_token: str
    program_id: str


@pytest.fixture(scope="session")
async def live_server(server_url: str, template_url: str) -> AsyncIterator[LiveServer]:
    """`rujuk serve` in a subprocess on its own database, seeded by `rujuk demo`."""
    url = await clone_database(server_url, template_url)
    env = server_environment(url, ADMIN_TOKEN, Path(tempfile.gettempdir()))
    seeded = await asyncio.to_thread(
        subprocess.run,
        rujuk_command("demo", "--customers", "300"),
        env=env,
        capture_output=True,
        text=True,
    )
    assert seeded.returncode == 0, seeded.stderr
    program_id = seeded.stdout.split("demo program ")[1].split()[0]
    try:
        with tempfile.TemporaryDirectory(prefix="rujuk-live-") as folder:
            async with running_server(url, ADMIN_TOKEN, Path(folder)) as base:
                yield LiveServer(url=base, admin_token=ADMIN_TOKEN, program_id=program_id)
    finally:
        await drop_database(server_url, url)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's Chromium (see tests/browser.py); the test skips when none can be had."""
    path, why_not = find_chromium()
    if path is None:
        pytest.skip(why_not)
    return path
