"""Webhook figures: recordPurchase throughput with 3 endpoints subscribed to every event
against the same server's without endpoints, and the delivery lag (commit to receiver) at a
fixed rate of purchases, all against a local receiver in its own process (bench.receiver).

Beside them, what a POST costs rujuk's HTTP client alone (bench.post_cost, against the same
receiver) and the CPU per delivery that the throughput target leaves.

One `rujuk serve` (one worker) runs the phases in this order, each after a warm-up of the
same load: closed loop without endpoints, closed loop with 3 endpoints, the fixed rate with
them, and closed loop without them again (the endpoints deleted); the throughput baseline
is the better of the two runs without. Between phases the deliveries are left to drain, so
that one phase's backlog is not the next one's load, and the backlog each phase leaves is
reported: a throughput bought by delivering later would show there.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bench import servers
from bench.inprocess import Figure
from bench.seed import Seeded
from rujuk import ids
from rujuk.services.webhook_events import EVENT_TYPES

ENDPOINTS = 3
RATE = 1000.0
THROUGHPUT_TARGET = 0.85
LAG_TARGET_SECONDS = 1.0
# The longest wait for the deliveries of a phase to drain before the next phase.
DRAIN_LIMIT = 120.0
WARM_UP = 10.0

CREATE = """mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) {
  webhookEndpoint { id } userErrors { code message } } }"""
DELETE = """mutation($id: ID!) { deleteWebhookEndpoint(input: {id: $id}) {
  deletedId userErrors { code message } } }"""


def figures(url: str, seeded: Seeded, duration: float, logs: Path, out: list[str]) -> list[Figure]:
    """Measure both webhook figures on the seeded database (notes appended to out)."""
    program = ids.to_global_id("Program", seeded.program_id)
    externals = ["x"] * seeded.customers
    receiver_port = servers.free_port()
    receiver = servers.spawn(
        [sys.executable, "-m", "bench.receiver", "--port", str(receiver_port)],
        {},
        logs / "receiver.log",
    )
    port = servers.free_port()
    env = {
        "DATABASE_URL": url,
        "RUJUK_LOG_LEVEL": "WARNING",
        "RUJUK_WEBHOOKS_ALLOW_PRIVATE": "1",
    }
    process = servers.spawn(
        [str(servers.BIN / "rujuk"), "serve", "--port", str(port), "--workers", "1"],
        env,
        logs / "rujuk-webhooks.log",
    )
    try:
        servers.wait_healthy(port, process, time.perf_counter(), 300)
        servers.wait_workers_loaded(url, 1, time.perf_counter(), 300)

        meter = CpuMeter(
            {"server": process.pid, "receiver": receiver.pid}, urlsplit(url).path.strip("/")
        )

        def closed(run: str) -> dict[str, float]:
            started = meter.read()
            purchases = 0.0
            for name, seconds in ((f"{run}-warm", WARM_UP), (run, duration)):
                result = servers.load(
                    "graphql-purchase",
                    port,
                    "/graphql",
                    externals,
                    name,
                    program=program,
                    token=seeded.partner_token,
                    duration=seconds,
                )
                purchases += result["requests"]
            result["purchases"] = purchases
            backlog = _pending(url)
            drained = _drain(url)
            _note(
                out,
                f"webhooks {run}: {_summary(result)}; deliveries pending at its end {backlog:,}"
                f", drained in {drained:.1f} s; CPU per purchase (warm-up to drained) "
                + meter.per(started, purchases),
            )
            result["cpu_us"] = sum(meter.last.values())
            return result

        before = closed("wh-none-1")
        endpoints = [
            _create(port, seeded.partner_token, program, f"{_receiver_url(receiver_port)}/{k}")
            for k in range(ENDPOINTS)
        ]
        made_before = _deliveries(url)
        with_endpoints = closed("wh-three")
        # Over the warm-up and the window, as the CPU per purchase is counted.
        per_purchase = (_deliveries(url) - made_before) / with_endpoints["purchases"]
        updates = _query(
            url,
            """SELECT format('%s of %s updates in place (HOT)', n_tup_hot_upd, n_tup_upd)
               FROM pg_stat_user_tables WHERE relname = 'webhook_delivery'""",
        )
        _note(out, f"webhook_delivery after wh-three: {updates}")
        paced = _paced(port, program, seeded, "wh-paced-warm", RATE, WARM_UP)
        _drain(url)
        started = meter.read()
        paced = _paced(port, program, seeded, "wh-paced", RATE, duration)
        backlog = _pending(url)
        drained = _drain(url)
        cpu = meter.per(started, paced["requests"])
        lag = _receiver_stats(receiver_port, paced["started"], paced["ended"])
        made = _deliveries(url)
        _note(
            out,
            f"webhooks at {RATE:g} purchases/s: {_summary(paced)}; pending at its end "
            f"{backlog:,}, drained in {drained:.1f} s; {lag['in_window']:,.0f} deliveries "
            f"of its events received, lag p50 {lag['p50'] * 1000:.0f} ms, "
            f"p99 {lag['p99'] * 1000:.0f} ms, max {lag['max'] * 1000:.0f} ms; "
            f"{lag['requests']:,.0f} requests in all, {lag['distinct']:,.0f} distinct "
            f"deliveries received of {made:,} made; CPU per purchase (to drained) {cpu}",
        )
        for endpoint in endpoints:
            _graphql(port, seeded.partner_token, DELETE, {"id": endpoint})
        after = closed("wh-none-2")
        # Less noisy than req/s on a shared machine: what a purchase costs the server, the
        # receiver and the database together, without endpoints and with them.
        without = min(before["cpu_us"], after["cpu_us"])
        _note(
            out,
            f"webhooks CPU per purchase: {without:,.0f} us without endpoints, "
            f"{with_endpoints['cpu_us']:,.0f} us with {ENDPOINTS} "
            f"(ratio {without / with_endpoints['cpu_us']:.2f}; wrk's own not counted)",
        )
        # What the target leaves each delivery of the machine's CPU (server, receiver and
        # database together), against what a POST costs rujuk's HTTP client alone.
        budget = without * (1 / THROUGHPUT_TARGET - 1) / per_purchase
        post = _post_cost(receiver_port)
        _note(
            out,
            f"webhooks: {per_purchase:.2f} deliveries per purchase; the {THROUGHPUT_TARGET:g}"
            f" target leaves each {budget:,.0f} us of CPU; a POST costs rujuk's client alone "
            f"{post['cpu_us_per_post']:,.0f} us ({post['posts']:,.0f} POSTs, bench.post_cost)",
        )
    finally:
        servers.stop(process)
        servers.stop(receiver)
    baseline = max(before, after, key=lambda r: r["rps"])
    # A delivery never received is as late as can be.
    p99 = lag["p99"] if lag["distinct"] >= made else float("inf")
    return [
        Figure(
            f"recordPurchase with {ENDPOINTS} webhook endpoints, req/s",
            with_endpoints["rps"],
            "/s",
            "req/s without endpoints",
            baseline["rps"],
            THROUGHPUT_TARGET,
            rule="ratio_at_least",
        ),
        Figure(
            "webhook POST, rujuk's client alone, CPU",
            post["cpu_us_per_post"],
            "us",
            f"CPU per delivery the {THROUGHPUT_TARGET:g} target leaves",
            budget,
            None,
        ),
        Figure(
            f"webhook delivery lag p99 at {RATE:g}/s",
            p99,
            "s",
            f"recordPurchase p99 at {RATE:g}/s",
            paced["p99_ms"] / 1000,
            LAG_TARGET_SECONDS,
        ),
    ]


class CpuMeter:
    """CPU time used by the server, the receiver and the database's backends serving the
    bench's database (from /proc; Linux only): where a purchase's cost goes."""

    def __init__(self, roots: dict[str, int], database: str) -> None:
        self._roots = roots
        self._database = database
        self.last: dict[str, float] = {}

    def read(self) -> dict[str, float]:
        """Seconds of CPU used so far by each part (processes that ended are not counted)."""
        stats: dict[int, tuple[int, float]] = {}
        commands: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                commands[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().decode(errors="replace")
                )
            except OSError:
                continue
            ticks = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            stats[int(entry.name)] = (int(fields[1]), ticks)
        found = dict.fromkeys(self._roots, 0.0)
        found["postgres"] = 0.0
        for pid, (_, ticks) in stats.items():
            if commands[pid].startswith("postgres: ") and f" {self._database} " in commands[pid]:
                found["postgres"] += ticks
                continue
            up = pid
            while up in stats:
                part = next((k for k, root in self._roots.items() if root == up), None)
                if part is not None:
                    found[part] += ticks
                    break
                up = stats[up][0]
        return found

    def per(self, started: dict[str, float], purchases: float) -> str:
        """Microseconds of CPU per purchase since `started`, by part (kept in `last`)."""
        now = self.read()
        self.last = {part: (now[part] - started[part]) / max(purchases, 1) * 1e6 for part in now}
        return ", ".join(f"{part} {us:,.0f} us" for part, us in self.last.items())


def _note(out: list[str], line: str) -> None:
    out.append(line)
    print(line, flush=True)


def _summary(result: dict[str, float]) -> str:
    return (
        f"{result['rps']:.0f} req/s, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms,"
        f" {result['errors']:.0f} errors"
    )


def _receiver_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/hook"


def _graphql(port: int, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST",
            "/graphql",
            json.dumps({"query": query, "variables": variables}).encode(),
            {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        payload = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL failed: {payload['errors']}")
    data: dict[str, Any] = payload["data"]
    return data


def _create(port: int, token: str, program: str, url: str) -> str:
    data = _graphql(
        port,
        token,
        CREATE,
        {"i": {"programId": program, "url": url, "eventTypes": list(EVENT_TYPES)}},
    )["createWebhookEndpoint"]
    if data["userErrors"]:
        raise RuntimeError(f"createWebhookEndpoint: {data['userErrors']}")
    endpoint: str = data["webhookEndpoint"]["id"]
    return endpoint


def _paced(
    port: int, program: str, seeded: Seeded, run: str, rate: float, duration: float
) -> dict[str, float]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.paced",
            "--port",
            str(port),
            "--program",
            program,
            "--token",
            seeded.partner_token,
            "--customers",
            str(seeded.customers),
            "--run",
            run,
            "--rate",
            str(rate),
            "--duration",
            str(duration),
        ],
        cwd=servers.ROOT,
        capture_output=True,
        text=True,
        timeout=duration + 300,
        check=True,
    )
    summary: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


def _post_cost(port: int) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.post_cost", "--port", str(port), "--seconds", "10"],
        cwd=servers.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    cost: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return cost


def _receiver_stats(port: int, since: float, until: float) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", f"/stats?since={since}&until={until}")
        stats: dict[str, float] = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    return stats


def _query(url: str, sql: str, *args: object) -> Any:
    async def run() -> Any:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def _pending(url: str) -> int:
    count: int = _query(url, "SELECT count(*) FROM webhook_delivery WHERE status = 'PENDING'")
    return count


def _deliveries(url: str) -> int:
    """Deliveries made so far (every endpoint is the receiver's)."""
    count: int = _query(url, "SELECT count(*) FROM webhook_delivery")
    return count


def _drain(url: str) -> float:
    """Seconds until no delivery is pending (at most DRAIN_LIMIT)."""
    started = time.perf_counter()
    while _pending(url) and time.perf_counter() - started < DRAIN_LIMIT:
        time.sleep(0.5)
    return time.perf_counter() - started
