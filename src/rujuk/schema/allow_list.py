"""RUJUK_PERSISTED_QUERIES=only on strawberry's own path, which WebSocket operations take:
the HTTP endpoint checks the requests it answers itself before they run."""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from rujuk.compat.strawberry import core_schema
from rujuk.errors import RequestError
from rujuk.schema.guard import checked_document


class AllowList(SchemaExtension):
    """Refuses a document the operator has not registered, before it runs."""

    async def on_operation(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        query = execution.query
        if query and execution.graphql_document is None:
            try:
                await context.persisted.document(context.runtime.pool, query, None)
            except RequestError as error:
                refusal = GraphQLError(str(error), extensions=error.extensions)
                try:
                    document, _ = checked_document(
                        core_schema(execution.schema), query, execution.validation_rules
                    )
                except GraphQLError:
                    pass  # RequestGuard answers the syntax error: nothing runs either way
                else:
                    # As RequestGuard refuses a document: strawberry then skips its parse
                    # and validation and answers these errors (an `error` message over
                    # graphql-transport-ws).
                    execution.graphql_document = document
                    execution.pre_execution_errors = [refusal]
        yield
