"""Real `rujuk serve` processes on loopback, for the tests that need one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

START_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rujuk_command(*args: str) -> list[str]:
    """The rujuk CLI of this virtual environment."""
    return [sys.executable, "-m", "rujuk", *args]


def server_environment(
    database_url: str, admin_token: str, data_dir: Path, log_level: str = "WARNING"
) -> dict[str, str]:
    """This process's environment without rujuk's settings, plus the given ones."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RUJUK_", "DATABASE_"))}
    environ.update(
        DATABASE_URL=database_url,
        RUJUK_ADMIN_TOKEN=admin_token,
        RUJUK_DATA_DIR=str(data_dir),
        RUJUK_LOG_LEVEL=log_level,
    )
    return environ


@contextlib.asynccontextmanager
async def running_server(
    database_url: str,
    admin_token: str,
    folder: Path,
    workers: int = 1,
    log_level: str = "WARNING",
    settings: dict[str, str] | None = None,
) -> AsyncIterator[str]:
    """`rujuk serve` on the database until the block ends; yields its base URL (its output
    goes to folder / "serve.log"). settings: more environment variables for it."""
    port = free_port()
    log_path = folder / "serve.log"
    environ = server_environment(database_url, admin_token, folder / "data", log_level)
    environ.update(settings or {})
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *rujuk_command("serve", "--port", str(port), "--workers", str(workers)),
            env=environ,
            stdout=log,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_healthy(base, process, log_path, workers)
            try:
                yield base
            except httpx.TimeoutException as error:
                # A request that hangs says where: each process's threads, and the log.
                error.add_note(await asyncio.to_thread(stacks, process.pid))
                error.add_note(await _tail(log_path))
                raise
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), timeout=15)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def wait_healthy(
    base: str, process: asyncio.subprocess.Process, log: Path, workers: int = 1
) -> None:
    """Poll /healthz until it answers 200 from `workers` distinct workers (the server
    migrates and loads first; with --workers N the workers load one after another, and a
    test that starts before the last has loaded races its start-up)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    healthy: set[int] = set()
    # A new connection for each probe: the kernel hands each to a worker that accepts.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=2, limits=limits) as client:
        while loop.time() < deadline:
            if process.returncode is not None:
                raise AssertionError(f"rujuk serve exited: {await _tail(log)}")
            try:
                answer = await client.get(f"{base}/healthz")
                if answer.status_code == 200:
                    healthy.add(answer.json()["worker"])
                    if len(healthy) >= workers:
                        return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"rujuk serve did not become healthy: {await _tail(log)}")


def stacks(pid: int) -> str:
    """What every thread of the process and its children runs now (py-spy, a test tool)."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        return "py-spy not installed: no stacks"
    dump = subprocess.run(
        [spy, "dump", "--pid", str(pid), "--subprocesses"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return f"py-spy dump --subprocesses:\n{dump.stdout}{dump.stderr}"


async def _tail(log: Path) -> str:
    text = await asyncio.to_thread(log.read_text, errors="replace")
    return text[-4000:]
