"""`rujuk backup` and `rujuk restore` (issue 15): a restore into an empty data directory, or
into an empty database of an external server, reproduces every figure of every program; a
restore over data refuses unless forced."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest

from rujuk.db.pool import connect
from tests.reliability.embedded import (
    ADMIN,
    embedded_environment,
    seeded_data_dir,
    start_serve,
    stop_embedded,
)
from tests.reliability.figures import all_figures
from tests.servers import rujuk_command, running_server, server_environment

pytestmark = pytest.mark.reliability


async def rujuk(environ: dict[str, str], *args: str) -> tuple[int, str]:
    """Run a rujuk command; its exit status and its output (stdout and stderr)."""
    process = await asyncio.create_subprocess_exec(
        *rujuk_command(*args),
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def figures_served(environ: dict[str, str], log: Path) -> dict[str, object]:
    """Every figure, read from a `rujuk serve` started for the purpose and stopped after."""
    serve = await start_serve(environ, log)
    try:
        await serve.healthy()
        async with httpx.AsyncClient(base_url=serve.base, timeout=30) as client:
            return await all_figures(client, ADMIN)
    finally:
        assert await serve.stop() == 0, serve.tail()


async def test_a_backup_restored_into_an_empty_data_directory_serves_every_figure(
    tmp_path: Path,
) -> None:
    source = await seeded_data_dir(tmp_path / "source")
    source_env = embedded_environment(source)
    dump = tmp_path / "rujuk.dump"
    restored = tmp_path / "restored"
    restored_env = embedded_environment(restored)
    try:
        # Taken while the server runs: pg_dump reads one consistent snapshot.
        serve = await start_serve(source_env, tmp_path / "source.log")
        try:
            await serve.healthy()
            async with httpx.AsyncClient(base_url=serve.base, timeout=30) as client:
                before = await all_figures(client, ADMIN)
            started = time.monotonic()
            code, out = await rujuk(source_env, "backup", str(dump))
            assert code == 0, out
            print(
                f"backup of the demo: {dump.stat().st_size:,} bytes,"
                f" {time.monotonic() - started:.1f} s with the command's start"
            )
        finally:
            assert await serve.stop() == 0, serve.tail()
        assert sorted(os.listdir(tmp_path)) == ["rujuk.dump", "source", "source.log"]

        code, out = await rujuk(restored_env, "restore", str(dump))
        assert code == 0, out
        assert await figures_served(restored_env, tmp_path / "restored.log") == before

        # Over data: refused, and nothing changes; forced: the backup's data again.
        code, out = await rujuk(restored_env, "restore", str(dump))
        assert code == 2
        assert "not empty" in out
        assert "--force" in out
        code, out = await rujuk(restored_env, "restore", "--force", str(dump))
        assert code == 0, out
        assert await figures_served(restored_env, tmp_path / "forced.log") == before
    finally:
        stop_embedded(source)
        stop_embedded(restored)


async def test_restore_into_an_external_database_and_refusals(
    tmp_path: Path, database_url: str
) -> None:
    source = await seeded_data_dir(tmp_path / "source")
    source_env = embedded_environment(source)
    dump = tmp_path / "rujuk.dump"
    try:
        code, out = await rujuk(source_env, "backup", str(dump))
        assert code == 0, out
        before = await figures_served(source_env, tmp_path / "source.log")
    finally:
        stop_embedded(source)

    external = server_environment(database_url, ADMIN, tmp_path / "external")
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("not a dump\n")
    code, out = await rujuk(external, "restore", str(not_a_backup))
    assert (code, out.startswith("rujuk: pg_restore failed")) == (2, True), out
    code, out = await rujuk(external, "restore", str(tmp_path / "missing.dump"))
    assert (code, "no such file" in out) == (2, True), out

    # Another session (a server, say) uses the database: refused, even though it is empty.
    other = await connect(database_url)
    try:
        code, out = await rujuk(external, "restore", str(dump))
    finally:
        await other.close()
    assert (code, "1 other session(s) use the database" in out) == (2, True), out

    # The test's database is migrated and empty: a restore needs no --force.
    code, out = await rujuk(external, "restore", str(dump))
    assert code == 0, out
    async with (
        running_server(database_url, ADMIN, tmp_path) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as client,
    ):
        assert await all_figures(client, ADMIN) == before
        # A server uses the database (and it holds data): refused.
        code, out = await rujuk(external, "restore", str(dump))
        assert code == 2
        assert "not empty" in out
