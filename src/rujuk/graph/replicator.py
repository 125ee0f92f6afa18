"""Keeping this process's graphs in step with the event log.

Each write that changes a graph holds its program's row lock, appends numbered graph_events
and notifies every worker at commit (graph/writes.py). A worker applies events in version
order only, so its graphs always equal some committed state of the database: its own
writes as they commit, other workers' through LISTEN/NOTIFY and catch-up reads of the log,
and whatever a lost notification missed through a periodic check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from rujuk import metrics
from rujuk.config import ConfigError
from rujuk.db import events as event_queries
from rujuk.db import server as server_queries
from rujuk.db.pool import DATABASE_ERROR, DRIVER_ERRORS, UNAVAILABLE, Connection, Pool
from rujuk.errors import ServiceUnavailable
from rujuk.graph.cache import GraphCache
from rujuk.graph.events import (
    CustomerErased,
    CustomerRegistered,
    GraphEvent,
    ProgramUpdated,
    PurchaseRecorded,
    PurchaseRefunded,
    ReferralReviewed,
    from_json,
)
from rujuk.graph.referral_graph import Member, ReferralGraph, epoch_micros
from rujuk.graph.rules import record_purchase
from rujuk.graph.subscribers import Subscribers

logger = logging.getLogger(__name__)


class Replicator:
    """Applies every program's events to the cache's graphs, in order, and follows the
    other workers' commits."""

    def __init__(self, pool: Pool, cache: GraphCache, subscribers: Subscribers) -> None:
        self.pool = pool
        self.cache = cache
        self.subscribers = subscribers
        self._listener: Connection | None = None
        self._listening = False
        self._watchdog: asyncio.Task[None] | None = None
        # Writes of this process that hold (or held) their program's lock and have not been
        # applied yet, by (program, version): see graph/writes.py.
        self._in_flight: dict[tuple[int, int], asyncio.Future[None]] = {}

    def apply(self, program_id: int, version: int, event: GraphEvent) -> None:
        """Apply one event if it is the next one of its program; ignore it otherwise."""
        graph = self.cache.graph(program_id)
        if version != graph.version + 1:
            return
        if isinstance(event, PurchaseRecorded):
            record_purchase(graph, event.customer_id, event.delta, event.eligible, event.rewards)
        elif isinstance(event, CustomerRegistered):
            graph.add_member(
                Member(
                    id=event.id,
                    external_id=event.external_id,
                    joined_micros=epoch_micros(event.joined_at),
                    referrer=event.referrer_id,
                    link_status=event.status,
                )
            )
        elif isinstance(event, PurchaseRefunded):
            graph.record_spend(event.customer_id, -event.delta, purchases=0)
            graph.book.change(event.rewards)
        elif isinstance(event, ReferralReviewed):
            graph.set_link_status(event.referee_id, event.status)
            graph.book.change(event.rewards)
        elif isinstance(event, CustomerErased):
            graph.erase(event.id)
            graph.book.change(event.rewards)
        elif isinstance(event, ProgramUpdated):
            self.cache.remember(event.program)
            graph.book.follow_zone(event.program.time_zone)
        else:
            raise ValueError(f"unknown graph event {event!r}")
        graph.version = version
        metrics.event_applied(program_id, version, event.kind)
        self.subscribers.publish(program_id, version, event)

    async def catch_up(self, program_id: int, conn: Connection | Pool | None = None) -> None:
        """Apply every committed event of the program this process has not applied yet."""
        graph = self.cache.graph(program_id)
        pending = await event_queries.events_after(conn or self.pool, program_id, graph.version)
        for version, kind, payload in pending:
            self.apply(program_id, version, from_json(kind, payload))

    async def catch_up_to(self, program_id: int, version: int, conn: Connection) -> ReferralGraph:
        """The graph at the version just locked: every earlier commit applied, nothing later.

        A version committed by this process is awaited rather than read back: its writer
        applies it a moment after its commit, without a round trip.
        """
        graph = self.cache.graph(program_id)
        while graph.version < version:
            before = graph.version
            waiting = self._in_flight.get((program_id, before + 1))
            if waiting is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(waiting), IN_FLIGHT_WAIT)
            if graph.version == before:
                await self.catch_up(program_id, conn)
                break
        return graph

    def expect(self, program_id: int, version: int) -> None:
        """A write of this process holds the program's lock and will commit this version:
        writers after it await its application rather than read it back."""
        self._in_flight[(program_id, version)] = asyncio.get_running_loop().create_future()

    async def committed(
        self, program_id: int, version: int, event: GraphEvent, conn: Connection | Pool
    ) -> None:
        """Apply an event this process just committed (catching up first if others came
        between, on conn: the connection the writer holds, or the pool if it holds none)."""
        graph = self.cache.graph(program_id)
        if graph.version == version - 1:
            self.apply(program_id, version, event)
        elif graph.version < version:
            await self.catch_up(program_id, conn)
        self.settle(program_id, version)

    def settle(self, program_id: int, version: int) -> None:
        """The write of this version is applied, or failed: its waiters go on."""
        waiting = self._in_flight.pop((program_id, version), None)
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    @property
    def listening(self) -> bool:
        """Whether other workers' commits reach this process (LISTEN connected)."""
        return self._listener is not None and not self._listener.is_closed()

    async def listen(self) -> None:
        """Follow other workers' commits through LISTEN/NOTIFY, reconnecting when cut off."""
        self._listening = True
        await self._connect_listener()
        self._watchdog = asyncio.get_running_loop().create_task(self._watch_listener())

    async def _watch_listener(self) -> None:
        """Ask the LISTEN connection for an answer now and then, and compare the graphs'
        versions with the database's. It sends nothing of its own: cut off without a word
        (a network partition, a frozen server), it would wait for notifications forever
        while this worker's graphs fell behind."""
        while self._listening:
            await asyncio.sleep(LISTENER_CHECK_INTERVAL)
            listener = self._listener
            if listener is None or listener.is_closed():
                continue
            try:
                await server_queries.ping(listener, within=self.pool.statement_timeout)
            except LISTENER_FAILURES as error:
                logger.warning("the LISTEN connection does not answer (%r); reconnecting", error)
                # Its termination listener reconnects and catches up.
                listener.terminate()
                continue
            # A catch-up that failed when notified (the pool exhausted or the database
            # away for a moment) is made up here rather than at the program's next write.
            try:
                for program_id, version in (await event_queries.graph_versions(self.pool)).items():
                    if self.cache.graph(program_id).version < version:
                        await self.catch_up(program_id)
            except ServiceUnavailable as error:
                logger.warning("checking the graph versions failed: %s", error)

    async def _connect_listener(self) -> None:
        listener = await self.pool.connect()
        try:
            listener.add_termination_listener(self._listener_lost)
            await listener.add_listener(event_queries.GRAPH_CHANNEL, self._notified)
            # Commits made while nobody listened (since the load, or while cut off) were not
            # notified to us: replay them from the log.
            for program_id in list(await event_queries.graph_versions(self.pool)):
                await self.catch_up(program_id)
            if listener.is_closed():
                raise ServiceUnavailable("the LISTEN connection closed while catching up")
        except BaseException:
            listener.remove_termination_listener(self._listener_lost)
            listener.terminate()
            raise
        self._listener = listener

    def _listener_lost(self, _conn: object) -> None:
        if not self._listening:
            return
        logger.warning("lost the LISTEN connection; reconnecting")
        task = asyncio.get_running_loop().create_task(self._reconnect())
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _reconnect(self) -> None:
        delay = 0.2
        while self._listening:
            try:
                await self._connect_listener()
            except (ConfigError, ServiceUnavailable, OSError, DATABASE_ERROR) as error:
                logger.warning("LISTEN reconnection failed (%s); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
                # Capped low: until it reconnects, this worker misses other workers' writes.
                delay = min(delay * 2, RECONNECT_DELAY_MAX)
            else:
                logger.info("LISTEN connection restored")
                return

    async def close(self) -> None:
        """Stop listening."""
        self._listening = False
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._listener is not None:
            # Bounded: a frozen server must not hold up the shutdown.
            await self._listener.close(timeout=self.pool.connect_timeout)
            self._listener = None

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        text_program, _, text_version = str(payload).partition(":")
        program_id, version = int(text_program), int(text_version)
        # Our own writes come back too: their writers apply them without a query.
        if (program_id, version) in self._in_flight:
            return
        if self.cache.graph(program_id).version < version:
            task = asyncio.get_running_loop().create_task(self._catch_up_notified(program_id))
            _background.add(task)
            task.add_done_callback(_background.discard)

    async def _catch_up_notified(self, program_id: int) -> None:
        try:
            await self.catch_up(program_id)
        except ServiceUnavailable as error:
            # The next notification, write or reconnection catches up instead.
            logger.warning("catching up program %d failed: %s", program_id, error)


# How long a writer waits for this process's previous write to be applied before reading
# the event log instead (it normally takes well under a millisecond).
IN_FLIGHT_WAIT = 0.5

# Longest pause between two attempts to reconnect the LISTEN connection, in seconds.
RECONNECT_DELAY_MAX = 2.0
# Seconds between two checks that the LISTEN connection still answers.
LISTENER_CHECK_INTERVAL = 5.0
LISTENER_FAILURES: tuple[type[BaseException], ...] = (*UNAVAILABLE, *DRIVER_ERRORS)

# Strong references to catch-up tasks until they finish.
_background: set[asyncio.Task[None]] = set()
