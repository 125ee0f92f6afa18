"""The GraphQL API rujuk serves: the root types of resolvers/ over the types of schema/.

It sits above both packages so that neither imports the other's parent: resolvers/ uses
schema/'s types, schema/ never uses resolvers/.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql.error import GraphQLError
from strawberry.types import ExecutionContext

from rujuk.compat.graphql import AcyclicExecutionContext
from rujuk.compat.strawberry import install_flat_inputs
from rujuk.resolvers.mutation import Mutation
from rujuk.resolvers.query import Query
from rujuk.resolvers.subscription import Subscription
from rujuk.schema.allow_list import AllowList
from rujuk.schema.guard import RequestGuard
from rujuk.schema.scalars import SCALAR_OVERRIDES


class RujukSchema(strawberry.Schema):
    """The schema; errors are logged once, by RequestGuard, not with strawberry's tracebacks."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def build_schema(*, allow_list: bool = False) -> RujukSchema:
    """The schema rujuk serves; with allow_list, only registered documents run on
    strawberry's path (RUJUK_PERSISTED_QUERIES=only)."""
    extensions: list[Any] = [AllowList, RequestGuard] if allow_list else [RequestGuard]
    schema = RujukSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,
        execution_context_class=AcyclicExecutionContext,
    )
    install_flat_inputs(schema)
    return schema
