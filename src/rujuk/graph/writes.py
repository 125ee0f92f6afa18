"""One unit of work for every write that changes a program's referral graph.

A graph write locks its program's row, brings this process's graph up to the locked
version, appends its events (numbered versions of the program's graph), commits, applies
them in memory and settles what other writers of this process wait for. Either all of it
happens or nothing is written: an error inside the unit rolls the transaction back, and
the graph changes only once the commit is done.

    async with runtime.pool.acquire() as conn:
        async with runtime.graph_writes.begin(conn, program_id) as uow:
            ...  # read and write through conn, under the program's lock
            await uow.append(event)

The purchase writer's fast path takes no lock: `unlocked` announces versions that one
statement writes only if nobody wrote since (db/purchases.py insert_purchases).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from rujuk.db import events as event_queries
from rujuk.db import programs as program_queries
from rujuk.db.pool import Connection, Pool
from rujuk.graph.events import GraphEvent, to_json
from rujuk.graph.referral_graph import ReferralGraph
from rujuk.graph.replicator import Replicator
from rujuk.graph.store import GraphStore
from rujuk.records import Program


class UnknownProgram(LookupError):
    """The program to lock does not exist."""


class GraphWrites:
    """Where this process's graph writes begin."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store

    def begin(self, conn: Connection, program_id: int) -> UnitOfWork:
        """A write under the program's lock, in a transaction on conn (use with `async with`;
        raises UnknownProgram on entry for a program that does not exist)."""
        return UnitOfWork(self.store.replicator, program_id, conn)

    def unlocked(self, program_id: int, version: int) -> UnlockedWrite:
        """A write that takes no lock: its statement writes the versions after `version`
        only if the program's graph is still there (use with `async with`)."""
        return UnlockedWrite(self.store.replicator, program_id, version)


class _Write:
    """What both forms share: announced versions, the events written at them, and their
    application once committed."""

    __slots__ = ("_events", "_reserved", "program_id", "replicator", "version")

    def __init__(self, replicator: Replicator, program_id: int, version: int) -> None:
        self.replicator = replicator
        self.program_id = program_id
        # The program's graph version the write starts from.
        self.version = version
        self._reserved = 0
        self._events: list[GraphEvent] = []

    def reserve(self, count: int) -> int:
        """Announce `count` versions that a statement of the caller writes itself (the
        batch form); returns the first of them."""
        first = self.version + self._reserved + 1
        for version in range(first, first + count):
            self.replicator.expect(self.program_id, version)
        self._reserved += count
        return first

    def appended(self, events: Sequence[GraphEvent]) -> None:
        """The events the caller's statement wrote at the reserved versions, in order."""
        if len(self._events) + len(events) > self._reserved:
            raise ValueError("more events than reserved versions")
        self._events.extend(events)

    async def _apply(self, conn: Connection | Pool) -> None:
        first = self.version + 1
        for offset, event in enumerate(self._events):
            await self.replicator.committed(self.program_id, first + offset, event, conn)

    def _settle(self) -> None:
        for version in range(self.version + 1, self.version + self._reserved + 1):
            self.replicator.settle(self.program_id, version)


class UnitOfWork(_Write):
    """One graph write under its program's lock (see the module's docstring)."""

    __slots__ = ("_transaction", "conn", "graph", "program")

    program: Program
    graph: ReferralGraph

    def __init__(self, replicator: Replicator, program_id: int, conn: Connection) -> None:
        super().__init__(replicator, program_id, 0)
        self.conn = conn
        self._transaction = conn.transaction()

    async def __aenter__(self) -> UnitOfWork:
        await self._transaction.start()
        try:
            locked = await program_queries.lock_program(self.conn, self.program_id)
            if locked is None:
                raise UnknownProgram(self.program_id)
            self.program, self.version = locked
            # Every commit before the lock is applied, nothing later: the graph this write
            # reads is the one it changes.
            self.graph = await self.replicator.catch_up_to(self.program_id, self.version, self.conn)
        except BaseException:
            await self._transaction.rollback()
            raise
        return self

    async def append(self, event: GraphEvent) -> None:
        """Write the event as the program's next version (applied once committed)."""
        version = self.reserve(1)
        await event_queries.append_event(
            self.conn, self.program_id, version, event.kind, to_json(event)
        )
        self._events.append(event)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc is not None:
                await self._transaction.rollback()
                return
            await self._transaction.commit()
            # On the connection this write holds: events committed by other workers in
            # between are read through it, never through a second pooled connection.
            await self._apply(self.conn)
        finally:
            self._settle()


class UnlockedWrite(_Write):
    """A write without the program's lock: announced versions, written by one statement
    that checks the graph version itself. Applied on exit if the statement wrote (the
    caller says so with `appended`); otherwise only settled."""

    __slots__ = ()

    async def __aenter__(self) -> UnlockedWrite:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                # The caller's connection is back in the pool by now: catching up (if
                # another worker wrote in between) borrows one afresh.
                await self._apply(self.replicator.pool)
        finally:
            self._settle()
