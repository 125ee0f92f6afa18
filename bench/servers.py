"""Server processes (rujuk serve, the baseline app) and HTTP measurements against them."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import asyncpg

from rujuk.db.events import GRAPH_CHANNEL
from rujuk.ids import to_global_id

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a server in its own process group (stopped with its workers by stop())."""
    with log.open("wb") as out:
        return subprocess.Popen(
            args,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )


# Machine CPU use under which the bench counts the machine as at rest (of all cores).
QUIET_BUSY = 0.10


def wait_quiet(url: str, limit: float) -> float:
    """Checkpoint the database, then wait until the machine is at rest (CPU use over one
    second under QUIET_BUSY) or limit seconds have passed; the seconds waited.

    Start-up is measured on a database at rest: right after a write load, PostgreSQL's
    and the kernel's writing-back of it slowed a start by 1.5-2 s (9.6 s against 8.1 s
    after a checkpoint on the same database).
    """

    async def checkpoint() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("CHECKPOINT")
        finally:
            await conn.close()

    started = time.perf_counter()
    asyncio.run(checkpoint())
    while time.perf_counter() - started < limit:
        before = _cpu_times()
        time.sleep(1.0)
        after = _cpu_times()
        total = sum(after) - sum(before)
        idle = (after[3] + after[4]) - (before[3] + before[4])
        if total > 0 and 1 - idle / total < QUIET_BUSY:
            break
    return time.perf_counter() - started


def _cpu_times() -> list[int]:
    """The machine's CPU time counters from /proc/stat (user, nice, system, idle, iowait, ...)."""
    with open("/proc/stat") as stat:
        return [int(field) for field in stat.readline().split()[1:]]


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (uvicorn and its workers), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_healthy(
    port: int, process: subprocess.Popen[bytes], started: float, limit: float
) -> float:
    """Seconds from `started` to the first 200 of /healthz; raise if the server dies or is late."""
    url = f"http://127.0.0.1:{port}/healthz"
    while time.perf_counter() - started < limit:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no 200 from /healthz within {limit} s")


def wait_workers_loaded(url: str, workers: int, started: float, limit: float) -> float:
    """Seconds from `started` until every worker listens for graph events, which it does
    once its graphs are loaded (workers load one after another)."""

    async def listening() -> int:
        conn = await asyncpg.connect(url)
        try:
            count: int = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND query = $1",
                f'LISTEN "{GRAPH_CHANNEL}"',
            )
            return count
        finally:
            await conn.close()

    while time.perf_counter() - started < limit:
        if asyncio.run(listening()) >= workers:
            return time.perf_counter() - started
        time.sleep(0.2)
    raise RuntimeError(f"not every worker loaded within {limit} s")


def graphql_median_ms(
    port: int, token: str, query: str, variables: dict[str, object], count: int
) -> float:
    """Median latency of `count` sequential POSTs on one keep-alive connection (after 20 warm)."""
    body = json.dumps({"query": query, "variables": variables}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times: list[float] = []
    for k in range(count + 20):
        started = time.perf_counter()
        conn.request("POST", "/graphql", body, headers)
        response = conn.getresponse()
        payload = response.read()
        if response.status != 200 or b'"errors"' in payload:
            raise RuntimeError(f"GraphQL failed: {payload[:300]!r}")
        if k >= 20:
            times.append(time.perf_counter() - started)
    conn.close()
    return statistics.median(times) * 1000


def load(
    kind: str,
    port: int,
    path: str,
    externals: list[str],
    run: str,
    *,
    program: str = "",
    token: str = "",
    duration: float = 10.0,
    concurrency: int = 32,
    viewers: Path | None = None,
    offset: int = 0,
) -> dict[str, float]:
    """Closed-loop load from its own process: wrk with bench/purchase.lua (bench/mixed.lua
    for the *-mixed kinds, given a file of viewers' tokens) where installed (a C client
    leaves the two cores to the server), else bench.loadgen (purchases only). Its JSON
    summary."""
    wrk = shutil.which("wrk")
    mixed = kind.endswith("-mixed")
    if wrk is not None:
        command = [
            wrk,
            "-t1",
            f"-c{concurrency}",
            f"-d{duration:g}s",
            # The default 2 s would count a slow answer as an error, not as its latency.
            "--timeout",
            "30s",
            "-s",
            str(ROOT / "bench" / ("mixed.lua" if mixed else "purchase.lua")),
            f"http://127.0.0.1:{port}{path}",
        ]
    elif mixed:
        raise RuntimeError("the mixed load needs wrk (apt-get install wrk)")
    else:
        command = [
            sys.executable,
            "-m",
            "bench.loadgen",
            "--kind",
            kind,
            "--port",
            str(port),
            "--path",
            path,
            "--program",
            program,
            "--token",
            token,
            "--customers",
            str(len(externals)),
            "--run",
            run,
            "--duration",
            str(duration),
            "--concurrency",
            str(concurrency),
            "--offset",
            str(offset),
        ]
    environment = {
        **os.environ,
        "BENCH_KIND": kind,
        "BENCH_PROGRAM": program,
        "BENCH_TOKEN": token,
        "BENCH_CUSTOMERS": str(len(externals)),
        "BENCH_RUN": run,
        "BENCH_VIEWERS": "" if viewers is None else str(viewers),
        "BENCH_OFFSET": str(offset),
    }
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=duration + 120,
        check=True,
    )
    summary: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    summary["client"] = 1.0 if wrk is not None else 0.0
    return summary


