"""Rule changes across workers and restarts, and updates racing with purchases: every
purchase is priced wholly under one version of the rules, the one it records."""

from __future__ import annotations

import asyncio
import itertools
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import httpx

from rujuk.db.pool import connect
from rujuk.ids import local_id
from tests.fixtures import chain
from tests.graphql_client import GraphQLClient
from tests.servers import running_server
from tests.test_engine_restart import worker
from tests.test_program_rules import buy, create, paid, read, updated

C = "REFERRER_COMMISSION"
SERVER_TOKEN = "program-rules-admin-token-0123456789"


def rates(version: int) -> list[str]:
    """Version k's two level rates: both move at every version, so a purchase priced with
    one level of one version and the other of another shows."""
    return [f"{Decimal(version) / 100:f}", f"{Decimal(version) / 1000:f}"]


def tiers(version: int) -> list[dict[str, Any]]:
    return [{"name": "A", "levelRates": rates(version)}]


def expected(version: int, amount: str) -> list[tuple[str, str, int, str]]:
    """What c2's purchase pays under version k: c1 at level 1, c0 at level 2."""
    one, two = (Decimal(r) for r in rates(version))
    whole = Decimal(amount)
    return [
        ("c1", C, 1, str((whole * one).quantize(Decimal(1), ROUND_DOWN))),
        ("c0", C, 2, str((whole * two).quantize(Decimal(1), ROUND_DOWN))),
    ]


async def test_a_rule_change_on_one_worker_prices_the_next_purchase_on_another(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        worker(database_url, tmp_path / "a") as a,
        worker(database_url, tmp_path / "b") as b,
    ):
        program = await create(a, tiers=tiers(1), maxPayoutRate="1")
        pid = program["id"]
        await chain(a, pid, 3)
        assert paid(await buy(b, pid, "c2", "o1", "100000")) == expected(1, "100000")
        for version, order in [(2, "o2"), (3, "o3"), (4, "o4")]:
            assert (await updated(a, pid, tiers=tiers(version)))["rulesVersion"] == version
            # At once, on the other worker: it may not have heard of the change yet.
            payload = await buy(b, pid, "c2", order, "100000")
            assert payload["purchase"]["rulesVersion"] == version
            assert paid(payload) == expected(version, "100000")
        paused = await updated(b, pid, active=False)
        assert paused["rulesVersion"] == 5
        payload = await buy(a, pid, "c2", "o5", "100000")
        assert (payload["purchase"]["eligible"], payload["rewards"]) == (False, [])
        assert await read(a, pid) == await read(b, pid) == paused

    # After a restart the rules in force are the last version's.
    async with worker(database_url, tmp_path / "c") as c:
        assert await read(c, pid) == paused
        await updated(c, pid, active=True)
        payload = await buy(c, pid, "c2", "o6", "100000")
        assert payload["purchase"]["rulesVersion"] == 6
        assert paid(payload) == expected(4, "100000")
        # The purchases before the restart kept their versions.
        for order, version in [("o1", 1), ("o3", 3), ("o5", 5)]:
            replay = await buy(c, pid, "c2", order, "100000")
            assert replay["purchase"]["rulesVersion"] == version


async def test_updates_racing_with_purchases_price_each_purchase_under_one_version(
    database_url: str, tmp_path: Path
) -> None:
    """Updates on worker A while both workers record purchases: each purchase pays exactly
    what the version it records prescribes, and every version an update made is one of
    the versions in order."""
    async with (
        worker(database_url, tmp_path / "a") as a,
        worker(database_url, tmp_path / "b") as b,
    ):
        program = await create(a, tiers=tiers(1), maxPayoutRate="1")
        pid = program["id"]
        await chain(a, pid, 3)
        versions_made: list[int] = []

        async def change_rules() -> None:
            for version in range(2, 22):
                after = await updated(a, pid, tiers=tiers(version))
                versions_made.append(after["rulesVersion"])
                assert after["tiers"][0]["levelRates"] == rates(version)
                await asyncio.sleep(0)

        async def purchase(n: int) -> dict[str, Any]:
            # Spread over the updates' time rather than all in the first batch.
            await asyncio.sleep(n * 0.004)
            gql = (a, b)[n % 2]
            return await buy(gql, pid, "c2", f"race-{n}", str(10_000 + 7 * n))

        outcomes = await asyncio.gather(change_rules(), *(purchase(n) for n in range(120)))
        assert versions_made == list(range(2, 22))
        seen = set()
        for n, payload in enumerate(outcomes[1:]):
            version = payload["purchase"]["rulesVersion"]
            seen.add(version)
            assert paid(payload) == expected(version, str(10_000 + 7 * n)), (n, version)
        # The race did happen: purchases were priced under several versions.
        assert len(seen) >= 2, seen
    await assert_priced_under_the_rules_in_force(database_url, pid)


async def assert_priced_under_the_rules_in_force(database_url: str, program_id: str) -> None:
    """Each purchase's rules version is the one in force at its place in the program's
    event log (rule changes and purchases are numbered there in commit order)."""
    local = local_id(program_id, "Program")
    conn = await connect(database_url)
    try:
        log = await conn.fetch(
            """SELECT e.kind, e.payload, p.rules_version
               FROM graph_event e
               LEFT JOIN purchase p ON e.kind = 'purchase_recorded'
                                   AND p.id = (e.payload ->> 'purchase_id')::bigint
               WHERE e.program_id = $1 ORDER BY e.version""",
            local,
        )
    finally:
        await conn.close()
    in_force, purchases = 1, 0
    for entry in log:
        if entry["kind"] == "program_updated":
            assert entry["payload"]["rules_version"] == in_force + 1
            in_force += 1
        elif entry["kind"] == "purchase_recorded":
            purchases += 1
            assert entry["rules_version"] == in_force, (purchases, in_force)
    assert purchases > 0


async def test_rule_changes_across_rujuk_serve_workers_and_a_restart(
    database_url: str, tmp_path: Path
) -> None:
    """`rujuk serve --workers 2`, a new connection per request (the kernel hands each to
    either worker): after each update every purchase is priced under it."""
    limits = httpx.Limits(max_keepalive_connections=0)
    orders = (f"o{n}" for n in itertools.count())
    async with (
        running_server(database_url, SERVER_TOKEN, tmp_path, workers=2) as base,
        httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http,
    ):
        gql = GraphQLClient(http, SERVER_TOKEN)
        program = await create(gql, tiers=tiers(1), maxPayoutRate="1")
        pid = program["id"]
        await chain(gql, pid, 3)
        workers = set()
        for version in range(2, 6):
            assert (await updated(gql, pid, tiers=tiers(version)))["rulesVersion"] == version
            for _ in range(8):
                payload = await buy(gql, pid, "c2", next(orders), "50000")
                assert payload["purchase"]["rulesVersion"] == version
                assert paid(payload) == expected(version, "50000")
                workers.add((await http.get("/healthz")).json()["worker"])
        assert len(workers) == 2  # both workers answered along the way
        last = await read(gql, pid)
    await assert_priced_under_the_rules_in_force(database_url, pid)
    async with (
        running_server(database_url, SERVER_TOKEN, tmp_path, workers=2) as base,
        httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http,
    ):
        gql = GraphQLClient(http, SERVER_TOKEN)
        assert await read(gql, pid) == last
        for _ in range(6):
            payload = await buy(gql, pid, "c2", next(orders), "50000")
            assert payload["purchase"]["rulesVersion"] == 5
            assert paid(payload) == expected(5, "50000")
