"""GroupCommit: batching per key, one outcome per item, failures kept to their items."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from rujuk.group_commit import GroupCommit


class Ledger:
    """A commit that takes a moment and records the batches it was given."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.fail_batches_with: int | None = None
        # When set, key "a"'s commits wait for it to open (the test decides when a commit ends).
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def commit(self, key: str, items: Sequence[int]) -> list[int | Exception]:
        self.started.set()
        await asyncio.sleep(0.01)
        if key == "a" and self.gate is not None:
            await self.gate.wait()
        if self.fail_batches_with is not None and self.fail_batches_with in items:
            if len(items) > 1:
                raise RuntimeError("the whole batch fails")
            raise ValueError(f"item {items[0]} is bad")
        self.batches.append((key, list(items)))
        return [ValueError("odd") if item % 2 else item * 10 for item in items]


async def test_items_queued_behind_a_commit_share_the_next_one() -> None:
    ledger = Ledger()
    ledger.gate = asyncio.Event()
    group: GroupCommit[str, int, int] = GroupCommit(ledger.commit)
    first = asyncio.create_task(group.submit("a", 0))
    await ledger.started.wait()  # its commit is running
    queued = asyncio.gather(*(group.submit("a", n) for n in range(2, 20, 2)))
    assert await group.submit("b", 100) == 1000
    ledger.gate.set()
    results = [*await queued, 1000]
    assert await first == 0
    assert results == [n * 10 for n in range(2, 20, 2)] + [1000]
    # Key b does not wait for key a; a's items that came during its commit share the next.
    assert ledger.batches == [("b", [100]), ("a", [0]), ("a", list(range(2, 20, 2)))]
    assert (group.commits, group.items) == (3, 11)


async def test_an_item_outcome_that_is_an_exception_is_raised_to_its_submitter_only() -> None:
    group: GroupCommit[str, int, int] = GroupCommit(Ledger().commit)
    submits = (group.submit("a", n) for n in (2, 3, 4))
    results = await asyncio.gather(*submits, return_exceptions=True)
    assert results[0] == 20
    assert results[2] == 40
    assert isinstance(results[1], ValueError)


async def test_a_failing_batch_is_retried_one_item_at_a_time() -> None:
    ledger = Ledger()
    ledger.fail_batches_with = 6
    group: GroupCommit[str, int, int] = GroupCommit(ledger.commit)
    results = await asyncio.gather(
        *(group.submit("a", n) for n in (0, 2, 4, 6, 8)), return_exceptions=True
    )
    assert results[:3] == [0, 20, 40]
    assert results[4] == 80
    assert isinstance(results[3], ValueError)
    assert "item 6" in str(results[3])
    assert ledger.batches == [("a", [0]), ("a", [2]), ("a", [4]), ("a", [8])]


async def test_a_failure_of_everybody_fails_the_whole_batch_at_once() -> None:
    # A database that does not answer: each retry alone would wait for the same bound again.
    calls: list[list[int]] = []

    async def unavailable(_key: str, items: Sequence[int]) -> list[int | Exception]:
        calls.append(list(items))
        await asyncio.sleep(0.01)
        raise ConnectionError("the database is unavailable")

    group: GroupCommit[str, int, int] = GroupCommit(unavailable, fails_all=(ConnectionError,))
    first = asyncio.create_task(group.submit("a", 0))
    await asyncio.sleep(0.001)
    results = await asyncio.gather(
        *(group.submit("a", n) for n in (1, 2, 3)), first, return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)
    assert calls == [[0], [1, 2, 3]]


async def test_a_submitter_going_away_does_not_cancel_the_commit() -> None:
    ledger = Ledger()
    group: GroupCommit[str, int, int] = GroupCommit(ledger.commit)
    first = asyncio.create_task(group.submit("a", 2))
    second = asyncio.create_task(group.submit("a", 4))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == 40
    assert [items for _, items in ledger.batches] == [[2, 4]]