ISSUE_TOKEN = """mutation($id: ID!) {
  issueCustomerToken(input: {customerId: $id, ttlSeconds: 86400}) { token userErrors { code } }
}"""


def mint_viewers(port: int, partner_token: str, customer_ids: list[int], into: Path) -> Path:
    """A CUSTOMER token for each customer (issueCustomerToken with the partner's token),
    written as "customer_id token" lines for bench/mixed.lua; the file."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {partner_token}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    lines: list[str] = []
    try:
        for customer_id in customer_ids:
            variables = {"id": to_global_id("Customer", customer_id)}
            body = json.dumps({"query": ISSUE_TOKEN, "variables": variables}).encode()
            conn.request("POST", "/graphql", body, headers)
            response = conn.getresponse()
            answer = json.loads(response.read())
            token = (answer.get("data") or {}).get("issueCustomerToken", {}).get("token")
            if response.status != 200 or not token:
                raise RuntimeError(f"issueCustomerToken failed: {answer}")
            lines.append(f"{customer_id} {token}")
    finally:
        conn.close()
    into.write_text("\n".join(lines) + "\n")
    return into


def activity(url: str, port: int, server_pid: int | None = None) -> dict[str, float]:
    """Counters whose change during a run tells where its time and latency spikes went:
    PostgreSQL's commits, checkpoints and autovacuum runs, the CPU seconds of PostgreSQL's
    processes and of the server's (its process group), and the server's garbage collections
    (rujuk's /metrics; the floor app has no such endpoint)."""

    async def database() -> tuple[dict[str, float], int]:
        conn = await asyncpg.connect(url)
        try:
            checkpoints = await conn.fetchrow(
                "SELECT num_timed + num_requested AS checkpoints,"
                " write_time + sync_time AS checkpoint_ms FROM pg_stat_checkpointer"
            )
            assert checkpoints is not None  # the view has one row
            vacuums = await conn.fetchval(
                "SELECT sum(autovacuum_count + autoanalyze_count) FROM pg_stat_user_tables"
            )
            commits = await conn.fetchval(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            )
            folder = await conn.fetchval("SHOW data_directory")
            postmaster = int((Path(folder) / "postmaster.pid").read_text().split()[0])
            return {
                "checkpoints": float(checkpoints["checkpoints"]),
                "checkpoint_ms": float(checkpoints["checkpoint_ms"]),
                "autovacuums": float(vacuums or 0),
                "commits": float(commits),
            }, postmaster
        finally:
            await conn.close()

    found, postmaster = asyncio.run(database())
    found["pg_cpu_s"] = _cpu_seconds(lambda pid, ppid, pgid: postmaster in (pid, ppid))
    if server_pid is not None:
        found["server_cpu_s"] = _cpu_seconds(lambda pid, ppid, pgid: pgid == server_pid)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return found
    for line in text.splitlines():
        match = GC_LINE.match(line)
        if match is not None:
            part, generation, value = match.groups()
            found[f"gc{generation}_{'count' if part == 'count' else 'ms'}"] = float(value) * (
                1 if part == "count" else 1000
            )
    return found


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(chosen: Callable[[int, int, int], bool]) -> float:
    """User and system CPU seconds of the processes `chosen(pid, ppid, pgid)` picks, with
    those of their children that have ended (a PostgreSQL backend that exits between two
    readings moves its time to the postmaster's: counted once, never lost)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # Fields after the command name (which may hold spaces) in parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if chosen(int(entry.name), int(fields[1]), int(fields[2])):
            total += sum(int(f) for f in fields[11:15])
    return total / CLOCK_TICKS


GC_LINE = re.compile(r'rujuk_gc_pause_seconds_(count|sum)\{generation="(\d)"\} (\S+)')


def activity_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What happened during a run: each counter's change (full collections: how many, and
    their mean pause)."""
    changed = {key: after[key] - before.get(key, 0.0) for key in after}
    if changed.get("gc2_count"):
        changed["gc2_mean_ms"] = changed["gc2_ms"] / changed["gc2_count"]
    return changed


def per_request(result: dict[str, float]) -> dict[str, float]:
    """CPU milliseconds per answered request of the server, PostgreSQL and the load
    generator, and requests per commit (the group commit's batches)."""
    requests = result.get("requests") or 1.0
    derived = {
        f"{who}_cpu_ms_per_req": result[f"{who}_cpu_s"] * 1000 / requests
        for who in ("server", "pg", "client")
        if f"{who}_cpu_s" in result
    }
    if result.get("commits"):
        derived["requests_per_commit"] = requests / result["commits"]
    return derived
