"""`python -m bench.dashboard_cost`: what one customer dashboard (bench/dashboard.graphql)
costs the server, measured in process: SQL statements, pool acquires, CPU and its profile.

The app runs in this process on its own embedded PostgreSQL (or RUJUK_BENCH_DATABASE_URL),
behind httpx's ASGI transport, with a small world made through GraphQL: a viewer with a
referrer, 12 referees and 12 rewards (each of the dashboard's pages is full). Every pooled
connection logs its statements (asyncpg's query logger) and the pool counts its acquires;
the background work that uses the pool (webhook polls, the graphs' version check) is off.
Counted per dashboard, the token's lookup once with the caller cache cold and once warm;
CPU per dashboard (this process: the server's work plus httpx's, which `{ __typename }`
with the same token measures alone) over --requests dashboards, --concurrency at a time;
and, with --profile, cProfile's own time per part of the request (bench/profile.py's parts).
Run against another checkout with PYTHONPATH=OTHER/src:OTHER to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

import rujuk.db.pool as pool_module
import rujuk.graph.replicator as replicator
from bench.database import bench_server, fresh_database
from bench.profile import PARTS
from rujuk.app import create_app
from rujuk.config import Settings
from rujuk.database import drop_database

DASHBOARD = (Path(__file__).resolve().parent / "dashboard.graphql").read_text()
TYPENAME = "{ __typename }"
ADMIN = "bench-admin-token-0123456789"
REFEREES = 12

PROGRAM = """mutation($i: CreateProgramInput!) { createProgram(input: $i) {
  program { id } userErrors { code } } }"""
REGISTER = """mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) {
  customer { id referralCodes { code } } userErrors { code } } }"""
PURCHASE = """mutation($i: RecordPurchaseInput!) { recordPurchase(input: $i) {
  rewards { amount } userErrors { code } } }"""
ISSUE = """mutation($id: ID!) { issueCustomerToken(input: {customerId: $id}) { token } }"""


class Client:
    """POSTs GraphQL to the in-process app with a token."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        body: dict[str, Any] = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"{query[:40]!r}: {body}")
        return body


async def _world(admin: Client) -> str:
    """The viewer's CUSTOMER token: referred by one customer, referrer of REFEREES who
    each bought once (a commission for the viewer each)."""
    program = (
        await admin.post(
            PROGRAM,
            {"i": {"name": "Dashboard", "tiers": [{"name": "Bronze", "levelRates": ["0.1"]}]}},
        )
    )["data"]["createProgram"]["program"]["id"]

    async def register(external: str, code: str | None) -> dict[str, Any]:
        body = await admin.post(
            REGISTER,
            {
                "i": {
                    "programId": program,
                    "externalId": external,
                    "displayName": f"Customer {external}",
                    "referralCode": code,
                }
            },
        )
        customer: dict[str, Any] = body["data"]["registerCustomer"]["customer"]
        return customer

    top = await register("top", None)
    viewer = await register("viewer", top["referralCodes"][0]["code"])
    for k in range(REFEREES):
        await register(f"r{k}", viewer["referralCodes"][0]["code"])
        await admin.post(
            PURCHASE,
            {
                "i": {
                    "programId": program,
                    "customerExternalId": f"r{k}",
                    "orderId": f"o{k}",
                    "amount": "100000",
                }
            },
        )
    token: str = (await admin.post(ISSUE, {"id": viewer["id"]}))["data"]["issueCustomerToken"][
        "token"
    ]
    return token


