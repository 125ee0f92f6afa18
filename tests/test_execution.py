"""An answered operation leaves no reference cycle for the garbage collector
(rujuk/compat/graphql.py): its state is freed by reference counting, not by full collections
that stop the event loop."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from tests.fixtures import chain, create_program
from tests.graphql_client import GraphQLClient
from tests.ledger import record

# The server's side of a request; the test's HTTP client (httpx) makes cycles of its own.
SERVER_MODULES = ("graphql.", "strawberry.", "rujuk.", "starlette.")

REFERRALS = (
    "query($p: ID!, $c: String!) { customer(programId: $p, externalId: $c) "
    "{ referrals(first: 5) { edges { node { externalId } } } } }"
)


Operation = Callable[[int], Awaitable[None]]


@pytest.fixture
def cycles_left_by() -> Iterator[Callable[[Operation], Awaitable[list[str]]]]:
    """Run an operation twice; the server's objects that only the collector freed the
    second time (the first prepares the document: validation makes cycles, once)."""

    async def cycles(operation: Operation) -> list[str]:
        await operation(1)
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        await operation(2)
        gc.collect()
        names = {f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage}
        return sorted(name for name in names if name.startswith(SERVER_MODULES))

    try:
        yield cycles
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def test_a_purchase_and_a_query_leave_no_cycles(
    gql: GraphQLClient, cycles_left_by: Any
) -> None:
    program = await create_program(gql)
    await chain(gql, program["id"], 3)

    async def operations(attempt: int) -> None:
        payload = await record(gql, program["id"], "c2", f"order-{attempt}", "150000")
        assert payload["userErrors"] == []
        assert payload["rewards"]
        tree = await gql.data(REFERRALS, {"p": program["id"], "c": "c1"})
        assert tree["customer"]["referrals"]["edges"]

    assert await cycles_left_by(operations) == []


async def test_a_refused_call_leaves_no_cycles(gql: GraphQLClient, cycles_left_by: Any) -> None:
    program = await create_program(gql)

    async def operations(attempt: int) -> None:
        payload = await record(gql, program["id"], "nobody", f"order-{attempt}", "1000")
        assert [e["code"] for e in payload["userErrors"]] == ["UNKNOWN_CUSTOMER"]

    assert await cycles_left_by(operations) == []
