"""CPU per recordPurchase with every reward rule of contract v2 on, against the same
program shape with them off, in one process (`python -m bench.rules_cpu`).

The app runs in this process behind httpx.ASGITransport on a throw-away embedded
PostgreSQL (fsync off), so the process's CPU time is the server's work per purchase plus
the client's, which is the same for both programs. Two programs: "off" (rates only) and
"on" (a monthly cap per referrer, a commission window, a purchase limit, a minimum
purchase, milestones and flat level amounts), each a chain of CHAIN customers. Rounds
alternate between them so that the machine's load hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.database import bench_server, fresh_database
from rujuk.app import create_app
from rujuk.config import Settings
from rujuk.database import drop_database

TOKEN = "bench-admin-token-0123456789"
CHAIN = 50
TIERS: list[dict[str, Any]] = [
    {"name": "Bronze", "levelRates": ["0.05", "0.03", "0.02", "0.01"]},
    {
        "name": "Silver",
        "minQualifiedReferrals": 2,
        "minNetworkRevenue": "0",
        "levelRates": ["0.07", "0.04", "0.02", "0.01"],
    },
]
RULES_OFF: dict[str, Any] = {
    "currency": "IDR",
    "tiers": TIERS,
    "maxPayoutRate": "0.15",
    "refereeReward": "5000",
    "holdDays": 14,
}
RULES_ON: dict[str, Any] = {
    **RULES_OFF,
    "tiers": [{**t, "levelAmounts": ["1000", "500", "0", "100"]} for t in TIERS],
    "timeZone": "Asia/Jakarta",
    "minPurchaseAmount": "1000",
    "commissionWindowDays": 36500,
    "commissionPurchaseLimit": 1_000_000_000,
    "monthlyCapPerReferrer": "1000000000",
    "milestones": [
        {"qualifiedReferrals": 1, "reward": "10000"},
        {"qualifiedReferrals": 3, "reward": "30000"},
    ],
}
CREATE = """mutation($input: CreateProgramInput!) {
  createProgram(input: $input) { program { id } userErrors { code field message } } }"""
REGISTER = """mutation($input: RegisterCustomerInput!) {
  registerCustomer(input: $input) { customer { referralCodes { code } } userErrors { code } } }"""
RECORD = """mutation($input: RecordPurchaseInput!) {
  recordPurchase(input: $input) {
    purchase { id } rewards { kind level amount } userErrors { code } } }"""


async def gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> Any:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def program(client: httpx.AsyncClient, name: str, rules: dict[str, Any]) -> str:
    """A program whose customers c0 <- c1 <- ... form one chain."""
    data = await gql(client, CREATE, {"input": {"name": name, **rules}})
    payload = data["createProgram"]
    assert payload["userErrors"] == [], payload
    pid: str = payload["program"]["id"]
    code = None
    for i in range(CHAIN):
        registered = await gql(
            client,
            REGISTER,
            {
                "input": {
                    "programId": pid,
                    "externalId": f"c{i}",
                    "displayName": f"Customer {i}",
                    "referralCode": code,
                }
            },
        )
        code = registered["registerCustomer"]["customer"]["referralCodes"][0]["code"]
    return pid


async def purchases(client: httpx.AsyncClient, pid: str, tag: str, count: int) -> float:
    """CPU seconds of this process for `count` purchases by customers down the chain."""
    picks = random.Random(tag)
    started = time.process_time()
    for i in range(count):
        who = CHAIN - 1 - min(picks.randrange(CHAIN), picks.randrange(CHAIN))
        amount = str(picks.randrange(5_000, 2_000_000))
        data = await gql(
            client,
            RECORD,
            {
                "input": {
                    "programId": pid,
                    "customerExternalId": f"c{who}",
                    "orderId": f"{tag}-{i}",
                    "amount": amount,
                }
            },
        )
        assert data["recordPurchase"]["userErrors"] == [], data
    return time.process_time() - started


async def run(server_url: str, warmup: int, count: int, rounds: int) -> None:
    url = await fresh_database(server_url)
    try:
        with tempfile.TemporaryDirectory(prefix="rujuk-rules-cpu-") as folder:
            settings = Settings(
                database_url=url,
                data_dir=Path(folder),
                admin_token=TOKEN,
                log_level="WARNING",
                max_query_cost=50_000,
                rate_limit_cost_per_minute=1_000_000_000,
                max_body_bytes=1024 * 1024,
            )
            app = create_app(settings, url)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                    programs = {
                        "off": await program(client, "Rules off", RULES_OFF),
                        "on": await program(client, "Rules on", RULES_ON),
                    }
                    for name, pid in programs.items():
                        await purchases(client, pid, f"warm-{name}", warmup)
                    per: dict[str, list[float]] = {"off": [], "on": []}
                    for r in range(rounds):
                        order = ["off", "on"] if r % 2 == 0 else ["on", "off"]
                        for name in order:
                            cpu = await purchases(client, programs[name], f"{name}-{r}", count)
                            per[name].append(cpu / count * 1e6)
                            print(f"round {r} {name}: {per[name][-1]:.0f} µs CPU per purchase")
    finally:
        await drop_database(server_url, url)
    off, on = statistics.mean(per["off"]), statistics.mean(per["on"])
    print(
        f"mean CPU per purchase: off {off:.0f} µs, on {on:.0f} µs;"
        f" throughput on/off (CPU-bound) {off / on:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with bench_server() as server_url:
        asyncio.run(run(server_url, args.warmup, args.count, args.rounds))


if __name__ == "__main__":
    main()
