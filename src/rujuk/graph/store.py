"""Every program's referral graph in this process, kept in step with PostgreSQL.

Each write that changes a graph holds its program's row lock, appends a numbered
graph_event and notifies every worker at commit. A worker applies events in version
order only, so its graphs always equal some committed state of the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg

from rujuk import metrics
from rujuk.config import ConfigError
from rujuk.db import events as event_queries
from rujuk.db import graph_load
from rujuk.db import programs as program_queries
from rujuk.db.pool import UNAVAILABLE, Connection, Pool
from rujuk.errors import ServiceUnavailable
from rujuk.graph.events import (
    CustomerErased,
    CustomerRegistered,
    GraphEvent,
    PurchaseRecorded,
    PurchaseRefunded,
    ReferralReviewed,
    from_json,
)
from rujuk.graph.referral_graph import Member, MemberTable, ReferralGraph, epoch_micros
from rujuk.records import Program

logger = logging.getLogger(__name__)

EventListener = Callable[[int, GraphEvent], None]


class GraphStore:
    """The graphs of all programs, loaded once and then replayed from the event log."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.graphs: dict[int, ReferralGraph] = {}
        self.programs: dict[int, Program] = {}
        self._listener: Connection | None = None
        self._listening = False
        self._watchdog: asyncio.Task[None] | None = None
        self._event_listeners: dict[int, set[EventListener]] = defaultdict(set)
        # Writes of this process that hold (or held) their program's lock and have not been
        # applied yet, by (program, version): see graph/writes.py.
        self._in_flight: dict[tuple[int, int], asyncio.Future[None]] = {}

    def graph(self, program_id: int) -> ReferralGraph:
        """The program's graph (empty for a program created since the load)."""
        graph = self.graphs.get(program_id)
        if graph is None:
            graph = self.graphs[program_id] = ReferralGraph(program_id)
        return graph

    async def any_program(self) -> bool:
        """Whether the database holds any program yet (without loading anything)."""
        return bool(await event_queries.graph_versions(self.pool))

    async def graph_with(self, program_id: int, customer_id: int) -> ReferralGraph:
        """The program's graph, caught up if another worker's sign-up has not reached it yet."""
        graph = self.graph(program_id)
        if customer_id not in graph:
            await self.catch_up(program_id)
        return graph

    async def program(self, program_id: int) -> Program | None:
        """A program's rules (immutable once created, so cached)."""
        program = self.programs.get(program_id)
        if program is None:
            async with self.pool.acquire() as conn:
                program = await program_queries.get_program(conn, program_id)
            if program is not None:
                self.programs[program_id] = program
        return program

    async def load(self) -> None:
        """Build every program's graph from one consistent snapshot of the database."""
        # Connections of its own: a load runs for seconds, longer than a pooled statement may,
        # and a task holds one pooled connection at most.
        conn = await self.pool.connect()
        try:
            helper = await self.pool.connect()
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
                        spend = await graph_load.spend(conn)
                tables = _tables_by_program(versions, blocks, spend)
                del blocks, spend
                graphs = {pid: ReferralGraph.from_table(pid, t) for pid, t in tables.items()}
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
        self.graphs = graphs
        self.programs = {p.id: p for p in programs}
        logger.info(
            "loaded %d programs, %d customers", len(graphs), sum(len(g) for g in graphs.values())
        )

    async def catch_up(self, program_id: int, conn: Connection | Pool | None = None) -> None:
        """Apply every committed event of the program this process has not applied yet."""
        graph = self.graph(program_id)
        pending = await event_queries.events_after(conn or self.pool, program_id, graph.version)
        for version, kind, payload in pending:
            self.apply(program_id, version, from_json(kind, payload))

    async def catch_up_to(self, program_id: int, version: int, conn: Connection) -> ReferralGraph:
        """The graph at the version just locked: every earlier commit applied, nothing later.

        A version committed by this process is awaited rather than read back: its writer
        applies it a moment after its commit, without a round trip.
        """
        graph = self.graph(program_id)
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
        graph = self.graph(program_id)
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

    def apply(self, program_id: int, version: int, event: GraphEvent) -> None:
        """Apply one event if it is the next one of its program; ignore it otherwise."""
        graph = self.graph(program_id)
        if version != graph.version + 1:
            return
        if isinstance(event, PurchaseRecorded):
            graph.record_spend(event.customer_id, event.delta, purchases=1)
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
        elif isinstance(event, ReferralReviewed):
            graph.set_link_status(event.referee_id, event.status)
        elif isinstance(event, CustomerErased):
            graph.erase(event.id)
        else:
            raise ValueError(f"unknown graph event {event!r}")
        graph.version = version
        metrics.event_applied(program_id, version, event.kind)
        for listener in list(self._event_listeners.get(program_id, ())):
            listener(version, event)

    def subscribe(self, program_id: int, listener: EventListener) -> Callable[[], None]:
        """Call listener with each event of the program applied from now on; return unsubscribe."""
        self._event_listeners[program_id].add(listener)
        return lambda: self._event_listeners[program_id].discard(listener)

    def listener_count(self, program_id: int) -> int:
        """How many listeners follow the program's events now."""
        return len(self._event_listeners.get(program_id, ()))

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
                await listener.fetchval("SELECT 1", timeout=self.pool.statement_timeout)
            except LISTENER_FAILURES as error:
                logger.warning("the LISTEN connection does not answer (%r); reconnecting", error)
                # Its termination listener reconnects and catches up.
                listener.terminate()
                continue
            # A catch-up that failed when notified (the pool exhausted or the database
            # away for a moment) is made up here rather than at the program's next write.
            try:
                for program_id, version in (await event_queries.graph_versions(self.pool)).items():
                    if self.graph(program_id).version < version:
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
            except (ConfigError, ServiceUnavailable, OSError, asyncpg.PostgresError) as error:
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
        if self.graph(program_id).version < version:
            task = asyncio.get_running_loop().create_task(self._catch_up_notified(program_id))
            _background.add(task)
            task.add_done_callback(_background.discard)

    async def _catch_up_notified(self, program_id: int) -> None:
        try:
            await self.catch_up(program_id)
        except ServiceUnavailable as error:
            # The next notification, write or reconnection catches up instead.
            logger.warning("catching up program %d failed: %s", program_id, error)


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


# How long a writer waits for this process's previous write to be applied before reading
# the event log instead (it normally takes well under a millisecond).
IN_FLIGHT_WAIT = 0.5

# Longest pause between two attempts to reconnect the LISTEN connection, in seconds.
RECONNECT_DELAY_MAX = 2.0
# Seconds between two checks that the LISTEN connection still answers.
LISTENER_CHECK_INTERVAL = 5.0
LISTENER_FAILURES: tuple[type[BaseException], ...] = (
    *UNAVAILABLE,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)

# Strong references to catch-up tasks until they finish.
_background: set[asyncio.Task[None]] = set()
