"""What a running rujuk process holds: the pool, the graphs and the signing key."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from rujuk.caller_cache import CallerCache
from rujuk.config import Settings
from rujuk.db import server as server_queries
from rujuk.db import tokens as token_queries
from rujuk.db.pool import Pool, create_pool
from rujuk.errors import ServiceUnavailable
from rujuk.graph import GraphStore
from rujuk.graph.ranking_cache import RankingCache
from rujuk.graph.writes import GraphWrites
from rujuk.services.purchase_writer import PurchaseWriter
from rujuk.services.webhook_dispatcher import WebhookDispatcher
from rujuk.services.webhook_events import Outbox


@dataclass(slots=True)
class Runtime:
    """Shared state of one worker process."""

    settings: Settings
    database_url: str
    pool: Pool
    graphs: GraphStore
    graph_writes: GraphWrites
    signing_key: bytes
    rankings: RankingCache
    callers: CallerCache
    purchase_writer: PurchaseWriter
    outbox: Outbox
    # Started by the server's lifespan only (app.py): commands never deliver.
    webhooks: WebhookDispatcher
    # The database probe of /healthz still running, if any: one at a time, however often
    # /healthz is asked while the database does not answer.
    _probe: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, settings: Settings, database_url: str) -> Runtime:
        """Connect, load every graph and follow other workers' writes."""
        runtime = await cls.connect(settings, database_url)
        await runtime.graphs.load()
        await runtime.graphs.listen()
        return runtime

    @classmethod
    async def connect(cls, settings: Settings, database_url: str) -> Runtime:
        """Connect without loading any graph: only for work that never reads one (API tokens,
        checks before the server starts), where a full load would cost seconds for nothing.
        """
        pool = await create_pool(
            database_url,
            min_size=1,
            max_size=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout,
            connect_timeout=settings.db_connect_timeout,
            statement_timeout=settings.db_statement_timeout,
        )
        graphs = GraphStore(pool)
        writes = GraphWrites(graphs)
        key = await token_queries.signing_key(pool)
        outbox = Outbox(pool)
        return cls(
            settings,
            database_url,
            pool,
            graphs,
            writes,
            key,
            RankingCache(graphs),
            CallerCache(),
            PurchaseWriter(pool, writes, outbox),
            outbox,
            WebhookDispatcher(pool, database_url, outbox, settings.webhooks_allow_private),
        )

    async def health(self) -> dict[str, str]:
        """Each dependency of this worker, "ok" or what is wrong; within HEALTH_TIMEOUT
        whatever the database does."""
        probe = self._probe
        if probe is None or probe.done():
            probe = self._probe = asyncio.get_running_loop().create_task(self._ping())
        done, _ = await asyncio.wait({probe}, timeout=HEALTH_TIMEOUT)
        database = "ok"
        if not done:
            database = f"no answer within {HEALTH_TIMEOUT:g} s"
        elif (error := probe.exception()) is not None:
            database = str(error) if isinstance(error, ServiceUnavailable) else repr(error)
        return {
            "database": database,
            # Until it reconnects this worker does not see other workers' writes.
            "graphEvents": "ok" if self.graphs.listening else "reconnecting",
        }

    async def _ping(self) -> None:
        await server_queries.ping(self.pool)

    async def close(self) -> None:
        """Stop listening and close the pool."""
        await self.graphs.close()
        await self.pool.close()


# Seconds /healthz waits for the database before answering 503 (load balancers typically
# give a health check 2 s or more).
HEALTH_TIMEOUT = 1.5
