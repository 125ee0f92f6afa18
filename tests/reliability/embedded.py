"""`rujuk serve` on its own embedded PostgreSQL, as an operator runs it: the processes and
the data directory are the test's, to kill, restart and restore."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.servers import free_port, rujuk_command, server_environment, wait_healthy

ADMIN = "reliability-admin-token-0123456789"
DEMO_CUSTOMERS = 150

_seeded: Path | None = None
_seeding = asyncio.Lock()


def embedded_environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """rujuk's environment without DATABASE_URL: it runs its own PostgreSQL in data_dir."""
    environ = server_environment("", ADMIN, data_dir)
    del environ["DATABASE_URL"]
    environ.update(extra)
    return environ


async def run_rujuk(environ: dict[str, str], *args: str, seconds: float = 120) -> str:
    """Run a rujuk command to its end; its stdout (failing on a non-zero status)."""
    process = await asyncio.create_subprocess_exec(
        *rujuk_command(*args),
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=seconds)
    assert process.returncode == 0, f"rujuk {' '.join(args)}: {err.decode()[-3000:]}"
    return out.decode()


async def seeded_data_dir(target: Path) -> Path:
    """A data directory holding the demo program (seeded once per session, then copied)."""
    global _seeded
    async with _seeding:
        if _seeded is None:
            folder = Path(tempfile.mkdtemp(prefix="rujuk-seeded-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            # `rujuk demo` stops the PostgreSQL it started when it exits: pgdata is at rest.
            await run_rujuk(
                embedded_environment(folder / "data"), "demo", "--customers", str(DEMO_CUSTOMERS)
            )
            _seeded = folder / "data"
    # cp -a keeps the files' owner: run as root, PostgreSQL runs as a user of its own.
    copy = await asyncio.create_subprocess_exec("cp", "-a", str(_seeded), str(target))
    assert await copy.wait() == 0
    return target


@dataclass
class Serve:
    """One `rujuk serve` process (its log in log_path)."""

    process: asyncio.subprocess.Process
    base: str
    port: int
    log_path: Path
    # Every worker seen, to kill if the test fails after their parent died.
    seen: list[psutil.Process] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def workers(self) -> list[psutil.Process]:
        children = psutil.Process(self.pid).children()
        self.seen += [child for child in children if child not in self.seen]
        return children

    async def healthy(self) -> None:
        await wait_healthy(self.base, self.process, self.log_path)

    async def stop(self) -> int:
        """SIGTERM, then its exit status (SIGKILL after 30 s)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        assert self.process.returncode is not None
        return self.process.returncode

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


async def start_serve(
    environ: dict[str, str], log_path: Path, *, workers: int = 1, port: int | None = None
) -> Serve:
    """Start `rujuk serve` (not waiting for it to answer)."""
    port = free_port() if port is None else port
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *rujuk_command("serve", "--port", str(port), "--workers", str(workers)),
            env=environ,
            stdout=log,
            stderr=log,
        )
    return Serve(process, f"http://127.0.0.1:{port}", port, log_path)


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid of the embedded PostgreSQL running on data_dir, if one runs."""
    try:
        pid = int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if psutil.pid_exists(pid) else None


async def wait_gone(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    """Wait up to `seconds` for the processes to exit; those still alive."""
    _, alive = await asyncio.to_thread(psutil.wait_procs, processes, seconds)
    return list(alive)


def kill_all(processes: list[psutil.Process]) -> None:
    """SIGKILL what is left (a failed test must not leave servers behind)."""
    for process in processes:
        try:
            process.send_signal(signal.SIGCONT)
            process.kill()
        except psutil.NoSuchProcess:
            pass


def stop_embedded(data_dir: Path) -> None:
    """Stop an embedded PostgreSQL that a killed test left running."""
    pid = postmaster_pid(data_dir)
    if pid is not None:
        os.kill(pid, signal.SIGINT)
