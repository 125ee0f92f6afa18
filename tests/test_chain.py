"""ExtensionChain: members' hooks nested in order, unwound in reverse, errors seen by all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from rujuk.schema.chain import ExtensionChain


def build(log: list[str], *, refuse: bool = False) -> strawberry.Schema:
    class Outer(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            log.append("outer in")
            try:
                yield
            finally:
                log.append("outer out")

        def on_execute(self) -> Iterator[None]:
            log.append(f"outer sees {self.execution_context.query}")
            yield

    class Inner(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            log.append("inner in")
            yield
            log.append("inner out")

        def on_validate(self) -> Iterator[None]:
            if refuse:
                raise GraphQLError("refused", extensions={"code": "REFUSED"})
            yield

        def get_results(self) -> dict[str, Any]:
            return {"inner": True}

    @strawberry.type
    class Query:
        @strawberry.field
        def answer(self) -> int:
            return 42

    return strawberry.Schema(query=Query, extensions=[lambda: ExtensionChain(Outer(), Inner())])


async def test_hooks_nest_in_order_and_results_merge() -> None:
    log: list[str] = []
    result = await build(log).execute("{ answer }")
    assert result.data == {"answer": 42}
    assert result.extensions == {"inner": True}
    assert log == ["outer in", "inner in", "outer sees { answer }", "inner out", "outer out"]


async def test_a_member_refusing_stops_the_operation_and_unwinds_the_others() -> None:
    log: list[str] = []
    result = await build(log, refuse=True).execute("{ answer }")
    assert result.data is None
    assert result.errors is not None
    assert result.errors[0].message == "refused"
    assert log[0:2] == ["outer in", "inner in"]
    assert log[-1] == "outer out"


def test_async_hooks_are_refused() -> None:
    class Async(SchemaExtension):
        async def on_execute(self) -> Any:  # type: ignore[override]
            return None

    with pytest.raises(TypeError, match="must be a generator"):
        ExtensionChain(Async())
