"""Checks that the ledger and every worker's graph agree with the database after a fault."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx

from rujuk.db.pool import connect, create_pool
from rujuk.graph import GraphStore
from rujuk.ids import local_id
from tests.ledger import dangling_references, event_log_gaps, unbalanced_rewards

STATS = "stats { directReferrals qualifiedReferrals networkSize networkRevenue }"

Figures = dict[str, tuple[int, int, int, Decimal]]


async def assert_ledger_sound(database_url: str) -> None:
    """No dangling reference, every reward equal to its entries, no gap in the event log."""
    conn = await connect(database_url)
    try:
        dangling = await dangling_references(conn)
        unbalanced = await unbalanced_rewards(conn)
        gaps = await event_log_gaps(conn)
    finally:
        await conn.close()
    assert dangling == dict.fromkeys(dangling, 0)
    assert unbalanced == 0
    assert gaps == []


async def loaded_figures(database_url: str, program: str) -> Figures:
    """Every live customer's graph figures, from a graph loaded afresh from the database."""
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        store = GraphStore(pool)
        await store.load()
    finally:
        await pool.close()
    pid = local_id(program, "Program")
    assert pid is not None
    graph = store.graph(pid)
    return {
        m.external_id: (
            graph.direct_referrals(m.id),
            m.qualified_referrals,
            m.network_size,
            m.network_revenue,
        )
        for m in graph.members.values()
        if not m.erased
    }


async def served_figures(base: str, token: str, program: str, external_ids: list[str]) -> Figures:
    """The same figures as one worker of the server answers them (a new connection each
    call, so that repeated calls reach every worker)."""
    fields = "\n".join(
        f'c{i}: customer(programId: $p, externalId: "{e}") {{ externalId {STATS} }}'
        for i, e in enumerate(external_ids)
    )
    query = f"query($p: ID!) {{ {fields} }}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": {"p": program}},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    figures: Figures = {}
    for found in body["data"].values():
        s = found["stats"]
        figures[found["externalId"]] = (
            s["directReferrals"],
            s["qualifiedReferrals"],
            s["networkSize"],
            Decimal(s["networkRevenue"]),
        )
    return figures


async def assert_graphs_match_database(
    base: str, token: str, database_url: str, program: str, asks: int = 8
) -> None:
    """Every answer of the server (asked `asks` times over new connections) shows the graph
    loaded afresh from the database; a worker gets a few seconds to apply the last events."""
    expected = await loaded_figures(database_url, program)
    names = sorted(expected)
    loop = asyncio.get_running_loop()
    for _ in range(asks):
        deadline = loop.time() + 5
        while (served := await served_figures(base, token, program, names)) != expected:
            assert loop.time() < deadline, _difference(expected, served)
            await asyncio.sleep(0.1)


def _difference(expected: Figures, served: Figures) -> str:
    wrong = {k: (expected.get(k), served.get(k)) for k in expected if expected[k] != served.get(k)}
    return f"served figures differ from the database (expected, served): {wrong}"
