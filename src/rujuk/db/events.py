"""The graph event log: every committed change to a program's referral graph, in order."""

from __future__ import annotations

from typing import Any

from rujuk.db.pool import Connection, Pool

GRAPH_CHANNEL = "rujuk_graph"


async def append_event(
    conn: Connection, program_id: int, version: int, kind: str, payload: dict[str, Any]
) -> None:
    """Record a graph change as the program's version `version`; workers are notified at commit.

    The caller holds the program's row lock (db.programs.lock_program) and passes its version + 1.
    """
    await conn.execute("UPDATE program SET graph_version = $2 WHERE id = $1", program_id, version)
    await conn.execute(
        "INSERT INTO graph_event (program_id, version, kind, payload) VALUES ($1, $2, $3, $4)",
        program_id,
        version,
        kind,
        payload,
    )
    await conn.execute("SELECT pg_notify($1, $2)", GRAPH_CHANNEL, f"{program_id}:{version}")


async def events_after(
    conn: Connection | Pool, program_id: int, version: int
) -> list[tuple[int, str, dict[str, Any]]]:
    """The program's events newer than `version`, oldest first."""
    rows = await conn.fetch(
        """SELECT version, kind, payload FROM graph_event
           WHERE program_id = $1 AND version > $2 ORDER BY version""",
        program_id,
        version,
    )
    return [(r["version"], r["kind"], r["payload"]) for r in rows]


async def graph_versions(conn: Connection | Pool) -> dict[int, int]:
    """Every program's current graph version."""
    rows = await conn.fetch("SELECT id, graph_version FROM program")
    return {r["id"]: r["graph_version"] for r in rows}
