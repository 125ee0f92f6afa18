"""What a running rujuk process holds: the pool, the graphs and the signing key."""

from __future__ import annotations

from dataclasses import dataclass

from rujuk.caller_cache import CallerCache
from rujuk.config import Settings
from rujuk.db import tokens as token_queries
from rujuk.db.pool import Pool, create_pool
from rujuk.graph import GraphStore
from rujuk.graph.ranking_cache import RankingCache
from rujuk.services.purchase_writer import PurchaseWriter


@dataclass(slots=True)
class Runtime:
    """Shared state of one worker process."""

    settings: Settings
    database_url: str
    pool: Pool
    graphs: GraphStore
    signing_key: bytes
    rankings: RankingCache
    callers: CallerCache
    purchase_writer: PurchaseWriter

    @classmethod
    async def start(cls, settings: Settings, database_url: str) -> Runtime:
        """Connect, load every graph and follow other workers' writes."""
        runtime = await cls.connect(settings, database_url)
        await runtime.graphs.load()
        await runtime.graphs.listen(database_url)
        return runtime

    @classmethod
    async def connect(cls, settings: Settings, database_url: str) -> Runtime:
        """Connect without loading any graph: only for work that never reads one (API tokens,
        checks before the server starts), where a full load would cost seconds for nothing.
        """
        pool = await create_pool(database_url, min_size=1, max_size=settings.db_pool_size)
        graphs = GraphStore(pool)
        key = await token_queries.signing_key(pool)
        return cls(
            settings,
            database_url,
            pool,
            graphs,
            key,
            RankingCache(graphs),
            CallerCache(),
            PurchaseWriter(pool, graphs),
        )

    async def close(self) -> None:
        """Stop listening and close the pool."""
        await self.graphs.close()
        await self.pool.close()
