"""RankingCache: a read during a long recomputation gets the last ranking at once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from rujuk.graph.ranking_cache import FRESHNESS_WAIT, RankingCache
from rujuk.graph.rankings import Ranking, compute_ranking
from rujuk.graph.referral_graph import Member, epoch_micros
from rujuk.graph.store import GraphStore
from rujuk.vocabulary import InfluenceMetric

SLOW = 1.5


async def test_stale_while_recomputing_then_fresh() -> None:
    graphs = GraphStore(pool=None)  # type: ignore[arg-type]  # no database is touched here
    graph = graphs.graph(1)
    graph.add_member(Member(1, "a", epoch_micros(datetime.now(UTC))))
    graph.version = 1
    slow = False

    def compute(members: list[Member], version: int) -> Ranking:
        if slow:
            time.sleep(SLOW)
        return compute_ranking(members, version)

    cache = RankingCache(graphs, compute)
    first = await cache.ranking(1)
    assert first.version == 1
    graph.add_member(
        Member(2, "b", epoch_micros(datetime.now(UTC)), referrer=1, link_status="ACTIVE")
    )
    graph.version = 2
    slow = True
    started = time.perf_counter()
    stale = await cache.ranking(1)
    assert stale is first
    assert time.perf_counter() - started < FRESHNESS_WAIT + 0.2
    started = time.perf_counter()
    assert await cache.ranking(1) is first  # a recomputation is running: at once
    assert time.perf_counter() - started < 0.05
    slow = False
    deadline = time.perf_counter() + SLOW + 2
    while (await cache.ranking(1)).version != 2:
        assert time.perf_counter() < deadline
        await asyncio.sleep(0.05)
    fresh = await cache.ranking(1)
    assert fresh.top(InfluenceMetric.NETWORK_SIZE, 1) == [(1, 1.0)]
