"""Group commit: writes to one key that arrive while its previous commit runs are committed
together by the next one.

A write that finds its key idle is committed at once, alone: nothing waits on a timer. Under
load the writes that queued behind a running commit share one transaction, so a lock held
per key (a program's ledger) is taken once per batch instead of once per write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")

# commit(key, items): for each item its result, or the exception its submitter should see.
Commit = Callable[[K, Sequence[T]], Awaitable[Sequence[R | Exception]]]


class GroupCommit(Generic[K, T, R]):
    """Commit items per key in batches; each submitter gets its own item's outcome.

    commit(key, items) must commit all the items or none of them (raising), and return
    one outcome per item, in order. When a batch of several fails as a whole, its items
    are committed again one at a time, so one bad item cannot fail the others.
    """

    def __init__(
        self,
        commit: Commit[K, T, R],
        max_batch: int = 256,
        fails_all: tuple[type[Exception], ...] = (),
    ) -> None:
        self._commit = commit
        self._max_batch = max_batch
        # Failures that are no item's fault (the database is unavailable): every item of
        # the batch gets them at once, without the retries one at a time that would each
        # wait for the same bound again.
        self._fails_all = fails_all
        self._queues: dict[K, list[tuple[T, asyncio.Future[R]]]] = {}
        self._drains: dict[K, asyncio.Task[None]] = {}
        # Commits made and items they held (retries one at a time included): how much the
        # grouping saves shows as items / commits.
        self.commits = 0
        self.items = 0

    async def submit(self, key: K, item: T) -> R:
        """Queue item under key and wait for its outcome (raised if an exception)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(key, []).append((item, future))
        if key not in self._drains:
            # A task of its own: a submitter that goes away (a client disconnecting) must
            # not cancel the commit of everybody else's items.
            self._drains[key] = asyncio.get_running_loop().create_task(self._drain(key))
        try:
            return await asyncio.shield(future)
        finally:
            # A raised outcome's traceback holds this frame; the future holding the
            # outcome must not be in it too, or every failed write is a reference cycle.
            del future

    async def _drain(self, key: K) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while queue := self._queues.get(key):
                batch = queue[: self._max_batch]
                del queue[: self._max_batch]
                await self._commit_batch(key, batch)
        except BaseException:
            # Cancelled (the server stopping): nobody is left to commit what still waits.
            for _, future in batch + self._queues.get(key, []):
                future.cancel()
            raise
        finally:
            del self._drains[key]
            self._queues.pop(key, None)

    async def _commit_batch(self, key: K, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        self.commits += 1
        self.items += len(batch)
        try:
            outcomes = await self._commit(key, [item for item, _ in batch])
        except Exception as error:
            if len(batch) == 1 or isinstance(error, self._fails_all):
                for _, future in batch:
                    _resolve(future, error)
                return
            logger.warning("a batch of %d failed (%r); committing one at a time", len(batch), error)
            for one in batch:
                await self._commit_batch(key, [one])
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _resolve(future, outcome)


def _resolve(future: asyncio.Future[R], outcome: R | Exception) -> None:
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
