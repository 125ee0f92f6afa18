"""The bulk load: every program's graph built from one consistent snapshot of the database."""

from __future__ import annotations

import gc
from collections import defaultdict
from decimal import Decimal
from typing import Any

from rujuk import metrics
from rujuk.db import events as event_queries
from rujuk.db import graph_load
from rujuk.db import programs as program_queries
from rujuk.db.pool import Pool
from rujuk.graph.referral_graph import MemberTable, ReferralGraph
from rujuk.records import Program


async def load_graphs(pool: Pool) -> tuple[dict[int, ReferralGraph], dict[int, Program]]:
    """Every program's graph, at its version in the snapshot, and its rules (one worker
    loads at a time: graph_load.lock_load)."""
    # Connections of its own: a load runs for seconds, longer than a pooled statement may,
    # and a task holds one pooled connection at most.
    conn = await pool.connect()
    try:
        helper = await pool.connect()
    except BaseException:
        await conn.close()
        raise
    try:
        await graph_load.lock_load(conn)
        # Millions of small objects: the collector would rescan them over and over (it
        # doubled the load time at 1M customers, the fetch included).
        gc.disable()
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                snapshot = await graph_load.export_snapshot(conn)
                async with helper.transaction(isolation="repeatable_read", readonly=True):
                    await graph_load.share_snapshot(helper, snapshot)
                    versions = await event_queries.graph_versions(conn)
                    programs = await program_queries.list_programs(conn)
                    blocks = await graph_load.members([conn, helper])
                    spend, eligible = await graph_load.spend(conn)
                    held = await graph_load.held_milestones(conn)
            tables = _tables_by_program(versions, blocks, spend)
            del blocks
            graphs = {pid: ReferralGraph.from_table(pid, t) for pid, t in tables.items()}
            # What the reward rules read of the ledger: see graph/reward_book.py.
            for pid, graph in graphs.items():
                graph.book.eligible = eligible.get(pid, {})
                graph.book.held = held.get(pid, {})
            del spend, eligible, held
            del tables
            # The graphs live as long as the process: out of the collector's sight, a
            # full collection while serving does not walk millions of members.
            gc.freeze()
        finally:
            gc.enable()
            await graph_load.unlock_load(conn)
    finally:
        await helper.close()
        await conn.close()
    for pid, graph in graphs.items():
        graph.version = versions[pid]
        metrics.graph_version(pid, graph.version)
    return graphs, {p.id: p for p in programs}


def _tables_by_program(
    versions: dict[int, int],
    blocks: list[graph_load.MemberBlock],
    spend: dict[int, dict[int, tuple[Decimal, int]]],
) -> dict[int, MemberTable]:
    """Each program's customers in id order, with their purchase totals."""
    tables = {pid: MemberTable(spends=spend.get(pid, {})) for pid in versions}
    for block in blocks:
        programs = block.program_ids
        if programs.count(programs[0]) == len(programs):  # one program: the usual block
            _extend(tables[programs[0]], block, None)
            continue
        rows: defaultdict[int, list[int]] = defaultdict(list)
        for row, pid in enumerate(programs):
            rows[pid].append(row)
        for pid, picked in rows.items():
            _extend(tables[pid], block, picked)
    return tables


def _extend(table: MemberTable, block: graph_load.MemberBlock, rows: list[int] | None) -> None:
    """Append a block's customers (only those at `rows`, when given) to the table."""
    columns: tuple[tuple[list[Any], list[Any]], ...] = (
        (table.ids, block.ids),
        (table.external_ids, block.external_ids),
        (table.joined_micros, block.joined_micros),
        (table.referrers, block.referrers),
        (table.link_statuses, block.link_statuses),
        (table.erased, block.erased),
    )
    for column, values in columns:
        column.extend(values if rows is None else [values[i] for i in rows])
