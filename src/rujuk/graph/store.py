"""Every program's referral graph in this process, kept in step with PostgreSQL.

The store is what the rest of rujuk holds; its parts are small modules of their own: the
bulk load (graph/loader.py), the per-program cache of graphs and rules (graph/cache.py),
the replicator that applies the event log and follows other workers (graph/replicator.py)
and the subscribers of applied events (graph/subscribers.py). Writes go through
graph/writes.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from rujuk.db import events as event_queries
from rujuk.db.pool import Connection, Pool
from rujuk.graph.cache import GraphCache
from rujuk.graph.events import GraphEvent
from rujuk.graph.loader import load_graphs
from rujuk.graph.referral_graph import ReferralGraph
from rujuk.graph.replicator import Replicator
from rujuk.graph.subscribers import EventListener, Subscribers
from rujuk.records import Program

logger = logging.getLogger(__name__)


class GraphStore:
    """The graphs of all programs, loaded once and then replayed from the event log."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.cache = GraphCache(pool)
        self.subscribers = Subscribers()
        self.replicator = Replicator(pool, self.cache, self.subscribers)

    @property
    def graphs(self) -> dict[int, ReferralGraph]:
        """Each program's graph, by program id."""
        return self.cache.graphs

    @property
    def programs(self) -> dict[int, Program]:
        """Each program's rules known here, by program id."""
        return self.cache.programs

    def remember(self, program: Program) -> Program:
        """Cache a program's rules unless a later version of them is cached already."""
        return self.cache.remember(program)

    def graph(self, program_id: int) -> ReferralGraph:
        """The program's graph (empty for a program created since the load)."""
        return self.cache.graph(program_id)

    async def program(self, program_id: int) -> Program | None:
        """A program's rules in force (cached; a change of rules is a graph event)."""
        return await self.cache.program(program_id)

    async def graph_with(self, program_id: int, customer_id: int) -> ReferralGraph:
        """The program's graph, caught up if another worker's sign-up has not reached it yet."""
        graph = self.cache.graph(program_id)
        if customer_id not in graph:
            await self.replicator.catch_up(program_id)
        return graph

    async def any_program(self) -> bool:
        """Whether the database holds any program yet (without loading anything)."""
        return bool(await event_queries.graph_versions(self.pool))

    async def load(self) -> None:
        """Build every program's graph from one consistent snapshot of the database."""
        graphs, programs = await load_graphs(self.pool)
        self.cache.graphs = graphs
        self.cache.programs = programs
        logger.info(
            "loaded %d programs, %d customers", len(graphs), sum(len(g) for g in graphs.values())
        )

    async def catch_up(self, program_id: int, conn: Connection | Pool | None = None) -> None:
        """Apply every committed event of the program this process has not applied yet."""
        await self.replicator.catch_up(program_id, conn)

    def apply(self, program_id: int, version: int, event: GraphEvent) -> None:
        """Apply one event if it is the next one of its program; ignore it otherwise."""
        self.replicator.apply(program_id, version, event)

    def subscribe(self, program_id: int, listener: EventListener) -> Callable[[], None]:
        """Call listener with each event of the program applied from now on; return unsubscribe."""
        return self.subscribers.subscribe(program_id, listener)

    def listener_count(self, program_id: int) -> int:
        """How many listeners follow the program's events now."""
        return self.subscribers.listener_count(program_id)

    @property
    def listening(self) -> bool:
        """Whether other workers' commits reach this process (LISTEN connected)."""
        return self.replicator.listening

    async def listen(self) -> None:
        """Follow other workers' commits through LISTEN/NOTIFY, reconnecting when cut off."""
        await self.replicator.listen()

    async def close(self) -> None:
        """Stop listening."""
        await self.replicator.close()
