"""A soak (issue 15): mixed reads and writes against `rujuk serve --workers 2` on a large
program; no error response, and each worker's memory flat after warm-up.

`make test` runs a short version; `make test-long` the full one: 100,000 customers for
RUJUK_SOAK_SECONDS (default 300) seconds.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.seed import seed

from rujuk import ids
from tests.fixtures import REGISTER
from tests.ledger import RECORD, REFUND
from tests.reliability.embedded import ADMIN, Serve, start_serve
from tests.servers import server_environment

CUSTOMER = """
query($p: ID!, $e: String!) {
  customer(programId: $p, externalId: $e) {
    stats { directReferrals networkSize networkRevenue tier depth }
    balance { pending approved reversed }
    ancestors(maxDepth: 5) { externalId }
    downline(maxDepth: 2, first: 20) { totalCount edges { node { externalId } } }
  }
}"""
LEADERBOARD = """
query($p: ID!) { leaderboard(programId: $p, metric: PAGERANK, first: 10) {
  rank score customer { externalId } } }"""
STATS = "query($p: ID!) { program(id: $p) { stats { customers revenue rewardCost kFactor } } }"
CODES = """
query($p: ID!, $e: String!) {
  customer(programId: $p, externalId: $e) { referralCodes { code } }
}"""
CONCURRENCY = 8
SAMPLE_SECONDS = 2.0

pytestmark = pytest.mark.reliability


@dataclass
class Soak:
    """What the load saw."""

    program_id: str
    external_ids: list[str]
    codes: list[str]
    rng: random.Random = field(default_factory=lambda: random.Random(15))
    requests: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    orders: list[tuple[str, str]] = field(default_factory=list)
    counter: int = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"soak-{prefix}-{self.counter}"


async def one_request(client: httpx.AsyncClient, soak: Soak) -> None:
    """One operation of the mix: half reads, half writes."""
    p = soak.program_id
    roll = soak.rng.random()
    mutation: str | None = None
    if roll < 0.35:
        kind, query = "recordPurchase", RECORD
        order = soak.next_id("order")
        amount = str(soak.rng.randrange(10_000, 2_000_000, 1_000))
        customer = soak.rng.choice(soak.external_ids)
        variables: dict[str, Any] = {
            "input": {
                "programId": p,
                "customerExternalId": customer,
                "orderId": order,
                "amount": amount,
            }
        }
        mutation = kind
    elif roll < 0.40 and soak.orders:
        kind, query = "refundPurchase", REFUND
        order, amount = soak.orders.pop(soak.rng.randrange(len(soak.orders)))
        refund = str(Decimal(amount) / 2)
        refund_id = soak.next_id("refund")
        variables = {
            "input": {"programId": p, "orderId": order, "refundId": refund_id, "amount": refund}
        }
        mutation = kind
    elif roll < 0.50:
        kind, query = "registerCustomer", REGISTER
        external = soak.next_id("customer")
        variables = {
            "input": {
                "programId": p,
                "externalId": external,
                "displayName": f"Soak {external}",
                "referralCode": soak.rng.choice(soak.codes),
            }
        }
        mutation = kind
    elif roll < 0.85:
        kind, query = "customer", CUSTOMER
        variables = {"p": p, "e": soak.rng.choice(soak.external_ids)}
    elif roll < 0.95:
        kind, query = "leaderboard", LEADERBOARD
        variables = {"p": p}
    else:
        kind, query = "stats", STATS
        variables = {"p": p}
    started = time.monotonic()
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    soak.latencies.append(time.monotonic() - started)
    soak.requests[kind] = soak.requests.get(kind, 0) + 1
    body = response.json() if response.status_code == 200 else None
    if body is None or "errors" in body:
        soak.errors.append(f"{kind} {response.status_code}: {response.text[:300]}")
        return
    if mutation is not None:
        payload = body["data"][mutation]
        if payload["userErrors"]:
            soak.errors.append(f"{kind}: {payload['userErrors']}")
            return
        if mutation == "recordPurchase":
            soak.orders.append((payload["purchase"]["orderId"], payload["purchase"]["amount"]))
        if mutation == "registerCustomer":
            soak.external_ids.append(payload["customer"]["externalId"])


async def load(client: httpx.AsyncClient, soak: Soak, until: float) -> None:
    while time.monotonic() < until:
        await one_request(client, soak)


def worker_rss(serve: Serve) -> dict[int, int]:
    """Each worker's resident memory in bytes (not multiprocessing's resource tracker)."""
    return {
        worker.pid: worker.memory_info().rss
        for worker in serve.workers()
        if "spawn_main" in " ".join(worker.cmdline())
    }


async def run_soak(
    database_url: str, tmp_path: Path, *, customers: int, seconds: float, warm_up: float
) -> None:
    seeded = await seed(database_url, customers, purchases=customers // 3)
    program_id = ids.to_global_id("Program", seeded.program_id)
    environ = server_environment(database_url, ADMIN, tmp_path / "data")
    # The load is one caller: its cost per minute would otherwise be rate limited.
    environ["RUJUK_RATE_LIMIT_COST_PER_MINUTE"] = str(10**9)
    serve = await start_serve(environ, tmp_path / "serve.log", workers=2)
    headers = {"Authorization": f"Bearer {ADMIN}"}
    limits = httpx.Limits(max_connections=CONCURRENCY)
    try:
        await serve.healthy()
        async with httpx.AsyncClient(
            base_url=serve.base, headers=headers, timeout=30, limits=limits
        ) as client:
            sample = seeded.external_ids_sample[:2_000]
            codes = []
            for external in sample[:50]:
                answer = await client.post(
                    "/graphql", json={"query": CODES, "variables": {"p": program_id, "e": external}}
                )
                codes += [c["code"] for c in answer.json()["data"]["customer"]["referralCodes"]]
            soak = Soak(program_id, list(sample), codes)
            start = time.monotonic()
            until = start + seconds
            loaders = [asyncio.create_task(load(client, soak, until)) for _ in range(CONCURRENCY)]
            samples: list[tuple[float, dict[int, int]]] = []
            while not all(task.done() for task in loaders):
                samples.append((time.monotonic() - start, worker_rss(serve)))
                await asyncio.wait(loaders, timeout=SAMPLE_SECONDS)
            for task in loaders:
                task.result()
        assert await serve.stop() == 0, serve.tail()
    finally:
        if serve.process.returncode is None:
            serve.process.kill()
            await serve.process.wait()

    total = sum(soak.requests.values())
    latencies = sorted(soak.latencies)
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(
        f"soak of {customers:,} customers, {seconds:.0f} s: {total:,} requests"
        f" ({total / seconds:.0f}/s, p99 {p99:.0f} ms): {dict(sorted(soak.requests.items()))},"
        f" {len(soak.errors)} error(s)"
    )
    after = [(t, rss) for t, rss in samples if t >= warm_up]
    assert after, "the soak ended before its warm-up did"
    for pid in after[0][1]:
        series = [rss[pid] for _, rss in after if pid in rss]
        print(
            f"worker {pid} RSS after warm-up: first {series[0] / 2**20:.0f} MiB,"
            f" max {max(series) / 2**20:.0f}, last {series[-1] / 2**20:.0f}"
        )
        assert max(series) <= series[0] * 1.10, f"worker {pid} grew: {series}"
    assert soak.errors == []


async def test_soak_short(database_url: str, tmp_path: Path) -> None:
    await run_soak(database_url, tmp_path, customers=3_000, seconds=12, warm_up=4)


@pytest.mark.long
async def test_soak(database_url: str, tmp_path: Path) -> None:
    seconds = float(os.environ.get("RUJUK_SOAK_SECONDS", "300"))
    await run_soak(database_url, tmp_path, customers=100_000, seconds=seconds, warm_up=seconds / 5)
