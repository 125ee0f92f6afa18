"""The connection pool every request goes through, and the codecs every connection uses.

Nothing waits for the database without a bound: a free pooled connection is awaited at most
`pool_timeout` seconds, a new connection `connect_timeout`, a statement `statement_timeout`.
Past a bound, or when the database cannot be reached, the failure is ServiceUnavailable
(SERVICE_UNAVAILABLE, HTTP 503): the request may be retried, it was not wrong.

A task holds at most one pooled connection at a time. Awaiting a second one while holding a
first deadlocks the pool as soon as every connection is held by a task doing the same (issue
15: two writers catching up after their commits stopped a worker for good); the pool refuses
it outright, so such a path fails in the tests instead of hanging in production.

One request's reads share a connection (SharedConnection): a GraphQL request resolves its
fields concurrently, and each batch loader would otherwise take a connection of its own for
one statement (issue 19: a customer's dashboard took seven acquires for seven statements).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeAlias, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from rujuk.config import ConfigError
from rujuk.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

# asyncpg's classes are generic only in its type stubs, hence the quoted aliases.
RawConnection: TypeAlias = "asyncpg.Connection[asyncpg.Record]"
PooledConnection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
# A connection of its own or one borrowed from the pool: the queries take either.
Connection: TypeAlias = "RawConnection | PooledConnection"

SERVER_SETTINGS = {
    "application_name": "rujuk",
    "timezone": "UTC",
    # A runaway statement must not hold a worker forever (the pool sets its own, shorter).
    "statement_timeout": "30s",
    "idle_in_transaction_session_timeout": "60s",
}
CONNECT_TIMEOUT = 10.0

# Failures that say the database cannot serve right now rather than that the request is
# wrong: unreachable or refusing connections (OSError, class 08), shutting down, restarting
# or a statement cancelled by its timeout (class 57), out of connections, memory or disk
# (class 53), and a bound of ours reached (TimeoutError).
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)

# Everything the driver raises when a statement or a connection fails, for the code above
# db/ that holds a connection of its own (the LISTEN connections) and must survive it.
DATABASE_ERROR: type[Exception] = asyncpg.PostgresError
# A write that a unique key refused (an order recorded meanwhile, a code taken).
UNIQUE_VIOLATION: type[Exception] = asyncpg.UniqueViolationError
DRIVER_ERRORS: tuple[type[BaseException], ...] = (asyncpg.PostgresError, asyncpg.InterfaceError)

T = TypeVar("T")
# A read: statements on the connection it is given, and nothing else awaited meanwhile.
Read: TypeAlias = "Callable[[PooledConnection], Awaitable[T]]"
SECOND_CONNECTION = (
    "this task already holds a pooled connection: awaiting a second one can "
    "deadlock the pool (pass the held connection instead)"
)


def database_unavailable(error: BaseException) -> bool:
    """Whether an error raised while using the database means that it is unavailable."""
    return isinstance(error, UNAVAILABLE)


async def init_connection(conn: Any) -> None:
    """Decode jsonb to Python values on every new connection."""
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(_conn: Any) -> None:
    return None


class Pool:
    """asyncpg's pool with bounded waits, one connection per task, and unavailability as
    ServiceUnavailable; the queries take it wherever they take a connection."""

    def __init__(
        self,
        pool: asyncpg.Pool[asyncpg.Record],
        url: str,
        *,
        pool_timeout: float,
        connect_timeout: float,
        statement_timeout: float,
    ) -> None:
        self._pool = pool
        self.url = url
        self.pool_timeout = pool_timeout
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout
        self._holders: set[asyncio.Task[Any]] = set()
        # Tasks waiting for a connection now.
        self.waiting = 0

    def acquire(self) -> _Acquired:
        """A pooled connection for `async with` (refused to a task that holds one already)."""
        return _Acquired(self)

    def refuse_second(self) -> None:
        """Raise if the current task holds a pooled connection (see the module's text)."""
        if asyncio.current_task() in self._holders:
            raise RuntimeError(SECOND_CONNECTION)

    async def run(self, read: Read[T]) -> T:
        """One read on a pooled connection of its own."""
        async with self.acquire() as conn:
            return await read(conn)

    async def execute(self, query: str, *args: Any) -> str:
        async with self.acquire() as conn:
            return await conn.execute(query, *args)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self.acquire() as conn:
            return await conn.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self.acquire() as conn:
            return await conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchval(query, *args)

    async def connect(self) -> RawConnection:
        """A connection outside the pool (the graph load, LISTEN), with the pool's bounds
        on connecting but the server's own statement timeout (a load runs for seconds)."""
        return await connect(self.url, connect_timeout=self.connect_timeout)

    def get_size(self) -> int:
        """Connections open now."""
        return self._pool.get_size()

    def get_idle_size(self) -> int:
        """Connections open and free now."""
        return self._pool.get_idle_size()

    def get_max_size(self) -> int:
        """The most connections the pool opens."""
        return self._pool.get_max_size()

    async def close(self) -> None:
        """Close every connection, forcibly past the pool timeout (a frozen database)."""
        try:
            await asyncio.wait_for(self._pool.close(), self.pool_timeout)
        except TimeoutError:
            logger.warning("database connections did not close in time; dropping them")
            self._pool.terminate()


# Where reads run: a pooled connection each, or one request's shared connection.
Reader: TypeAlias = "Pool | SharedConnection"


class _Acquired:
    """One pooled connection held for an `async with` block by the task that entered it."""

    __slots__ = ("_conn", "_pool", "_task")

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._task: asyncio.Task[Any] | None = None
        self._conn: PooledConnection | None = None

    async def __aenter__(self) -> PooledConnection:
        pool = self._pool
        task = asyncio.current_task()
        if task in pool._holders:
            raise RuntimeError(SECOND_CONNECTION)
        conn: PooledConnection
        try:
            if pool._pool.get_idle_size():
                # Connected and free: taken at once, no wait to bound (a timer per acquire
                # cost as much as the acquire itself).
                conn = await pool._pool.acquire()
            else:
                # Counted for the metrics (rujuk_db_pool_waiting).
                pool.waiting += 1
                try:
                    async with asyncio.timeout(pool.pool_timeout):
                        conn = await pool._pool.acquire()
                finally:
                    pool.waiting -= 1
        except TimeoutError:
            raise ServiceUnavailable(
                f"no database connection within {pool.pool_timeout:g} s"
            ) from None
        except UNAVAILABLE as error:
            raise ServiceUnavailable(f"the database is unavailable: {_reason(error)}") from error
        if task is not None:
            pool._holders.add(task)
        self._task, self._conn = task, conn
        return conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        conn, pool = self._conn, self._pool
        assert conn is not None
        if self._task is not None:
            pool._holders.discard(self._task)
        unavailable = exc is not None and (
            isinstance(exc, UNAVAILABLE)
            or (isinstance(exc, asyncpg.InterfaceError) and conn.is_closed())
        )
        if unavailable or isinstance(exc, asyncio.CancelledError):
            # A statement may still be running or being cancelled on it: releasing would
            # wait for the server, which may be what stopped answering.
            conn.terminate()
        # Otherwise releasing waits for nothing outside this process (no reset query).
        await pool._pool.release(conn)
        if unavailable:
            assert exc is not None
            raise ServiceUnavailable(f"the database is unavailable: {_reason(exc)}") from exc


class SharedConnection:
    """One request's reads, run back to back on one pooled connection.

    The first read of a burst takes a connection, in a task of its own that holds it, and
    runs there, in order, every read the request asks for until none is left waiting; then
    the connection goes back. A burst is what a request's concurrent fields ask for at once
    (the dashboard's codes, balance, rewards and referees: four statements, one acquire).
    The callers hold no connection while they wait for their results, and a caller that
    holds one is refused, as a second acquire would be: no task ever holds one connection
    while awaiting another. A read that finds the database unavailable fails with
    ServiceUnavailable, as do the reads queued behind it (their connection is gone).
    """

    __slots__ = ("_bursts", "_pool", "_queue", "_taking")

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._queue: deque[tuple[Read[Any], asyncio.Future[Any]]] = deque()
        # Whether a burst takes reads now; its task is kept until it ends (the loop keeps
        # only weak references to tasks).
        self._taking = False
        self._bursts: set[asyncio.Task[None]] = set()

    async def run(self, read: Read[T]) -> T:
        """The read's result, run on the request's shared connection."""
        self._pool.refuse_second()
        loop = asyncio.get_running_loop()
        result: asyncio.Future[T] = loop.create_future()
        self._queue.append((read, result))
        if not self._taking:
            self._taking = True
            burst = loop.create_task(self._run_queued())
            self._bursts.add(burst)
            burst.add_done_callback(self._bursts.discard)
        return await result

    async def _run_queued(self) -> None:
        current: asyncio.Future[Any] | None = None
        try:
            async with self._pool.acquire() as conn:
                while self._queue:
                    read, current = self._queue.popleft()
                    if current.done():  # its caller is gone (cancelled)
                        continue
                    try:
                        value = await read(conn)
                    except Exception as error:
                        if database_unavailable(error) or conn.is_closed():
                            raise  # the connection is terminated: fail what is left
                        if not current.done():
                            current.set_exception(error)
                    else:
                        if not current.done():
                            current.set_result(value)
                current = None
                # Before the release: a read asked from now on starts a burst of its own.
                self._taking = False
        except BaseException as error:
            self._taking = False
            waiting = [current] if current is not None else []
            waiting += [f for _, f in self._queue]
            self._queue.clear()
            for future in waiting:
                if future.done():
                    continue
                if isinstance(error, Exception):
                    future.set_exception(error)
                else:
                    future.cancel()
            if not isinstance(error, Exception):
                raise


# Text PostgreSQL refuses (NUL, lone surrogates) that a service did not catch first: the
# client sent it, so it is bad input rather than an internal error.
UNSTORABLE_TEXT = (
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
)


def unstorable_text(error: BaseException | None) -> bool:
    """Whether PostgreSQL (or the driver) refused text the client sent."""
    if isinstance(error, UNSTORABLE_TEXT):
        return True
    # asyncpg wraps an unencodable string (a lone surrogate) in its client-side DataError.
    return isinstance(error, asyncpg.exceptions.DataError) and isinstance(
        error.__cause__ or error.__context__, UnicodeEncodeError
    )


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer in time"
    return str(error) or type(error).__name__


async def create_pool(
    url: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    pool_timeout: float = 5.0,
    connect_timeout: float = 5.0,
    statement_timeout: float = 10.0,
) -> Pool:
    """Open a pool, or raise ConfigError with a one-line reason when the database is unusable."""
    settings = {**SERVER_SETTINGS, "statement_timeout": f"{int(statement_timeout * 1000)}ms"}
    try:
        pool: asyncpg.Pool[asyncpg.Record] = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            init=init_connection,
            server_settings=settings,
            # No reset round trip on every release (asyncpg's default unlocks advisory locks
            # and RESETs): rujuk never SETs anything on a session nor holds a session lock.
            reset=_keep_session,
            timeout=connect_timeout,
            # The server's statement_timeout ends a slow statement cleanly; this one, a
            # second later, ends the wait for a server that does not answer at all.
            command_timeout=statement_timeout + 1,
        )
    except (OSError, asyncpg.PostgresError, ValueError, TimeoutError) as exc:
        raise ConfigError(f"cannot connect to the database: {exc}") from None
    return Pool(
        pool,
        url,
        pool_timeout=pool_timeout,
        connect_timeout=connect_timeout,
        statement_timeout=statement_timeout,
    )


async def connect(url: str, *, connect_timeout: float = CONNECT_TIMEOUT) -> RawConnection:
    """One connection outside the pool (migrations, listeners, tests)."""
    try:
        conn: RawConnection = await asyncpg.connect(
            url, server_settings=SERVER_SETTINGS, timeout=connect_timeout
        )
    except (OSError, asyncpg.PostgresError, ValueError, TimeoutError) as exc:
        raise ConfigError(f"cannot connect to the database: {exc}") from None
    await init_connection(conn)
    return conn
