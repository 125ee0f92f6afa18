"""The graphs and rules of every program, as this process holds them."""

from __future__ import annotations

from rujuk.db import programs as program_queries
from rujuk.db.pool import Pool
from rujuk.graph.referral_graph import ReferralGraph
from rujuk.records import Program


class GraphCache:
    """Each program's referral graph (kept current by the replicator) and its rules."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.graphs: dict[int, ReferralGraph] = {}
        self.programs: dict[int, Program] = {}

    def graph(self, program_id: int) -> ReferralGraph:
        """The program's graph (empty for a program created since the load)."""
        graph = self.graphs.get(program_id)
        if graph is None:
            graph = self.graphs[program_id] = ReferralGraph(program_id)
        return graph

    async def program(self, program_id: int) -> Program | None:
        """A program's rules in force, as the graph's events have brought them (cached: a
        change of rules is a graph event, applied in order like every other)."""
        program = self.programs.get(program_id)
        if program is None:
            async with self.pool.acquire() as conn:
                program = await program_queries.get_program(conn, program_id)
            if program is not None:
                program = self.remember(program)
        return program

    def remember(self, program: Program) -> Program:
        """Cache a program's rules unless a later version of them is cached already (a read
        from the database can come back after a newer version's event was applied)."""
        cached = self.programs.get(program.id)
        if cached is not None and cached.rules_version > program.rules_version:
            return cached
        self.programs[program.id] = program
        return program
