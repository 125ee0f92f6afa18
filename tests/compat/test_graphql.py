"""What rujuk.compat.graphql assumes of graphql-core's executor: it binds its own methods
as the resolvers' async helpers (a reference cycle), and takes replacements for them."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    GraphQLString,
    execute,
    parse,
)

from rujuk.compat.graphql import AcyclicExecutionContext
from rujuk.compat.strawberry import CoreExecutionContext

EXECUTORS: list[weakref.ref[Any]] = []
HELPERS: list[GraphQLResolveInfoHelpers] = []


async def greeting(_root: object, info: GraphQLResolveInfo[Any]) -> str:
    HELPERS.append(info.async_helpers)
    return "hello"


SCHEMA = GraphQLSchema(
    GraphQLObjectType("Query", {"greeting": GraphQLField(GraphQLString, resolve=greeting)})
)


class Plain(CoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        EXECUTORS.append(weakref.ref(self))


class Acyclic(AcyclicExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        EXECUTORS.append(weakref.ref(self))


@pytest.fixture
def no_collection() -> Iterator[None]:
    EXECUTORS.clear()
    HELPERS.clear()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        EXECUTORS.clear()
        HELPERS.clear()


async def run(executor_class: type[CoreExecutionContext]) -> None:
    outcome = execute(SCHEMA, parse("{ greeting }"), executor_class=executor_class)
    result = await outcome  # type: ignore[misc]
    assert result.errors is None
    assert result.data == {"greeting": "hello"}


def test_the_executor_binds_its_own_methods_as_the_helpers() -> None:
    # The cycle compat/graphql.py breaks: if graphql-core stops making it, drop the subclass.
    executor = CoreExecutionContext.build(SCHEMA, parse("{ greeting }"))
    assert isinstance(executor, CoreExecutionContext)
    helpers = executor.async_helpers
    assert isinstance(helpers, GraphQLResolveInfoHelpers)
    assert helpers.gather.__self__ is executor  # type: ignore[attr-defined]
    assert helpers.track.__self__ is executor  # type: ignore[attr-defined]


@pytest.mark.usefixtures("no_collection")
async def test_graphql_cores_executor_lives_on_in_a_cycle() -> None:
    await run(Plain)
    HELPERS.clear()  # the resolver's reference to them
    assert EXECUTORS[0]() is not None
    gc.collect()
    assert EXECUTORS[0]() is None


@pytest.mark.usefixtures("no_collection")
async def test_the_acyclic_executor_is_freed_when_answered() -> None:
    await run(Acyclic)
    # The resolvers were handed the replacement helpers, and they did their work.
    assert len(HELPERS) == 1
    assert HELPERS[0].gather.__name__ == "gather"
    HELPERS.clear()
    assert EXECUTORS[0]() is None


def test_resolve_info_carries_the_helpers() -> None:
    assert "async_helpers" in GraphQLResolveInfo._fields