async def _cpu_per_request(
    send: Callable[[], Awaitable[Any]], requests: int, concurrency: int
) -> float:
    """This process's CPU seconds per request, `concurrency` requests in flight."""
    started = time.process_time()
    for _ in range(requests // concurrency):
        await asyncio.gather(*(send() for _ in range(concurrency)))
    return (time.process_time() - started) / (requests // concurrency * concurrency)


def _parts(profile: cProfile.Profile) -> tuple[Counter[str], float]:
    """Own time per part of the request (a function's file and name matched as py-spy's
    frames are), and the total."""
    stats = pstats.Stats(profile)
    parts: Counter[str] = Counter()
    total = 0.0
    for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]
        total += own
        frame = f"{name} ({filename})"
        part = next((p for p, pattern in PARTS if pattern.search(frame)), None)
        parts[part or "other (builtins, stdlib, httpx client)"] += own
    return parts, total


async def measure(
    url: str, requests: int, concurrency: int, profile: bool, dump: Path | None = None
) -> list[str]:
    statements: list[str] = []
    original_init = pool_module.init_connection

    async def logging_init(conn: Any) -> None:
        await original_init(conn)
        conn.add_query_logger(lambda record: statements.append(record.query))

    pool_module.init_connection = logging_init
    # Nothing else on the pool meanwhile: the replicator's check of the graphs' versions
    # (every 5 s) waits an hour, and the webhook dispatcher (polls) is stopped below.
    replicator.LISTENER_CHECK_INTERVAL = 3600.0
    out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="rujuk-dashboard-") as folder:
        settings = Settings(
            database_url=url,
            data_dir=Path(folder),
            admin_token=ADMIN,
            log_level="WARNING",
            rate_limit_cost_per_minute=10**9,
        )
        app = create_app(settings, url)
        async with app.router.lifespan_context(app):
            runtime = app.state.runtime
            await runtime.webhooks.close()
            acquires = [0]
            acquire = runtime.pool.acquire

            def counting_acquire() -> Any:
                acquires[0] += 1
                return acquire()

            runtime.pool.acquire = counting_acquire
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                me = Client(http, await _world(Client(http, ADMIN)))

                async def dashboard() -> None:
                    await me.post(DASHBOARD)

                async def trivial() -> None:
                    await me.post(TYPENAME)

                # Each connection's first statements (types, settings) are not the dashboard's.
                await _cpu_per_request(dashboard, 64, concurrency)
                for cold in (False, True):
                    if cold:
                        runtime.callers.clear()
                    statements.clear()
                    acquires[0] = 0
                    await dashboard()
                    out.append(
                        f"one dashboard, caller cache {'cold' if cold else 'warm'}: "
                        f"{len(statements)} statements, {acquires[0]} pool acquires"
                    )
                    out.extend(f"    {' '.join(s.split())[:110]}" for s in statements)
                for _ in range(3):
                    await _cpu_per_request(dashboard, requests // 4, concurrency)  # warm-up
                    per_dashboard = await _cpu_per_request(dashboard, requests, concurrency)
                    per_trivial = await _cpu_per_request(trivial, requests, concurrency)
                    out.append(
                        f"CPU per dashboard {per_dashboard * 1e3:.3f} ms, per "
                        f"{{ __typename }} {per_trivial * 1e3:.3f} ms, difference "
                        f"{(per_dashboard - per_trivial) * 1e3:.3f} ms "
                        f"({requests} each, {concurrency} at a time)"
                    )
                if profile:
                    profiler = cProfile.Profile()
                    profiler.enable()
                    await _cpu_per_request(dashboard, requests, concurrency)
                    profiler.disable()
                    if dump is not None:
                        profiler.dump_stats(dump)
                    parts, total = _parts(profiler)
                    calls = pstats.Stats(profiler).total_calls  # type: ignore[attr-defined]
                    out.append(
                        f"cProfile, own time of {requests} dashboards: {total:.2f} s (wall), "
                        f"{calls / requests:.0f} Python function calls per dashboard"
                    )
                    out.extend(
                        f"  {100 * t / total:5.1f} %  {name}" for name, t in parts.most_common()
                    )
    return out


async def _run(args: argparse.Namespace) -> None:
    with bench_server() as server:
        url = await fresh_database(server)
        try:
            lines = await measure(
                url,
                args.requests,
                args.concurrency,
                args.profile or args.dump is not None,
                args.dump,
            )
        finally:
            await drop_database(server, url)
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard_cost")
    parser.add_argument("--requests", type=int, default=800, help="dashboards per CPU figure")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", action="store_true", help="also a cProfile breakdown")
    parser.add_argument("--dump", type=Path, help="and save cProfile's statistics there")
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
