"""Rankings cached per program and graph version, recomputed in a thread when the graph moves.

A read of a stale ranking starts a recomputation and waits for it briefly: small programs
answer fresh. When the recomputation takes longer, or one is already running, the read gets
the last complete ranking at once (its version and computedAt say how old it is).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from rujuk.graph.rankings import Ranking, compute_ranking
from rujuk.graph.referral_graph import Member
from rujuk.graph.store import GraphStore

logger = logging.getLogger(__name__)

FRESHNESS_WAIT = 0.25


class RankingCache:
    """The latest complete ranking of each program, and the recomputation under way."""

    def __init__(
        self,
        graphs: GraphStore,
        compute: Callable[[list[Member], int], Ranking] = compute_ranking,
    ) -> None:
        self.graphs = graphs
        self.compute = compute
        self._rankings: dict[int, Ranking] = {}
        self._running: dict[int, asyncio.Task[Ranking]] = {}

    async def ranking(self, program_id: int) -> Ranking:
        """The program's ranking: fresh when it can be had quickly, else the last complete one."""
        graph = self.graphs.graph(program_id)
        cached = self._rankings.get(program_id)
        if cached is not None and cached.version == graph.version:
            return cached
        running = self._running.get(program_id)
        if running is not None and cached is not None:
            return cached
        task = running or self._start(program_id)
        if cached is None:
            return await asyncio.shield(task)
        try:
            return await asyncio.wait_for(asyncio.shield(task), FRESHNESS_WAIT)
        except TimeoutError:
            return cached

    def _start(self, program_id: int) -> asyncio.Task[Ranking]:
        graph = self.graphs.graph(program_id)
        # A shallow copy on the loop: the thread must not iterate a dict the loop changes.
        members = list(graph.members.values())
        version = graph.version
        task = asyncio.get_running_loop().create_task(self._compute(program_id, members, version))
        self._running[program_id] = task
        return task

    async def _compute(self, program_id: int, members: list[Member], version: int) -> Ranking:
        started = time.perf_counter()
        try:
            ranking = await asyncio.to_thread(self.compute, members, version)
        finally:
            self._running.pop(program_id, None)
        # Members may have moved during the computation: it counts for the version it began at.
        self._rankings[program_id] = ranking
        logger.info(
            "ranked %d customers of program %d in %.3f s",
            len(members),
            program_id,
            time.perf_counter() - started,
        )
        return ranking
